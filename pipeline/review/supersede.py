"""A packet processed again after an adjuster reviewed its claim: the human's work is kept.

Why: the claim id is fixed by the packet bytes, and the batch flow writes the machine's
reading of them. Without this, re-processing would silently replace reviewed values and
decisions with the raw extraction.

- The same bytes again (a lease taken over after a crash, a new or switched ledger, bytes
  that came back): the reviewed claim file is kept, not overwritten (`reviewed_claim`).
- New bytes make a new claim that supersedes the reviewed one (`supersede`). It is written;
  the previous claim's versions stay in `OUT/review/versions/<old id>/`. A correction is
  carried over, with its audit trail, where the new packet still reads what the old one
  read at that place (the evidence did not change); elsewhere it is flagged for a fresh
  look. The decision (approve, send back) is never carried: the evidence changed, so the
  new claim goes to an adjuster (a `SUPERSEDES` review flag) whatever its checks say.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline.errors import ReviewError
from pipeline.io.emit import atomic_write_json, atomic_write_text, ensure_private_dir
from pipeline.review.claims import (
    Rechecker,
    apply_value,
    claim_path,
    list_versions,
    recheck,
    value_at,
    versions_dir,
)
from pipeline.review.store import Correction, ReviewStore
from pipeline.schema import Claim, Flag, Source

__all__ = [
    "CARRIED_ACTIONS",
    "ReviewHistory",
    "Supersession",
    "review_history",
    "reviewed_claim",
    "supersede",
    "superseded_flag",
    "save_supersession",
]

CARRIED_ACTIONS: tuple[str, ...] = ("edit", "confirm", "doc_type", "carried")
"""Corrections that change or vouch for a value; carried ones carry on down a chain."""
_DONE = {
    "edit": "corrected",
    "confirm": "confirmed",
    "doc_type": "re-typed",
    "carried": "corrected",
}


class ReviewHistory(BaseModel):
    """What review left of one claim: the machine's version 1, the latest, every correction."""

    model_config = ConfigDict(extra="forbid")

    claim_id: str
    version: int
    machine: Claim
    latest: Claim
    corrections: list[Correction]

    @property
    def decision(self) -> Correction | None:
        """The last approve / send back (a `status` correction), if any."""
        return next((c for c in reversed(self.corrections) if c.action == "status"), None)


class Supersession(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claim: Claim
    previous_claim_id: str
    previous_version: int
    carried: list[Correction]
    not_carried: list[str]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _read_claim(path: Path) -> Claim | None:
    try:
        return Claim.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None


def _read_corrections(path: Path) -> list[Correction]:
    if not path.is_file():
        return []
    try:
        return [Correction.model_validate(item) for item in json.loads(path.read_text())]
    except (OSError, ValueError, ValidationError) as exc:
        raise ReviewError(f"review sidecar {path} is not a list of corrections: {exc}") from exc


def review_history(out: Path, claim_id: str) -> ReviewHistory | None:
    """The claim's review versions, or None when it was never reviewed (no version 2)."""
    versions = list_versions(out, claim_id)
    if not versions or max(versions) < 2:
        return None
    folder = versions_dir(out, claim_id)
    machine = _read_claim(folder / "v1.json")
    latest = _read_claim(folder / f"v{max(versions)}.json")
    if machine is None or latest is None:
        raise ReviewError(
            f"claim {claim_id}: review versions in {folder} cannot be read as claims; "
            "they are kept as they are and the claim is not re-processed over them"
        )
    corrections = [
        c for v in versions if v >= 2 for c in _read_corrections(folder / f"v{v}.corrections.json")
    ]
    return ReviewHistory(
        claim_id=claim_id,
        version=max(versions),
        machine=machine,
        latest=latest,
        corrections=corrections,
    )


def reviewed_claim(out: Path, claim_id: str) -> Claim | None:
    """The same bytes again: the reviewed claim that stands (restored to OUT/claims if a crash
    left it only in the versions), or None when the claim was never reviewed."""
    history = review_history(out, claim_id)
    if history is None:
        return None
    path = claim_path(out, claim_id)
    if _read_claim(path) is None:
        atomic_write_json(path, history.latest)
    return history.latest


def _evidence(claim: Claim, path: str) -> object:
    """What the machine read at `path`, including where: a value moved to another document
    or line item is not the same evidence."""
    value, _, _ = value_at(claim, path)
    if path.startswith("documents["):
        index = int(path[len("documents[") : path.index("]")])
        return ([p.model_dump() for p in claim.documents[index].pages], value)
    if path.startswith("line_items["):
        index = int(path[len("line_items[") : path.index("]")])
        return claim.line_items[index].model_dump(exclude={"confidence", "source"})
    return value


def _latest_by_path(corrections: Sequence[Correction]) -> list[Correction]:
    latest: dict[str, Correction] = {}
    for correction in corrections:
        if correction.action in CARRIED_ACTIONS:
            latest.pop(correction.path, None)
            latest[correction.path] = correction
    return list(latest.values())


def _carry(
    new: Claim, previous: ReviewHistory, correction: Correction
) -> tuple[object, object, Source | None] | None:
    """Re-apply one correction to `new` where the machine read the same as before there;
    (old, new value, source), or None when it does not carry."""
    path = correction.path
    try:
        if _evidence(new, path) != _evidence(previous.machine, path):
            return None
        final, _, _ = value_at(previous.latest, path)
        _, _, source = value_at(new, path)
        text = None if final is None else str(final)
        old, value = apply_value(new, path, text, confirm=correction.action == "confirm")
    except ReviewError:
        return None  # the path is gone (fewer documents or items) or the value does not parse
    return old, value, source


def _decision_text(history: ReviewHistory) -> str:
    decision = history.decision
    if decision is None:
        return f"reviewed up to version {history.version}"
    verb = "approved" if decision.new == "ready" else "sent back to the claimant"
    return f"{verb} by {decision.who} in review version {decision.version}"


def supersede(
    claim: Claim, previous: ReviewHistory, checker: Rechecker, at: str | None = None
) -> Supersession:
    """The new claim with the previous claim's still-valid corrections applied and re-checked.

    `claim` is the pipeline's output for the new bytes (it is not changed; a copy is).
    """
    new = claim.model_copy(deep=True)
    at = at or _now()
    carried: list[Correction] = []
    not_carried: list[str] = []
    for correction in _latest_by_path(previous.corrections):
        path = correction.path
        done = _DONE.get(correction.action, "corrected")
        applied = _carry(new, previous, correction)
        if applied is None:
            not_carried.append(path)
            new.flags.append(
                Flag(
                    code="REVIEW_NOT_CARRIED",
                    field=path,
                    severity="review",
                    message=f"{path} was {done} by {correction.who} on claim "
                    f"{previous.claim_id}, but the new packet reads something else there "
                    "(or no longer has it); check it again",
                )
            )
            continue
        old, value, source = applied
        carried.append(
            Correction(
                claim_id=new.claim_id,
                version=2,
                action="carried",
                path=path,
                old=old,  # type: ignore[arg-type]
                new=value,  # type: ignore[arg-type]
                source=source,
                who=correction.who,
                at=at,
            )
        )
        new.flags.append(
            Flag(
                code="REVIEW_CARRIED",
                field=path,
                severity="info",
                message=f"{path} {done} by {correction.who} on claim {previous.claim_id} "
                f"(review version {correction.version}) carried over; the new packet reads "
                "the same there",
            )
        )
    # A review flag, kept by the re-check: whatever the checks say, an adjuster looks again.
    new.flags.append(
        Flag(
            code="SUPERSEDES",
            field=None,
            severity="review",
            message=f"supersedes claim {previous.claim_id} ({_decision_text(previous)}); the "
            f"packet's files changed, so it needs a new review: {len(carried)} correction(s) "
            f"carried over, {len(not_carried)} to check again",
        )
    )
    rejected = new.status == "rejected"
    recheck(new, checker)
    if rejected:
        new.status = "rejected"  # a duplicate packet stays rejected whatever review carried
    new = Claim.model_validate(new.model_dump())
    return Supersession(
        claim=new,
        previous_claim_id=previous.claim_id,
        previous_version=previous.version,
        carried=carried,
        not_carried=not_carried,
    )


def superseded_flag(previous_claim_id: str) -> Flag:
    """For a new version of a packet whose earlier claim nobody reviewed: the link only."""
    return Flag(
        code="SUPERSEDES",
        field=None,
        severity="info",
        message=f"supersedes claim {previous_claim_id} (an earlier version of this packet, "
        "not reviewed)",
    )


def save_supersession(
    out: Path, machine: Claim, result: Supersession, store: ReviewStore | None = None
) -> None:
    """Version 1 is the pipeline's output, version 2 the claim with the carried corrections;
    the store (when there is one) gets the corrections, the previous claim's notes, and an
    audit entry on both claims naming fields and counts, never values.

    The caller writes OUT/claims/<id>.json afterwards, as for any claim.
    """
    claim = result.claim
    if result.carried:
        folder = ensure_private_dir(versions_dir(out, claim.claim_id))
        atomic_write_json(folder / "v1.json", machine)
        atomic_write_json(folder / "v2.json", claim)
        atomic_write_text(
            folder / "v2.corrections.json",
            "[\n" + ",\n".join(c.model_dump_json(indent=2) for c in result.carried) + "\n]\n",
        )
    if store is None:
        return
    if result.carried:
        store.add_corrections(result.carried)
    for note in store.notes(result.previous_claim_id):
        store.add_note(
            claim.claim_id,
            f"(on superseded claim {result.previous_claim_id}, {note.at[:16]}) {note.text}",
            note.who,
        )
    carried = ",".join(c.path for c in result.carried) or "none"
    again = ",".join(result.not_carried) or "none"
    store.audit(
        None,
        "superseded",
        "batch",
        result.previous_claim_id,
        f"by {claim.claim_id}",
    )
    store.audit(
        None,
        "supersedes",
        "batch",
        claim.claim_id,
        f"{result.previous_claim_id} (review version {result.previous_version}); "
        f"carried: {carried}; check again: {again}",
    )
