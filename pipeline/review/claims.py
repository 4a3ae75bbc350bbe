"""Reviewing a claim: apply an adjuster's actions, re-run the checks, keep every version.

Why versions: the pipeline's extraction is evidence. `OUT/claims/<id>.json` always holds the
latest decision for downstream systems, while `OUT/review/versions/<id>/v1.json` keeps the
original output and every later `vN.json` (with a `vN.corrections.json` sidecar naming who
changed what) is kept, so any decision can be traced back to what the machine read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.assemble import (
    ReviewThresholds,
    completeness_flags,
    confidence_flags,
    decide_status,
    identity_flags,
    reconcile,
    round_money,
)
from pipeline.checks.completeness import Checklists, check_completeness
from pipeline.document import DOC_TYPES
from pipeline.errors import ReviewError
from pipeline.extract.normalize import icd10_is_billable, normalize_icd10, parse_date, parse_money
from pipeline.fraud.history import ClaimHistory
from pipeline.fraud.registry import RegisteredModel, score_claim
from pipeline.io.emit import atomic_write_json, atomic_write_text, ensure_private_dir
from pipeline.review.store import Correction, ReviewStore
from pipeline.schema import (
    CLAIM_FIELD_NAMES,
    CLAIM_TYPES,
    Claim,
    Diagnosis,
    ExtractedField,
    Flag,
    Source,
)

__all__ = [
    "ActionKind",
    "ReviewAction",
    "ReviewResult",
    "Rechecker",
    "RECHECKED_FLAG_CODES",
    "MONEY_FIELDS",
    "DATE_FIELDS",
    "claim_path",
    "versions_dir",
    "list_versions",
    "load_claim",
    "load_claims",
    "value_at",
    "apply_value",
    "recheck",
    "review_claim",
]

ActionKind = Literal["edit", "confirm", "doc_type", "approve", "send_back"]

RECHECKED_FLAG_CODES: frozenset[str] = frozenset(
    {
        "TOTAL_MISMATCH",
        "IDENTITY_MISMATCH",
        "MISSING_FIELD",
        "MISSING_DOCUMENT",
        "LOW_CONFIDENCE",
        "UNCERTAIN_DOCUMENT_TYPE",
        "INVALID_ICD10",
        "FRAUD_RISK",
    }
)
"""Flags the re-run checks own: dropped and recomputed after every change."""

MONEY_FIELDS: frozenset[str] = frozenset({"total_billed", "total", "amount", "unit_price"})
DATE_FIELDS: frozenset[str] = frozenset(
    {
        "patient_dob",
        "service_date_from",
        "service_date_to",
        "service_date",
        "invoice_date",
        "admission_date",
        "discharge_date",
        "visit_date",
        "accident_date",
    }
)
_LINE_ITEM_ATTRS = ("service_date", "code", "description", "quantity", "unit_price", "amount")
_PATH = re.compile(
    r"^(?:fields\.(?P<claim_field>\w+)"
    r"|documents\[(?P<doc>\d+)\]\.fields\.(?P<doc_field>\w+)"
    r"|documents\[(?P<doc_type>\d+)\]\.doc_type"
    r"|line_items\[(?P<item>\d+)\](?:\.(?P<item_attr>\w+))?"
    r"|diagnoses\[(?P<dx>\d+)\](?:\.code)?"
    r"|claim_type)$"
)


class ReviewAction(BaseModel):
    """One thing an adjuster did on the claim page."""

    model_config = ConfigDict(extra="forbid")

    kind: ActionKind
    path: str | None = Field(
        default=None, description="e.g. fields.member_id, line_items[2].amount"
    )
    value: str | None = None
    notice: str | None = Field(default=None, description="claimant notice when sending back")


class ReviewResult(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    claim: Claim
    version: int
    corrections: list[Correction]


@dataclass
class Rechecker:
    """What re-running the checks needs; fraud parts are None when no model is installed."""

    thresholds: ReviewThresholds
    checklists: Checklists
    fraud_model: RegisteredModel | None = None
    history: ClaimHistory | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def claim_path(out: Path, claim_id: str) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9._-]+", claim_id) or claim_id.startswith("."):
        raise ReviewError(f"claim id {claim_id!r} has characters a claim id never has")
    return out / "claims" / f"{claim_id}.json"


def versions_dir(out: Path, claim_id: str) -> Path:
    claim_path(out, claim_id)
    return out / "review" / "versions" / claim_id


def list_versions(out: Path, claim_id: str) -> list[int]:
    folder = versions_dir(out, claim_id)
    if not folder.is_dir():
        return []
    found = (re.fullmatch(r"v(\d+)\.json", p.name) for p in folder.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def load_claim(out: Path, claim_id: str) -> Claim:
    path = claim_path(out, claim_id)
    if not path.is_file():
        raise ReviewError(f"no claim {claim_id!r} in {out / 'claims'}")
    try:
        return Claim.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise ReviewError(f"claim file {path.name} does not match the claim schema: {exc}") from exc


def load_claims(out: Path) -> list[Claim]:
    """Every readable claim of OUT; files that do not parse are skipped by name, not guessed."""
    folder = out / "claims"
    claims: list[Claim] = []
    if not folder.is_dir():
        return claims
    for path in sorted(folder.glob("*.json")):
        try:
            claims.append(Claim.model_validate_json(path.read_bytes()))
        except ValidationError:
            continue
    return claims


# -- addressing values -------------------------------------------------------------------


def _index(items: Sequence[object], index: str, what: str) -> int:
    i = int(index)
    if i >= len(items):
        raise ReviewError(f"{what}[{i}] does not exist; the claim has {len(items)} {what}")
    return i


def _parse(path: str) -> re.Match[str]:
    match = _PATH.match(path)
    if match is None:
        raise ReviewError(
            f"cannot edit {path!r}; editable paths: fields.<name>, documents[i].fields.<name>, "
            "documents[i].doc_type, line_items[i].<attr>, diagnoses[i], claim_type"
        )
    return match


def value_at(claim: Claim, path: str) -> tuple[object, float | None, Source | None]:
    """The value, confidence and source box a path points at."""
    m = _parse(path)
    if m["claim_field"]:
        if m["claim_field"] not in CLAIM_FIELD_NAMES:
            raise ReviewError(
                f"unknown claim field {m['claim_field']!r}; valid: {', '.join(CLAIM_FIELD_NAMES)}"
            )
        f = getattr(claim.fields, m["claim_field"])
        return f.value, f.confidence, f.source
    if m["doc"] is not None:
        doc = claim.documents[_index(claim.documents, m["doc"], "documents")]
        f = doc.fields.get(m["doc_field"], ExtractedField.missing())
        return f.value, f.confidence, f.source
    if m["doc_type"] is not None:
        doc = claim.documents[_index(claim.documents, m["doc_type"], "documents")]
        return doc.doc_type, doc.confidence, None
    if m["item"] is not None:
        item = claim.line_items[_index(claim.line_items, m["item"], "line_items")]
        attr = m["item_attr"]
        return (getattr(item, attr) if attr else None), item.confidence, item.source
    if m["dx"] is not None:
        dx = claim.diagnoses[_index(claim.diagnoses, m["dx"], "diagnoses")]
        return dx.code, dx.confidence, dx.source
    return claim.claim_type.value, claim.claim_type.confidence, claim.claim_type.source


def _coerce(name: str, text: str | None, language: str) -> str | float | None:
    """An adjuster's typed value in the claim file's format; empty means 'not in the packet'."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    if name in MONEY_FIELDS:
        amount = parse_money(text, language)
        if amount is None:
            raise ReviewError(f"{name}: {text!r} is not an amount (e.g. 1234.50)")
        return round_money(amount)
    if name == "quantity":
        try:
            return float(text)
        except ValueError as exc:
            raise ReviewError(f"quantity: {text!r} is not a number") from exc
    if name in DATE_FIELDS:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            parsed = parse_date(text, language, order=None)
        else:
            parsed = parse_date(text, language)
        if parsed is None:
            raise ReviewError(f"{name}: {text!r} is not a date (YYYY-MM-DD)")
        return parsed.isoformat()
    return text


def apply_value(claim: Claim, path: str, text: str | None, confirm: bool) -> tuple[object, object]:
    """Set (or confirm) the value at `path`; returns (old, new). Confidence becomes 1.0."""
    m = _parse(path)
    old, _, _ = value_at(claim, path)
    lang = claim.language
    if m["claim_field"] or m["doc"] is not None:
        if m["claim_field"]:
            name = m["claim_field"]
            current = getattr(claim.fields, name)
        else:
            name = m["doc_field"]
            doc = claim.documents[int(m["doc"])]
            current = doc.fields.get(name, ExtractedField.missing())
        new = current.value if confirm else _coerce(name, text, lang)
        updated = ExtractedField(
            value=new, confidence=1.0 if new is not None else 0.0, source=current.source
        )
        if m["claim_field"]:
            setattr(claim.fields, name, updated)
        else:
            claim.documents[int(m["doc"])].fields[name] = updated
            if claim.documents[int(m["doc"])].doc_type == "invoice" and name == "total":
                _refresh_total_billed(claim)
        return old, new
    if m["doc_type"] is not None:
        doc = claim.documents[int(m["doc_type"])]
        new_type = doc.doc_type if confirm else (text or "").strip()
        if new_type not in DOC_TYPES:
            raise ReviewError(f"unknown doc type {new_type!r}; valid: {', '.join(DOC_TYPES)}")
        doc.doc_type = new_type  # type: ignore[assignment]
        doc.confidence = 1.0
        _refresh_total_billed(claim)
        return old, new_type
    if m["item"] is not None:
        item = claim.line_items[int(m["item"])]
        attr = m["item_attr"]
        if attr is None or confirm:
            item.confidence = 1.0
            return old, old
        if attr not in _LINE_ITEM_ATTRS:
            raise ReviewError(
                f"line item attribute {attr!r} is not editable; valid: {', '.join(_LINE_ITEM_ATTRS)}"
            )
        new = _coerce(attr, text, lang)
        setattr(item, attr, new)
        item.confidence = 1.0
        return old, new
    if m["dx"] is not None:
        i = int(m["dx"])
        dx = claim.diagnoses[i]
        if confirm:
            claim.diagnoses[i] = dx.model_copy(update={"confidence": 1.0})
            return old, old
        code = normalize_icd10(text or "", repair_first=False)
        if code is None:
            raise ReviewError(f"{text!r} is not an ICD-10-CM code (e.g. J18.9, S52.501A)")
        claim.diagnoses[i] = Diagnosis(
            code=code,
            description=_icd_description(code),
            valid=icd10_is_billable(code),
            confidence=1.0,
            source=dx.source,
        )
        return old, code
    # claim_type
    new_type = str(claim.claim_type.value) if confirm else (text or "").strip()
    if new_type not in CLAIM_TYPES:
        raise ReviewError(f"unknown claim type {new_type!r}; valid: {', '.join(CLAIM_TYPES)}")
    claim.claim_type = ExtractedField(
        value=new_type, confidence=1.0, source=claim.claim_type.source
    )
    return old, new_type


def _icd_description(code: str) -> str | None:
    import simple_icd_10_cm as icd

    try:
        return str(icd.get_description(code))
    except ValueError:
        return None


def _refresh_total_billed(claim: Claim) -> None:
    """The contract's `total_billed` is the sum of the invoices' totals."""
    totals = [
        d.fields["total"]
        for d in claim.documents
        if d.doc_type == "invoice" and "total" in d.fields
    ]
    known = [t for t in totals if isinstance(t.value, int | float)]
    if not known or len(known) != len(totals):
        return
    claim.fields.total_billed = ExtractedField(
        value=round_money(sum(float(t.value) for t in known if t.value is not None)),
        confidence=min(t.confidence for t in known),
        source=next((t.source for t in known if t.source is not None), None),
    )


# -- the checks --------------------------------------------------------------------------


def recheck(claim: Claim, checker: Rechecker) -> Claim:
    """Re-run reconciliation, identity, completeness, confidence and fraud on a changed claim."""
    thresholds = checker.thresholds
    kept = [f for f in claim.flags if f.code not in RECHECKED_FLAG_CODES]
    reconciliation, flags = reconcile(claim.documents, claim.line_items, claim.fields, thresholds)
    flags.extend(identity_flags(claim.documents))
    completeness = check_completeness(
        claim_type=str(claim.claim_type.value or "outpatient"),
        present_doc_types={d.doc_type for d in claim.documents},
        fields=claim.fields,
        diagnoses=claim.diagnoses,
        checklists=checker.checklists,
        language=claim.language,
    )
    flags.extend(completeness_flags(completeness))
    flags.extend(
        confidence_flags(
            claim.fields,
            claim.documents,
            claim.diagnoses,
            claim.line_items,
            claim.claim_type,
            thresholds,
        )
    )
    claim.reconciliation = reconciliation
    claim.completeness = completeness
    if checker.fraud_model is not None and checker.history is not None:
        claim.fraud = score_claim(claim, checker.history, checker.fraud_model)
        if claim.fraud.band == "high":
            flags.append(
                Flag(
                    code="FRAUD_RISK",
                    field="fraud",
                    severity="review",
                    message=f"fraud score {claim.fraud.score:.2f} is in the high band; "
                    "refer to investigation",
                )
            )
    claim.flags = kept + flags
    claim.status = decide_status(completeness, claim.flags)  # type: ignore[assignment]
    return claim


# -- one review step ---------------------------------------------------------------------


def _save_version(out: Path, original: bytes, claim: Claim, corrections: list[Correction]) -> None:
    folder = ensure_private_dir(versions_dir(out, claim.claim_id))
    if not (folder / "v1.json").exists():
        atomic_write_text(folder / "v1.json", original.decode("utf-8"))
    version = corrections[0].version
    atomic_write_json(folder / f"v{version}.json", claim)
    atomic_write_text(
        folder / f"v{version}.corrections.json",
        "[\n" + ",\n".join(c.model_dump_json(indent=2) for c in corrections) + "\n]\n",
    )
    atomic_write_json(claim_path(out, claim.claim_id), claim)


def review_claim(
    out: Path,
    claim_id: str,
    actions: Sequence[ReviewAction],
    who: str,
    checker: Rechecker,
    store: ReviewStore,
) -> ReviewResult:
    """Apply `actions` by `who`, re-run the checks, write version N+1 and record the corrections.

    Approve sets `ready` after the checks ran (the adjuster's decision overrides remaining
    review flags, which stay in the file); send back sets `incomplete` with the notice.
    """
    if not actions:
        raise ReviewError(f"claim {claim_id}: no review action given")
    path = claim_path(out, claim_id)
    original = path.read_bytes() if path.is_file() else b""
    claim = load_claim(out, claim_id)
    version = max(list_versions(out, claim_id) or [1]) + 1
    at = _now()
    corrections: list[Correction] = []
    decision: ReviewAction | None = None
    for action in actions:
        if action.kind in ("approve", "send_back"):
            decision = action
            continue
        if action.path is None:
            raise ReviewError(f"a {action.kind} action needs a path (e.g. fields.member_id)")
        path_name = action.path
        if action.kind == "doc_type" and not path_name.endswith(".doc_type"):
            raise ReviewError(f"a doc_type action needs documents[i].doc_type, got {path_name!r}")
        _, _, source = value_at(claim, path_name)
        old, new = apply_value(claim, path_name, action.value, confirm=action.kind == "confirm")
        corrections.append(
            Correction(
                claim_id=claim_id,
                version=version,
                action=action.kind,  # type: ignore[arg-type]  # approve/send_back never get here
                path=path_name,
                old=old,  # type: ignore[arg-type]
                new=new,  # type: ignore[arg-type]
                source=source,
                who=who,
                at=at,
            )
        )
        claim.flags.append(
            Flag(
                code="REVIEW_CONFIRMED" if action.kind == "confirm" else "REVIEW_CORRECTED",
                field=path_name,
                severity="info",
                message=f"{path_name} {'confirmed' if action.kind == 'confirm' else 'corrected'} "
                f"in review version {version}",
            )
        )
    previous_status = claim.status
    recheck(claim, checker)
    if decision is not None:
        if decision.kind == "approve":
            claim.status = "ready"
            message = f"approved for adjudication in review version {version}"
        else:
            claim.status = "incomplete"
            notice = (decision.notice or "").strip() or claim.completeness.notice
            if not notice:
                raise ReviewError(
                    f"claim {claim_id}: sending back needs a notice to the claimant; none given"
                )
            claim.completeness.notice = notice
            message = f"sent back to the claimant as incomplete in review version {version}"
        claim.flags.append(
            Flag(code=f"REVIEW_{decision.kind.upper()}", severity="info", message=message)
        )
        corrections.append(
            Correction(
                claim_id=claim_id,
                version=version,
                action="status",
                path="status",
                old=previous_status,
                new=claim.status,
                who=who,
                at=at,
            )
        )
        if decision.kind == "send_back":
            corrections.append(
                Correction(
                    claim_id=claim_id,
                    version=version,
                    action="notice",
                    path="completeness.notice",
                    new=claim.completeness.notice,
                    who=who,
                    at=at,
                )
            )
    claim = Claim.model_validate(claim.model_dump())
    _save_version(out, original, claim, corrections)
    store.add_corrections(corrections)
    return ReviewResult(claim=claim, version=version, corrections=corrections)
