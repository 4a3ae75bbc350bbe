"""Claim assembly: from classified documents and their extractions to one claim file.

Claim-level values are chosen from the documents that are authoritative for them (the
claim form before the ID card before the invoice), totals and date spans are computed,
and every disagreement or doubt becomes a flag, so `ready` means nothing needs a human.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.schema import (
    ClaimDocument,
    ClaimFields,
    Completeness,
    Diagnosis,
    ExtractedField,
    Flag,
    LineItem,
    Reconciliation,
    Source,
)

__all__ = [
    "ReviewThresholds",
    "FIELD_SOURCES",
    "choose_claim_fields",
    "reconcile",
    "identity_flags",
    "confidence_flags",
    "decide_status",
    "completeness_flags",
    "round_money",
]


class ReviewThresholds(BaseModel):
    """Below these confidences a value goes to an adjuster (config: `[review]`)."""

    model_config = ConfigDict(extra="forbid")

    field_confidence: float = Field(default=0.9, ge=0.0, le=1.0)
    diagnosis_confidence: float = Field(default=0.9, ge=0.0, le=1.0)
    line_item_confidence: float = Field(default=0.85, ge=0.0, le=1.0)
    page_confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    claim_type_confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    money_tolerance: float = Field(default=0.01, ge=0.0, description="currency units")


FIELD_SOURCES: dict[str, tuple[str, ...]] = {
    "patient_name": (
        "claim_form",
        "id_document",
        "invoice",
        "medical_record",
        "diagnosis_certificate",
        "accident_report",
    ),
    "patient_dob": (
        "claim_form",
        "id_document",
        "invoice",
        "medical_record",
        "diagnosis_certificate",
    ),
    "member_id": ("claim_form", "id_document", "invoice"),
    "policy_number": ("claim_form", "id_document"),
}
"""Which documents may give a claim field, most authoritative first."""

_DATE_SPAN_FIELDS: dict[str, tuple[str, ...]] = {
    "claim_form": ("service_date_from", "service_date_to"),
    "medical_record": ("admission_date", "discharge_date", "visit_date"),
    "invoice": ("service_date_from", "service_date_to"),
}


def round_money(value: float | Decimal) -> float:
    return float(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _pick(candidates: list[ExtractedField], threshold: float, name: bool = False) -> ExtractedField:
    """The most authoritative value that is sure enough, else the surest one.

    `name`: a person's name. A surer document that prints the same name in fewer words
    ("Daniel Ramirez" on a bill, "DANIEL J RAMIREZ" on the faxed claim form) confirms the
    authoritative one, which is kept whole at the surer confidence.
    """
    found = [c for c in candidates if c.value is not None]
    if not found:
        return ExtractedField.missing()
    for candidate in found:
        if candidate.confidence >= threshold:
            if name and candidate is not found[0]:
                first = found[0]
                if _name_key(str(first.value)) == _name_key(str(candidate.value)) and len(
                    str(first.value).split()
                ) > len(str(candidate.value).split()):
                    return first.model_copy(update={"confidence": candidate.confidence})
            return candidate
    return max(found, key=lambda c: c.confidence)


def choose_claim_fields(
    documents: Sequence[ClaimDocument],
    line_items: Sequence[LineItem],
    thresholds: ReviewThresholds,
) -> ClaimFields:
    fields = ClaimFields()
    for name, doc_types in FIELD_SOURCES.items():
        candidates = [
            doc.fields[name]
            for doc_type in doc_types
            for doc in documents
            if doc.doc_type == doc_type and name in doc.fields
        ]
        setattr(
            fields, name, _pick(candidates, thresholds.field_confidence, name == "patient_name")
        )

    totals = [
        doc.fields["total"]
        for doc in documents
        if doc.doc_type == "invoice" and "total" in doc.fields
    ]
    known = [t for t in totals if isinstance(t.value, int | float)]
    if known and len(known) == len(totals):
        total = round_money(sum(Decimal(str(t.value)) for t in known))
        sources = [t.source for t in known if t.source is not None]
        fields.total_billed = ExtractedField(
            value=total,
            confidence=min(t.confidence for t in known),
            source=sources[0] if sources else None,
        )

    dated: list[tuple[str, float, Source | None]] = []
    for item in line_items:
        if item.service_date:
            dated.append((item.service_date, item.confidence, item.source))
    for doc in documents:
        for name in _DATE_SPAN_FIELDS.get(doc.doc_type, ()):
            value = doc.fields.get(name)
            if value is not None and isinstance(value.value, str):
                dated.append((value.value, value.confidence, value.source))
    if dated:
        first = min(dated, key=lambda d: d[0])
        last = max(dated, key=lambda d: d[0])
        fields.service_date_from = ExtractedField(
            value=first[0], confidence=first[1], source=first[2]
        )
        fields.service_date_to = ExtractedField(value=last[0], confidence=last[1], source=last[2])
    return fields


def reconcile(
    documents: Sequence[ClaimDocument],
    line_items: Sequence[LineItem],
    fields: ClaimFields,
    thresholds: ReviewThresholds,
) -> tuple[Reconciliation, list[Flag]]:
    """Line items against printed totals, per invoice and for the claim."""
    flags: list[Flag] = []
    amounts = [item.amount for item in line_items if item.amount is not None]
    line_sum = round_money(sum(Decimal(str(a)) for a in amounts)) if amounts else None
    total = (
        fields.total_billed.value if isinstance(fields.total_billed.value, int | float) else None
    )
    matches = None
    if line_sum is not None and total is not None:
        matches = abs(line_sum - float(total)) <= thresholds.money_tolerance
    for index, doc in enumerate(documents):
        if doc.doc_type != "invoice":
            continue
        doc_total = doc.fields.get("total")
        items = [i.amount for i in line_items if i.document == index and i.amount is not None]
        if doc_total is None or not isinstance(doc_total.value, int | float) or not items:
            continue
        doc_sum = round_money(sum(Decimal(str(a)) for a in items))
        if abs(doc_sum - float(doc_total.value)) > thresholds.money_tolerance:
            flags.append(
                Flag(
                    code="TOTAL_MISMATCH",
                    field=f"documents[{index}].fields.total",
                    severity="review",
                    message=(
                        f"line items of invoice {index} add up to {doc_sum:.2f}, "
                        f"the printed total is {float(doc_total.value):.2f}"
                    ),
                )
            )
    return Reconciliation(line_item_sum=line_sum, total_billed=total, matches=matches), flags


def _name_key(name: str) -> frozenset[str]:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    tokens = re.findall(r"[a-z]+", folded)
    return frozenset(t for t in tokens if len(t) > 1)


def identity_flags(documents: Sequence[ClaimDocument]) -> list[Flag]:
    """Patient name and date of birth must agree between documents."""
    flags: list[Flag] = []
    names = [
        (i, doc.fields["patient_name"])
        for i, doc in enumerate(documents)
        if isinstance(doc.fields.get("patient_name", ExtractedField()).value, str)
    ]
    keys = {i: _name_key(str(f.value)) for i, f in names}
    for (i, _), (j, _) in zip(names, names[1:], strict=False):
        a, b = keys[i], keys[j]
        if a and b and not (a <= b or b <= a) and len(a & b) < 2:
            flags.append(
                Flag(
                    code="IDENTITY_MISMATCH",
                    field="fields.patient_name",
                    severity="review",
                    message=f"patient name on document {j} differs from document {i}",
                )
            )
            break
    dobs = {
        i: str(doc.fields["patient_dob"].value)
        for i, doc in enumerate(documents)
        if doc.fields.get("patient_dob") is not None and doc.fields["patient_dob"].value is not None
    }
    if len(set(dobs.values())) > 1:
        flags.append(
            Flag(
                code="IDENTITY_MISMATCH",
                field="fields.patient_dob",
                severity="review",
                message=f"date of birth differs between documents {sorted(dobs)}",
            )
        )
    return flags


def confidence_flags(
    fields: ClaimFields,
    documents: Sequence[ClaimDocument],
    diagnoses: Sequence[Diagnosis],
    line_items: Sequence[LineItem],
    claim_type: ExtractedField,
    thresholds: ReviewThresholds,
) -> list[Flag]:
    flags: list[Flag] = []
    for name, value in fields:
        if value.value is not None and value.confidence < thresholds.field_confidence:
            flags.append(_low(f"fields.{name}", value.confidence))
    for index, doc in enumerate(documents):
        if doc.confidence < thresholds.page_confidence:
            flags.append(
                Flag(
                    code="UNCERTAIN_DOCUMENT_TYPE",
                    field=f"documents[{index}].doc_type",
                    severity="review",
                    message=f"document {index} classified as {doc.doc_type} with confidence {doc.confidence:.2f}",
                )
            )
    for index, diagnosis in enumerate(diagnoses):
        if not diagnosis.valid:
            flags.append(
                Flag(
                    code="INVALID_ICD10",
                    field=f"diagnoses[{index}].code",
                    severity="review",
                    message=f"diagnosis {index} is not a billable ICD-10-CM code",
                )
            )
        elif diagnosis.confidence < thresholds.diagnosis_confidence:
            flags.append(_low(f"diagnoses[{index}]", diagnosis.confidence))
    for index, item in enumerate(line_items):
        if item.confidence < thresholds.line_item_confidence:
            flags.append(_low(f"line_items[{index}]", item.confidence))
    if claim_type.value is not None and claim_type.confidence < thresholds.claim_type_confidence:
        flags.append(_low("claim_type", claim_type.confidence))
    return flags


def _low(field: str, confidence: float) -> Flag:
    return Flag(
        code="LOW_CONFIDENCE",
        field=field,
        severity="review",
        message=f"{field} extracted with confidence {confidence:.2f}; please check it",
    )


def completeness_flags(completeness: Completeness) -> list[Flag]:
    """One review flag per missing field and per missing document."""
    flags = [
        Flag(
            code="MISSING_FIELD",
            field=f"fields.{name}" if name != "diagnoses" else "diagnoses",
            severity="review",
            message=f"required {name} was not found in the packet",
        )
        for name in completeness.missing_fields
    ]
    flags.extend(
        Flag(
            code="MISSING_DOCUMENT",
            field="documents",
            severity="review",
            message=f"required document {doc_type} is not in the packet",
        )
        for doc_type in completeness.missing_documents
    )
    return flags


def decide_status(completeness: Completeness, flags: Sequence[Flag]) -> str:
    if not completeness.complete:
        return "incomplete"
    if any(flag.severity in ("review", "error") for flag in flags):
        return "needs_review"
    return "ready"
