from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from pipeline.schema import (
    Claim,
    ClaimDocument,
    Diagnosis,
    ExtractedField,
    LineItem,
    PacketInfo,
    Source,
    claim_json_schema,
)


def _claim() -> Claim:
    source = Source(file="packet.pdf", page=2, bbox=(0.1, 0.2, 0.3, 0.25))
    return Claim(
        claim_id="clm-1",
        packet=PacketInfo(source="p1", sha256="ab" * 32, files=["packet.pdf"], page_count=2),
        claim_type=ExtractedField(value="outpatient", confidence=0.97, source=source),
        documents=[
            ClaimDocument(
                doc_type="invoice",
                confidence=0.99,
                pages=[{"file": "packet.pdf", "page": 2}],
                fields={"total": ExtractedField(value=125.0, confidence=0.93, source=source)},
            )
        ],
        diagnoses=[
            Diagnosis(
                code="J18.9",
                description="Pneumonia, unspecified organism",
                valid=True,
                confidence=0.96,
                source=source,
            )
        ],
        line_items=[
            LineItem(
                document=0,
                service_date="2026-03-02",
                code="99213",
                code_system="CPT",
                description="Office visit",
                quantity=1,
                unit_price=125.0,
                amount=125.0,
                confidence=0.93,
                source=source,
            )
        ],
    )


def test_schema_round_trip_keeps_every_value():
    claim = _claim()
    again = Claim.model_validate_json(claim.model_dump_json())
    assert again == claim
    assert again.documents[0].fields["total"].value == 125.0
    assert isinstance(again.fields.patient_name.value, type(None))


def test_schema_contract_names_present():
    schema = claim_json_schema()
    props = schema["properties"]
    for name in (
        "schema_version",
        "claim_id",
        "packet",
        "language",
        "currency",
        "claim_type",
        "documents",
        "fields",
        "diagnoses",
        "line_items",
        "reconciliation",
        "completeness",
        "fraud",
        "flags",
        "status",
    ):
        assert name in props, name
    json.dumps(schema)


def test_schema_rejects_bad_values():
    with pytest.raises(ValidationError):
        Diagnosis(code="j18.9", valid=True, confidence=0.5)
    with pytest.raises(ValidationError):
        Source(file="a", page=0, bbox=(0, 0, 1, 1))
    with pytest.raises(ValidationError):
        Source(file="a", page=1, bbox=(0.5, 0, 0.2, 1))
    with pytest.raises(ValidationError):
        ExtractedField(value="x", confidence=1.5)
    with pytest.raises(ValidationError):
        LineItem(document=0, service_date="03/02/2026", confidence=0.5)
    with pytest.raises(ValidationError):
        Claim.model_validate({**_claim().model_dump(), "status": "done"})


def test_schema_unknown_keys_are_refused():
    data = _claim().model_dump()
    data["surprise"] = 1
    with pytest.raises(ValidationError):
        Claim.model_validate(data)
