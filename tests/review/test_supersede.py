"""Re-processing a reviewed packet keeps the adjuster's work (pipeline/review/supersede.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pipeline.assemble import ReviewThresholds
from pipeline.checks.completeness import load_checklists
from pipeline.io.emit import atomic_write_json
from pipeline.review.claims import (
    Rechecker,
    ReviewAction,
    list_versions,
    load_claim,
    review_claim,
    versions_dir,
)
from pipeline.review.queue import queue_items
from pipeline.review.store import open_store
from pipeline.review.supersede import (
    review_history,
    reviewed_claim,
    save_supersession,
    supersede,
    superseded_flag,
)
from pipeline.schema import Claim, ExtractedField, PacketInfo
from tests.review.conftest import FLAGGED, flagged_claim

NEW = "clm-newbytes0003"


def _checker() -> Rechecker:
    return Rechecker(thresholds=ReviewThresholds(), checklists=load_checklists())


def _new_version(member_id: str = "ABC12345") -> Claim:
    """The pipeline's reading of the packet's new bytes: same invoice, member id as given."""
    claim = flagged_claim().model_copy(deep=True)
    claim.claim_id = NEW
    claim.packet = PacketInfo(source="pkt-a", sha256="c" * 64, files=["scan.png"], page_count=1)
    claim.fields.member_id = ExtractedField(
        value=member_id, confidence=0.6, source=claim.fields.member_id.source
    )
    return claim


def _review(out, store) -> None:
    """ann corrects the misread invoice total, corrects the member id, approves; a note."""
    review_claim(
        out,
        FLAGGED,
        [
            ReviewAction(kind="edit", path="documents[0].fields.total", value="150.00"),
            ReviewAction(kind="edit", path="fields.member_id", value="ABC12346"),
        ],
        "ann",
        _checker(),
        store,
    )
    review_claim(out, FLAGGED, [ReviewAction(kind="approve")], "ann", _checker(), store)
    store.add_note(FLAGGED, "Called the clinic: the total is 150.", "ann")


def test_supersede_carries_corrections_where_the_packet_reads_the_same(review_out):
    out, _ = review_out
    store = open_store(out)
    _review(out, store)
    history = review_history(out, FLAGGED)
    assert history is not None and history.version == 3
    assert history.decision is not None and history.decision.new == "ready"

    # The new bytes read the same total (still misread as 400) but another member id.
    machine = _new_version(member_id="ABC99999")
    result = supersede(machine, history, _checker(), at="2026-04-01T10:00:00+00:00")
    claim = result.claim

    assert claim.documents[0].fields["total"].value == 150.0
    assert claim.documents[0].fields["total"].confidence == 1.0
    assert claim.fields.total_billed.value == 150.0 and claim.reconciliation.matches
    assert claim.fields.member_id.value == "ABC99999", "a changed reading is not overwritten"
    assert result.not_carried == ["fields.member_id"]
    [carried] = result.carried
    assert (carried.claim_id, carried.version, carried.action, carried.who) == (
        NEW,
        2,
        "carried",
        "ann",
    )
    assert (carried.path, carried.old, carried.new) == ("documents[0].fields.total", 400.0, 150.0)
    codes = {f.code: f for f in claim.flags}
    assert codes["REVIEW_CARRIED"].field == "documents[0].fields.total"
    assert codes["REVIEW_NOT_CARRIED"].field == "fields.member_id"
    assert codes["SUPERSEDES"].severity == "review"
    assert (
        FLAGGED in codes["SUPERSEDES"].message and "approved by ann" in codes["SUPERSEDES"].message
    )
    assert claim.status == "needs_review", "the approval is not carried: the evidence changed"
    assert machine.documents[0].fields["total"].value == 400.0, "the input is left as it was"

    save_supersession(out, machine, result, store)
    assert list_versions(out, NEW) == [1, 2]
    v1 = Claim.model_validate_json((versions_dir(out, NEW) / "v1.json").read_text())
    assert v1 == machine
    sidecar = json.loads((versions_dir(out, NEW) / "v2.corrections.json").read_text())
    assert [c["action"] for c in sidecar] == ["carried"]
    assert [(c.action, c.path) for c in store.corrections(NEW)] == [
        ("carried", "documents[0].fields.total")
    ]
    [note] = store.notes(NEW)
    assert note.who == "ann" and FLAGGED in note.text and "total is 150" in note.text
    audit = {(a.action, a.claim_id): a for a in store.audit_log()}
    assert audit[("superseded", FLAGGED)].detail == f"by {NEW}"
    detail = audit[("supersedes", NEW)].detail or ""
    assert "carried: documents[0].fields.total" in detail
    assert "check again: fields.member_id" in detail
    assert "150" not in detail and "ABC" not in detail, "the audit log holds no values"
    # The old claim's review is kept as it was.
    assert list_versions(out, FLAGGED) == [1, 2, 3]
    assert load_claim(out, FLAGGED).status == "ready"


def test_supersede_same_reading_carries_everything_but_the_decision(review_out):
    out, _ = review_out
    store = open_store(out)
    _review(out, store)
    history = review_history(out, FLAGGED)
    assert history is not None
    result = supersede(_new_version(), history, _checker())
    assert sorted(c.path for c in result.carried) == [
        "documents[0].fields.total",
        "fields.member_id",
    ]
    assert result.not_carried == []
    assert result.claim.fields.member_id.value == "ABC12346"
    assert result.claim.status == "needs_review"

    # A chain: the superseding claim is written, then its packet changes once more.
    atomic_write_json(out / "claims" / f"{NEW}.json", result.claim)
    save_supersession(out, _new_version(), result, store)
    second = review_history(out, NEW)
    assert second is not None and second.decision is None
    third = _new_version().model_copy(update={"claim_id": "clm-third000004"})
    again = supersede(third, second, _checker())
    assert sorted(c.path for c in again.carried) == [
        "documents[0].fields.total",
        "fields.member_id",
    ]
    assert "reviewed up to version 2" in next(
        f.message for f in again.claim.flags if f.code == "SUPERSEDES"
    )


def test_supersede_path_gone_is_flagged_not_guessed(review_out):
    out, _ = review_out
    store = open_store(out)
    _review(out, store)
    history = review_history(out, FLAGGED)
    assert history is not None
    shorter = _new_version()
    shorter.documents = shorter.documents[1:]  # the invoice is no longer in the packet
    shorter.line_items = []
    result = supersede(shorter, history, _checker())
    assert "documents[0].fields.total" in result.not_carried
    assert result.claim.status in ("needs_review", "incomplete")


def test_reviewed_claim_same_bytes_keeps_and_restores_the_reviewed_file(review_out):
    out, _ = review_out
    assert reviewed_claim(out, FLAGGED) is None, "never reviewed: nothing to keep"
    store = open_store(out)
    _review(out, store)
    path = out / "claims" / f"{FLAGGED}.json"
    reviewed = path.read_bytes()
    kept = reviewed_claim(out, FLAGGED)
    assert kept is not None and kept.status == "ready" and path.read_bytes() == reviewed
    path.unlink()  # a crash between writing the versions and the claim file
    assert reviewed_claim(out, FLAGGED) == kept
    assert load_claim(out, FLAGGED) == kept


def test_supersede_carried_corrections_are_not_a_review_in_the_queue(review_out):
    out, _ = review_out
    store = open_store(out)
    _review(out, store)
    history = review_history(out, FLAGGED)
    assert history is not None
    result = supersede(_new_version(), history, _checker())
    save_supersession(out, _new_version(), result, store)
    now = datetime(2026, 1, 10, tzinfo=UTC)
    [item] = queue_items([result.claim], {}, store.corrections(), now, 0.9)
    assert not item.reviewed and not item.decided and item.review_overdue
    assert "carried" not in store.feedback_jsonl()


def test_superseded_flag_links_an_unreviewed_earlier_claim():
    flag = superseded_flag("clm-old")
    assert flag.severity == "info" and "clm-old" in flag.message
