from __future__ import annotations

import json

import pytest

from pipeline.assemble import ReviewThresholds
from pipeline.checks.completeness import load_checklists
from pipeline.errors import ReviewError
from pipeline.fraud.history import InMemoryClaimHistory
from pipeline.review.claims import (
    Rechecker,
    ReviewAction,
    list_versions,
    load_claim,
    review_claim,
    versions_dir,
)
from pipeline.review.store import open_store
from pipeline.review.view import claim_view
from tests.review.conftest import FLAGGED


def _checker() -> Rechecker:
    return Rechecker(thresholds=ReviewThresholds(), checklists=load_checklists())


def test_claims_edit_writes_version_and_reruns_reconciliation(review_out):
    out, _ = review_out
    original = (out / "claims" / f"{FLAGGED}.json").read_bytes()
    store = open_store(out)
    result = review_claim(
        out,
        FLAGGED,
        [ReviewAction(kind="edit", path="documents[0].fields.total", value="$150.00")],
        "ann",
        _checker(),
        store,
    )
    assert result.version == 2
    assert list_versions(out, FLAGGED) == [1, 2]
    assert (versions_dir(out, FLAGGED) / "v1.json").read_bytes() == original
    latest = load_claim(out, FLAGGED)
    assert latest.documents[0].fields["total"].value == 150.0
    assert latest.documents[0].fields["total"].confidence == 1.0
    assert latest.documents[0].fields["total"].source is not None
    assert latest.fields.total_billed.value == 150.0
    assert latest.reconciliation.matches is True
    assert "TOTAL_MISMATCH" not in {f.code for f in latest.flags}
    # member_id is still doubtful, so an adjuster must still look.
    assert latest.status == "needs_review"
    sidecar = json.loads((versions_dir(out, FLAGGED) / "v2.corrections.json").read_text())
    assert sidecar[0]["old"] == 400.0 and sidecar[0]["new"] == 150.0 and sidecar[0]["who"] == "ann"
    [stored] = store.corrections(FLAGGED)
    assert (stored.path, stored.old, stored.new, stored.version) == (
        "documents[0].fields.total",
        400.0,
        150.0,
        2,
    )


def test_claims_confirm_last_doubt_makes_claim_ready(review_out):
    out, _ = review_out
    store = open_store(out)
    review_claim(
        out,
        FLAGGED,
        [ReviewAction(kind="edit", path="documents[0].fields.total", value="150")],
        "ann",
        _checker(),
        store,
    )
    result = review_claim(
        out,
        FLAGGED,
        [ReviewAction(kind="confirm", path="fields.member_id")],
        "ann",
        _checker(),
        store,
    )
    assert result.version == 3
    assert result.claim.fields.member_id.value == "ABC12345"
    assert result.claim.fields.member_id.confidence == 1.0
    assert result.claim.status == "ready"


def test_claims_removing_required_field_makes_claim_incomplete(review_out):
    out, _ = review_out
    result = review_claim(
        out,
        FLAGGED,
        [ReviewAction(kind="edit", path="fields.member_id", value="")],
        "ann",
        _checker(),
        open_store(out),
    )
    assert result.claim.completeness.missing_fields == ["member_id"]
    assert result.claim.status == "incomplete"
    assert "member" in (result.claim.completeness.notice or "").lower()


def test_claims_approve_and_send_back_record_status(review_out):
    out, _ = review_out
    store = open_store(out)
    approved = review_claim(out, FLAGGED, [ReviewAction(kind="approve")], "ann", _checker(), store)
    assert approved.claim.status == "ready"
    sent = review_claim(
        out,
        FLAGGED,
        [ReviewAction(kind="send_back", notice="Please send the ID card.")],
        "ann",
        _checker(),
        store,
    )
    assert sent.claim.status == "incomplete"
    assert sent.claim.completeness.notice == "Please send the ID card."
    actions = [(c.version, c.action, c.new) for c in store.corrections(FLAGGED)]
    assert (2, "status", "ready") in actions and (3, "status", "incomplete") in actions


def test_claims_doc_type_change_reruns_completeness(review_out):
    out, _ = review_out
    result = review_claim(
        out,
        FLAGGED,
        [ReviewAction(kind="doc_type", path="documents[2].doc_type", value="other")],
        "ann",
        _checker(),
        open_store(out),
    )
    assert result.claim.documents[2].doc_type == "other"
    assert result.claim.completeness.missing_documents == ["id_document"]
    assert result.claim.status == "incomplete"


def test_claims_diagnosis_edit_checks_the_code(review_out):
    out, _ = review_out
    result = review_claim(
        out,
        FLAGGED,
        [ReviewAction(kind="edit", path="diagnoses[0]", value="s52.501a")],
        "ann",
        _checker(),
        open_store(out),
    )
    assert result.claim.diagnoses[0].code == "S52.501A" and result.claim.diagnoses[0].valid
    with pytest.raises(ReviewError, match="not an ICD-10-CM code"):
        review_claim(
            out,
            FLAGGED,
            [ReviewAction(kind="edit", path="diagnoses[0]", value="hello")],
            "ann",
            _checker(),
            open_store(out),
        )


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("fields.nope", "x", "unknown claim field 'nope'"),
        ("packet.source", "x", "editable paths"),
        ("fields.total_billed", "lots", "not an amount"),
        ("fields.patient_dob", "someday", "not a date"),
        ("line_items[9].amount", "1", "line_items\\[9\\] does not exist"),
        ("documents[0].doc_type", "memo", "valid: claim_form"),
    ],
)
def test_claims_bad_edit_names_the_problem_and_writes_nothing(review_out, path, value, message):
    out, _ = review_out
    kind = "doc_type" if path.endswith("doc_type") else "edit"
    with pytest.raises(ReviewError, match=message):
        review_claim(
            out,
            FLAGGED,
            [ReviewAction(kind=kind, path=path, value=value)],
            "ann",
            _checker(),
            open_store(out),
        )
    assert list_versions(out, FLAGGED) == []


def test_claims_fraud_is_rescored_when_a_model_is_given(review_out):
    from pipeline.config import load_settings
    from pipeline.errors import ModelNotFoundError
    from pipeline.fraud.registry import load_model

    try:
        model = load_model(models_dir=load_settings().models_dir / "fraud")
    except ModelNotFoundError:
        pytest.skip("no fraud model installed in models/fraud")
    out, _ = review_out
    checker = Rechecker(ReviewThresholds(), load_checklists(), model, InMemoryClaimHistory())
    result = review_claim(
        out,
        FLAGGED,
        [ReviewAction(kind="confirm", path="fields.member_id")],
        "ann",
        checker,
        open_store(out),
    )
    assert result.claim.fraud.model_version == model.version
    assert result.claim.fraud.score is not None


def test_view_marks_low_confidence_rows_and_boxes(review_out):
    out, _ = review_out
    view = claim_view(load_claim(out, FLAGGED), ReviewThresholds())
    rows = {r.path: r for s in view.sections for r in s.rows}
    assert rows["fields.member_id"].low and not rows["fields.patient_name"].low
    [page] = view.pages
    low_boxes = {b.anchor for b in page.boxes if b.low}
    assert rows["fields.member_id"].anchor in low_boxes
    box = next(b for b in page.boxes if b.anchor == rows["fields.member_id"].anchor)
    assert (box.left, box.top, box.width) == (10.0, 20.0, 40.0)
