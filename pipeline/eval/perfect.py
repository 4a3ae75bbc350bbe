"""A claim built straight from the truth: the perfect prediction every metric must score 1.0 on.

Useful to test the harness itself and, for the lead, as a reference claim when wiring the
emitter or fitting the calibrator.
"""

from __future__ import annotations

import hashlib

from pipeline.schema import (
    CLAIM_FIELD_NAMES,
    Claim,
    ClaimDocument,
    ClaimFields,
    Completeness,
    Diagnosis,
    ExtractedField,
    Fraud,
    LineItem,
    PacketInfo,
    PageRef,
    Reconciliation,
)
from pipeline.truth import Truth

__all__ = ["claim_from_truth"]


def _field(value: str | float | int | None) -> ExtractedField:
    return (
        ExtractedField.missing() if value is None else ExtractedField(value=value, confidence=1.0)
    )


def claim_from_truth(truth: Truth) -> Claim:
    """The claim a flawless pipeline would write for `truth`, every value at confidence 1.0.

    `packet.sha256` hashes the packet name (the bytes are not known here); pages that no
    truth document lists (barcode cover sheets) go into one `other` document so the
    documents still cover every page once.
    """
    documents: list[ClaimDocument] = []
    listed: set[tuple[str, int]] = set()
    for document in truth.documents:
        pages = [PageRef(file=str(ref["file"]), page=int(ref["page"])) for ref in document.pages]
        listed.update((p.file, p.page) for p in pages)
        documents.append(
            ClaimDocument(
                doc_type=document.doc_type,
                confidence=1.0,
                pages=pages,
                fields={name: _field(value) for name, value in document.fields.items()},
            )
        )
    leftover = [
        PageRef(file=p.file, page=p.page) for p in truth.pages if (p.file, p.page) not in listed
    ]
    if leftover:
        documents.append(ClaimDocument(doc_type="other", confidence=1.0, pages=leftover))

    line_items = [
        LineItem(
            document=item.document,
            service_date=item.service_date,
            code=item.code,
            code_system=item.code_system,
            description=item.description,
            quantity=item.quantity,
            unit_price=item.unit_price,
            amount=item.amount,
            confidence=1.0,
        )
        for item in truth.line_items
    ]
    amounts = [item.amount for item in truth.line_items if item.amount is not None]
    line_sum = round(sum(amounts), 2) if amounts else None
    total = truth.fields.get("total_billed")
    total_billed = float(total) if isinstance(total, int | float) else None
    matches = (
        abs(line_sum - total_billed) < 0.005
        if line_sum is not None and total_billed is not None
        else None
    )
    files = list(dict.fromkeys(p.file for p in truth.pages))
    return Claim(
        claim_id=hashlib.sha256(truth.packet.encode()).hexdigest()[:16],
        packet=PacketInfo(
            source=truth.packet,
            sha256=hashlib.sha256(truth.packet.encode()).hexdigest(),
            files=files,
            page_count=len(truth.pages),
            separator_barcode=truth.separator_barcode,
        ),
        language=truth.language,
        currency=truth.currency,
        claim_type=ExtractedField(value=truth.claim_type, confidence=1.0),
        documents=documents,
        fields=ClaimFields(**{name: _field(truth.fields.get(name)) for name in CLAIM_FIELD_NAMES}),
        diagnoses=[
            Diagnosis(code=d.code, description=d.description, valid=True, confidence=1.0)
            for d in truth.diagnoses
        ],
        line_items=line_items,
        reconciliation=Reconciliation(
            line_item_sum=line_sum, total_billed=total_billed, matches=matches
        ),
        completeness=Completeness(
            checklist=truth.completeness.checklist,
            complete=truth.completeness.complete,
            missing_documents=list(truth.completeness.missing_documents),
            missing_fields=list(truth.completeness.missing_fields),
        ),
        fraud=Fraud(
            score=float(truth.fraud.label),
            band="high" if truth.fraud.label else "low",
            model_version="truth",
        ),
        status="ready" if truth.completeness.complete else "incomplete",
    )
