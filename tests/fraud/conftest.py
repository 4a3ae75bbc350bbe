"""Hand-built claims for the fraud tests: a clean outpatient claim and ways to spoil it."""

from __future__ import annotations

import random
from pathlib import Path

from pipeline.schema import (
    Claim,
    ClaimDocument,
    ClaimFields,
    Diagnosis,
    ExtractedField,
    LineItem,
    PacketInfo,
    PageRef,
)


def f(value: str | float | int | None) -> ExtractedField:
    return ExtractedField(value=value, confidence=0.95)


def make_claim(
    claim_id: str = "c1",
    *,
    invoice_number: str = "INV-1001",
    npi: str = "1234567893",
    invoice_date: str = "2026-03-05",
    service_date: str = "2026-03-02",
    effective: str = "2025-01-01",
    unit_price: float = 135.0,
    quantity: float = 1,
    total: float | None = None,
    invoice_name: str = "Mary J. Smith",
    invoice_dob: str = "1980-02-03",
    sex: str | None = None,
    dob: str = "1980-02-03",
    diagnoses: tuple[str, ...] = ("J18.9",),
    member_id: str = "ABC123456",
    read_confidence: float | None = None,
) -> Claim:
    """A consistent outpatient claim: claim form, invoice with a 99213 visit and a CBC.

    Values carry scan-like confidences (0.9-0.95) unless `read_confidence` sets them all, e.g.
    0.99 for a claim read from text layers."""
    lines = [
        LineItem(
            document=1,
            service_date=service_date,
            code="99213",
            code_system="CPT",
            quantity=quantity,
            unit_price=unit_price,
            amount=round(unit_price * quantity, 2),
            confidence=0.9,
        ),
        LineItem(
            document=1,
            service_date=service_date,
            code="85025",
            code_system="CPT",
            quantity=1,
            unit_price=25.0,
            amount=25.0,
            confidence=0.9,
        ),
    ]
    line_sum = round(sum(li.amount or 0 for li in lines), 2)
    printed = line_sum if total is None else total
    form_fields = {
        "patient_name": f("Mary J. Smith"),
        "patient_dob": f(dob),
        "member_id": f(member_id),
        "policy_effective_date": f(effective),
    }
    if sex is not None:
        form_fields["patient_sex"] = f(sex)
    claim = Claim(
        claim_id=claim_id,
        packet=PacketInfo(
            source=f"{claim_id}.pdf",
            sha256="sha-" + claim_id,
            files=[f"{claim_id}.pdf"],
            page_count=2,
        ),
        documents=[
            ClaimDocument(
                doc_type="claim_form",
                confidence=0.99,
                pages=[PageRef(file=f"{claim_id}.pdf", page=1)],
                fields=form_fields,
            ),
            ClaimDocument(
                doc_type="invoice",
                confidence=0.99,
                pages=[PageRef(file=f"{claim_id}.pdf", page=2)],
                fields={
                    "invoice_number": f(invoice_number),
                    "invoice_date": f(invoice_date),
                    "provider_npi": f(npi),
                    "provider_name": f("Lakeside Family Medicine"),
                    "total": f(printed),
                    "patient_name": f(invoice_name),
                    "patient_dob": f(invoice_dob),
                },
            ),
        ],
        fields=ClaimFields(
            patient_name=f("Mary J. Smith"),
            patient_dob=f(dob),
            member_id=f(member_id),
            service_date_from=f(service_date),
            service_date_to=f(service_date),
            total_billed=f(printed),
        ),
        diagnoses=[Diagnosis(code=c, valid=True, confidence=0.9) for c in diagnoses],
        line_items=lines,
    )
    if read_confidence is not None:
        values = [*claim.line_items, *claim.diagnoses]
        values += [field for doc in claim.documents for field in doc.fields.values()]
        values += [v for v in vars(claim.fields).values() if isinstance(v, ExtractedField)]
        for value in values:
            value.confidence = read_confidence
    return claim


def labelled_run(out: Path, n: int = 80, seed: int = 0, shuffle_labels: bool = False) -> Path:
    """A run output with `n` claims, every third one priced 6x; returns its labels CSV."""
    rng = random.Random(seed)
    (out / "claims").mkdir(parents=True)
    rows = ["claim_id,label"]
    for i in range(n):
        fraud = i % 3 == 0
        price = 135.0 * (rng.uniform(4, 8) if fraud else rng.uniform(0.8, 1.2))
        claim = make_claim(
            f"c{seed}-{i:03d}",
            invoice_number=f"INV-{seed}-{i}",
            unit_price=price,
            npi=f"{1000000000 + i}",
        )
        (out / "claims" / f"{claim.claim_id}.json").write_text(claim.model_dump_json())
        label = rng.randint(0, 1) if shuffle_labels else int(fraud)
        rows.append(f"{claim.claim_id},{label}")
    labels = out / "labels.csv"
    labels.write_text("\n".join(rows) + "\n")
    return labels
