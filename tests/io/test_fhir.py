"""FHIR bundles: full and sparse claims validate against the R4B models, nothing is invented."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from pipeline.io.fhir import CODE_SYSTEMS, ICD10CM, NPI, claim_to_fhir_bundle, write_fhir
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


def _f(value: str | float) -> ExtractedField:
    return ExtractedField(value=value, confidence=0.95)


def _full_claim(claim_type: str = "inpatient") -> Claim:
    return Claim(
        claim_id="c-full-1",
        packet=PacketInfo(source="p.pdf", sha256="b" * 64, files=["p.pdf"], page_count=3),
        currency="USD",
        claim_type=_f(claim_type),
        documents=[
            ClaimDocument(
                doc_type="claim_form", confidence=0.9, pages=[PageRef(file="p.pdf", page=1)]
            ),
            ClaimDocument(
                doc_type="invoice",
                confidence=0.9,
                pages=[PageRef(file="p.pdf", page=2)],
                fields={
                    "provider_name": _f("Riverside Clinic"),
                    "provider_npi": _f("1234567893"),
                    "invoice_number": _f("INV-7"),
                },
            ),
        ],
        fields=ClaimFields(
            patient_name=_f("Jane Q Doe"),
            patient_dob=_f("1980-02-29"),
            member_id=_f("MBR123"),
            policy_number=_f("POL-9"),
            service_date_from=_f("2026-03-01"),
            service_date_to=_f("2026-03-04"),
            total_billed=_f(1337.5),
        ),
        diagnoses=[
            Diagnosis(
                code="J18.9",
                description="Pneumonia, unspecified organism",
                valid=True,
                confidence=0.9,
            ),
            Diagnosis(code="Z99.99", valid=False, confidence=0.4),
        ],
        line_items=[
            LineItem(
                document=1,
                service_date="2026-03-01",
                code="99223",
                code_system="CPT",
                description="Initial hospital care",
                quantity=1,
                unit_price=300.0,
                amount=300.0,
                confidence=0.9,
            ),
            LineItem(
                document=1,
                code="J1100",
                code_system="HCPCS",
                quantity=2,
                unit_price=18.75,
                amount=37.5,
                confidence=0.9,
            ),
            LineItem(
                document=1,
                code="0120",
                code_system="REV",
                description="Room and board",
                quantity=4,
                unit_price=250.0,
                amount=1000.0,
                confidence=0.9,
            ),
        ],
    )


def _resources(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["resource"]["resourceType"]: entry["resource"] for entry in bundle["entry"]}


def test_fhir_full_claim_bundle_validates_and_links(tmp_path: Path) -> None:
    bundle: dict[str, Any] = claim_to_fhir_bundle(_full_claim())
    Bundle.model_validate(bundle)
    assert bundle["type"] == "collection"
    res = _resources(bundle)
    urls = {e["resource"]["resourceType"]: e["fullUrl"] for e in bundle["entry"]}
    assert res["Patient"]["birthDate"] == "1980-02-29"
    assert res["Patient"]["name"] == [{"text": "Jane Q Doe"}]
    assert res["Patient"]["identifier"][0]["value"] == "MBR123"
    assert res["Organization"]["identifier"] == [{"system": NPI, "value": "1234567893"}]
    assert res["Coverage"]["subscriberId"] == "MBR123"
    assert res["Coverage"]["identifier"] == [{"value": "POL-9"}]
    assert res["Coverage"]["beneficiary"]["reference"] == urls["Patient"]
    claim = res["Claim"]
    assert claim["type"]["coding"][0]["code"] == "institutional"
    assert claim["use"] == "claim" and claim["status"] == "active"
    assert claim["created"] == "2026-03-04"
    assert claim["provider"]["reference"] == urls["Organization"]
    assert claim["insurance"][0]["coverage"]["reference"] == urls["Coverage"]
    assert claim["diagnosis"][0] == {
        "sequence": 1,
        "diagnosisCodeableConcept": {
            "coding": [
                {"system": ICD10CM, "code": "J18.9", "display": "Pneumonia, unspecified organism"}
            ]
        },
    }
    assert "coding" not in claim["diagnosis"][1]["diagnosisCodeableConcept"]
    systems = [item["productOrService"]["coding"][0]["system"] for item in claim["item"]]
    assert systems == [CODE_SYSTEMS["CPT"], CODE_SYSTEMS["HCPCS"], CODE_SYSTEMS["REV"]]
    assert claim["item"][1]["net"] == {"value": 37.5, "currency": "USD"}
    assert "servicedDate" not in claim["item"][1]
    assert claim["total"] == {"value": 1337.5, "currency": "USD"}
    path = write_fhir(tmp_path, _full_claim())
    assert path == tmp_path / "fhir" / "c-full-1.json"
    assert json.loads(path.read_text()) == bundle


def test_fhir_outpatient_is_professional_and_ids_are_stable() -> None:
    first = claim_to_fhir_bundle(_full_claim("outpatient"))
    second = claim_to_fhir_bundle(_full_claim("outpatient"))
    assert first == second
    assert _resources(first)["Claim"]["type"]["coding"][0]["code"] == "professional"


def test_fhir_sparse_claim_validates_without_invented_values() -> None:
    claim = Claim(
        claim_id="c-empty",
        packet=PacketInfo(source="x.tif", sha256="c" * 64, files=["x.tif"], page_count=1),
        fields=ClaimFields(patient_dob=_f("02/29/1980")),  # not ISO: left out, not guessed
        documents=[
            ClaimDocument(
                doc_type="invoice",
                confidence=0.5,
                pages=[PageRef(file="x.tif", page=1)],
                fields={"provider_npi": _f("12345")},
            )
        ],
        line_items=[LineItem(document=0, confidence=0.2)],
    )
    bundle = claim_to_fhir_bundle(claim)
    Bundle.model_validate(bundle)
    res = _resources(bundle)
    assert set(res) == {"Patient", "Coverage", "Claim"}
    assert set(res["Patient"]) == {"resourceType", "id"}
    text = json.dumps(bundle)
    assert "12345" not in text and "1980" not in text and "USD" not in text
    fhir_claim = res["Claim"]
    assert "created" not in fhir_claim and "_created" in fhir_claim
    assert "extension" in fhir_claim["provider"] and "extension" in fhir_claim["type"]
    assert "total" not in fhir_claim and "diagnosis" not in fhir_claim
    assert set(fhir_claim["item"][0]) == {"sequence", "productOrService"}
