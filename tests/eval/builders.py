"""Hand-built truth packets and run folders for the eval tests."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.truth import Truth


def build_truth(packet: str = "p001.pdf", fraud_label: int = 0) -> Truth:
    """A mixed packet: digital claim form, scanned 2-page invoice, a cover sheet, digital record."""
    f = packet
    return Truth.model_validate(
        {
            "packet": packet,
            "seed": 1,
            "profile": "mixed",
            "claim_type": "outpatient",
            "claim_type_stated": True,
            "pages": [
                {
                    "file": f,
                    "page": 1,
                    "doc_type": "other",
                    "document": 0,
                    "profile": "digital",
                    "separator": True,
                },
                {
                    "file": f,
                    "page": 2,
                    "doc_type": "claim_form",
                    "document": 0,
                    "profile": "digital",
                },
                {"file": f, "page": 3, "doc_type": "invoice", "document": 1, "profile": "scanned"},
                {"file": f, "page": 4, "doc_type": "invoice", "document": 1, "profile": "scanned"},
                {
                    "file": f,
                    "page": 5,
                    "doc_type": "medical_record",
                    "document": 2,
                    "profile": "digital",
                },
            ],
            "documents": [
                {
                    "doc_type": "claim_form",
                    "layout": "a",
                    "pages": [{"file": f, "page": 2}],
                    "fields": {"patient_name": "Mary J. Smith", "member_id": "ABC123456"},
                },
                {
                    "doc_type": "invoice",
                    "layout": "b",
                    "pages": [{"file": f, "page": 3}, {"file": f, "page": 4}],
                    "fields": {"invoice_number": "INV-77", "total": 225.5, "provider_npi": None},
                },
                {
                    "doc_type": "medical_record",
                    "layout": "c",
                    "pages": [{"file": f, "page": 5}],
                    "fields": {"provider_name": "Dr. Lee"},
                },
            ],
            "fields": {
                "patient_name": "Mary J. Smith",
                "patient_dob": "1980-02-03",
                "member_id": "ABC123456",
                "policy_number": "POL-9",
                "service_date_from": "2026-03-02",
                "service_date_to": "2026-03-02",
                "total_billed": 225.5,
            },
            "diagnoses": [
                {"code": "J18.9", "description": "Pneumonia, unspecified organism"},
                {"code": "E11.9", "description": "Type 2 diabetes mellitus without complications"},
            ],
            "line_items": [
                {
                    "document": 1,
                    "service_date": "2026-03-02",
                    "code": "99213",
                    "code_system": "CPT",
                    "description": "Office visit",
                    "quantity": 1,
                    "unit_price": 125.0,
                    "amount": 125.0,
                },
                {
                    "document": 1,
                    "service_date": "2026-03-02",
                    "code": "71046",
                    "code_system": "CPT",
                    "description": "Chest x-ray",
                    "quantity": 1,
                    "unit_price": 50.25,
                    "amount": 50.25,
                },
                {
                    "document": 1,
                    "service_date": "2026-03-02",
                    "code": "71046",
                    "code_system": "CPT",
                    "description": "Chest x-ray",
                    "quantity": 1,
                    "unit_price": 50.25,
                    "amount": 50.25,
                },
            ],
            "completeness": {
                "checklist": "outpatient",
                "complete": False,
                "missing_documents": ["id_document"],
                "missing_fields": [],
            },
            "fraud": {"label": fraud_label},
        }
    )


def write_run(
    root: Path, truths: list[Truth], claims: list[object], quarantine: list[str] = ()
) -> tuple[Path, Path]:
    """Writes OUT/claims, OUT/quarantine and TRUTH folders; claims may be models or raw text."""
    out, truth_dir = root / "out", root / "truth"
    (out / "claims").mkdir(parents=True)
    truth_dir.mkdir()
    for truth in truths:
        (truth_dir / f"{truth.packet}.json").write_text(truth.model_dump_json())
    for index, claim in enumerate(claims):
        text = claim if isinstance(claim, str) else claim.model_dump_json()  # type: ignore[attr-defined]
        (out / "claims" / f"c{index:03d}.json").write_text(text)
    if quarantine:
        (out / "quarantine").mkdir()
        for name in quarantine:
            (out / "quarantine" / f"{name}.json").write_text(
                json.dumps({"packet": name, "reason": "x"})
            )
    return out, truth_dir
