"""A hand-built OUT for the review app: two claims, a one-page PNG packet, three users."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from argon2 import PasswordHasher
from PIL import Image

from pipeline.io.emit import atomic_write_json
from pipeline.review.store import REVIEW_DB_NAME, ReviewStore
from pipeline.schema import (
    Claim,
    ClaimDocument,
    ClaimFields,
    Completeness,
    Diagnosis,
    ExtractedField,
    Flag,
    LineItem,
    PacketInfo,
    PageRef,
    Reconciliation,
    Source,
)

PASSWORDS = {"ann": "adjuster-pw", "ned": "analyst-pw", "ada": "admin-pw"}
FLAGGED = "clm-flagged0001"
READY = "clm-ready000002"


def _src(y: float) -> Source:
    return Source(file="scan.png", page=1, bbox=(0.1, y, 0.5, y + 0.04))


def _field(value: object, confidence: float = 0.98, y: float = 0.1) -> ExtractedField:
    return ExtractedField(value=value, confidence=confidence, source=_src(y))  # type: ignore[arg-type]


def flagged_claim() -> Claim:
    """An outpatient claim whose invoice total was misread (400.00 for 150.00), with low confidence."""
    documents = [
        ClaimDocument(
            doc_type=t,
            confidence=0.97,
            pages=[PageRef(file="scan.png", page=1)] if i == 0 else [],
            fields={"total": _field(400.0, 0.55, 0.6)} if t == "invoice" else {},
        )
        for i, t in enumerate(("invoice", "claim_form", "id_document", "medical_record"))
    ]
    fields = ClaimFields(
        patient_name=_field("Jane Q. Doe", 0.99, 0.1),
        patient_dob=_field("1980-02-03", 0.99, 0.15),
        member_id=_field("ABC12345", 0.6, 0.2),
        policy_number=_field("POL-778", 0.99, 0.25),
        service_date_from=_field("2026-03-02", 0.99, 0.3),
        service_date_to=_field("2026-03-02", 0.99, 0.3),
        total_billed=_field(400.0, 0.55, 0.6),
    )
    return Claim(
        claim_id=FLAGGED,
        packet=PacketInfo(source="pkt-a", sha256="a" * 64, files=["scan.png"], page_count=1),
        claim_type=ExtractedField(value="outpatient", confidence=0.95),
        documents=documents,
        fields=fields,
        diagnoses=[
            Diagnosis(
                code="J18.9",
                description="Pneumonia, unspecified organism",
                valid=True,
                confidence=0.97,
                source=_src(0.4),
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
                unit_price=150.0,
                amount=150.0,
                confidence=0.95,
                source=_src(0.5),
            )
        ],
        reconciliation=Reconciliation(line_item_sum=150.0, total_billed=400.0, matches=False),
        completeness=Completeness(checklist="outpatient", complete=True),
        flags=[
            Flag(code="TOTAL_MISMATCH", field="documents[0].fields.total", message="mismatch"),
            Flag(code="LOW_CONFIDENCE", field="fields.member_id", message="low"),
            Flag(code="LOW_CONFIDENCE", field="fields.total_billed", message="low"),
        ],
        status="needs_review",
        processed_at="2026-01-05T09:00:00+00:00",
    )


def ready_claim() -> Claim:
    claim = flagged_claim()
    return claim.model_copy(
        update={
            "claim_id": READY,
            "packet": PacketInfo(source="pkt-b", sha256="b" * 64, files=["scan.png"], page_count=1),
            "status": "ready",
            "flags": [],
        }
    )


@pytest.fixture()
def review_out(tmp_path: Path) -> tuple[Path, Path]:
    """(OUT, INBOX) with two claim files, the flagged packet's page image and three users."""
    out, inbox = tmp_path / "out", tmp_path / "inbox"
    for claim in (flagged_claim(), ready_claim()):
        atomic_write_json(out / "claims" / f"{claim.claim_id}.json", claim)
    page = np.full((220, 170, 3), 255, dtype=np.uint8)
    page[20:30, 20:80] = 0
    for name in ("pkt-a", "pkt-b"):
        (inbox / name).mkdir(parents=True)
        Image.fromarray(page).save(inbox / name / "scan.png", dpi=(100, 100))
    # Cheap hashes keep the tests fast; verifying reads the parameters from the hash.
    store = ReviewStore(
        out / REVIEW_DB_NAME, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    store.add_user("ann", "adjuster", PASSWORDS["ann"])
    store.add_user("ned", "analyst", PASSWORDS["ned"])
    store.add_user("ada", "admin", PASSWORDS["ada"])
    return out, inbox


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None, "page has no CSRF token"
    return match.group(1)
