"""Re-processing a reviewed packet through the batch flow never loses the adjuster's work."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from pipeline.assemble import ReviewThresholds
from pipeline.checks.completeness import load_checklists
from pipeline.ledger import Ledger
from pipeline.review.claims import Rechecker, ReviewAction, list_versions, review_claim
from pipeline.review.store import open_store
from pipeline.schema import Claim
from tests.flows.test_batch import _invoice_pdf


def _note_pdf() -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    pdf.setFont("Courier", 10)
    pdf.drawString(50, 740, "PROGRESS NOTE")
    pdf.drawString(50, 718, "Patient: Dana K. Whitfield       Visit Date: 03/02/2026")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _claims(out: Path) -> dict[str, Claim]:
    return {
        p.stem: Claim.model_validate_json(p.read_bytes()) for p in (out / "claims").glob("*.json")
    }


@pytest.mark.slow
def test_reprocess_keeps_review_for_same_bytes_and_carries_it_to_new_bytes(
    prefect_harness, tmp_path: Path
) -> None:
    from flows.batch import batch_flow_for

    inbox, out = tmp_path / "inbox", tmp_path / "out"
    (inbox / "packet").mkdir(parents=True)
    (inbox / "packet" / "invoice.pdf").write_bytes(_invoice_pdf())
    first = batch_flow_for(1)(inbox=inbox, out=out, workers=1)
    [claim_id] = [o.claim_id for o in first.outcomes]
    assert claim_id is not None
    machine = _claims(out)[claim_id]
    assert machine.fields.member_id.value == "WXQ448812"

    store = open_store(out)
    checker = Rechecker(thresholds=ReviewThresholds(), checklists=load_checklists())
    actions = [
        ReviewAction(kind="edit", path="fields.member_id", value="WXQ448813"),
        ReviewAction(kind="approve"),
    ]
    reviewed = review_claim(out, claim_id, actions, "ann", checker, store).claim
    assert reviewed.status == "ready"
    reviewed_bytes = (out / "claims" / f"{claim_id}.json").read_bytes()

    # Same bytes again with the ledger gone (lost, or runs moved to another ledger).
    (out / "ledger.sqlite").unlink()
    again = batch_flow_for(1)(inbox=inbox, out=out, workers=1)
    [kept] = again.outcomes
    assert (kept.claim_id, kept.status, kept.reason) == (claim_id, "ready", "reviewed claim kept")
    assert (out / "claims" / f"{claim_id}.json").read_bytes() == reviewed_bytes

    # New bytes: a progress note joins the packet.
    (inbox / "packet" / "z-note.pdf").write_bytes(_note_pdf())
    third = batch_flow_for(1)(inbox=inbox, out=out, workers=1)
    [outcome] = third.outcomes
    assert outcome.claim_id not in (None, claim_id) and not outcome.skipped
    claims = _claims(out)
    assert set(claims) == {outcome.claim_id}, "the superseded claim file gives way"
    new = claims[outcome.claim_id]
    assert new.fields.member_id.value == "WXQ448813" and new.fields.member_id.confidence == 1.0
    assert new.status in ("needs_review", "incomplete"), "a changed packet is reviewed again"
    codes = [f.code for f in new.flags]
    assert "SUPERSEDES" in codes and "REVIEW_CARRIED" in codes
    assert list_versions(out, claim_id) == [1, 2], "the reviewed claim's versions stay"
    assert list_versions(out, outcome.claim_id) == [1, 2]
    carried = [c for c in store.corrections(outcome.claim_id) if c.action == "carried"]
    assert [(c.path, c.new, c.who) for c in carried] == [("fields.member_id", "WXQ448813", "ann")]
    with Ledger.open(out / "ledger.sqlite") as ledger:
        history = ledger.packet_history("packet")
    assert [(r.version, r.state, r.claim_id) for r in history] == [
        (1, "done", claim_id),
        (2, "done", outcome.claim_id),
    ]
