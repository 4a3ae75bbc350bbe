"""The work queue and the dashboard figures: which claims wait, since when, and what is late.

Why deadlines here: a first review is due 24 hours after the packet arrived and a decision
7 days after; receipt is when the batch discovered the packet (the ledger), or when the
claim was processed if no ledger is at hand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from pipeline.document import DOC_TYPES
from pipeline.ledger.core import Ledger, ledger_target
from pipeline.review.store import Correction
from pipeline.schema import Claim, ExtractedField

__all__ = [
    "FIRST_REVIEW_DUE",
    "DECISION_DUE",
    "QUEUE_STATUSES",
    "STATUSES",
    "QueueItem",
    "Bar",
    "DashboardStats",
    "received_times",
    "queue_items",
    "filter_queue",
    "sort_queue",
    "status_counts",
    "dashboard_stats",
]

FIRST_REVIEW_DUE = timedelta(hours=24)
DECISION_DUE = timedelta(days=7)
STATUSES: tuple[str, ...] = ("needs_review", "incomplete", "ready", "rejected")
QUEUE_STATUSES: tuple[str, ...] = ("needs_review", "incomplete")
SortKey = Literal["received", "review_due", "decision_due", "fraud", "status", "claim_id"]
SORT_KEYS: tuple[str, ...] = (
    "received",
    "review_due",
    "decision_due",
    "fraud",
    "status",
    "claim_id",
)


class QueueItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claim_id: str
    status: str
    claim_type: str | None
    patient_name: str | None
    total_billed: float | None
    currency: str
    fraud_band: str
    fraud_score: float | None
    review_flags: int
    low_confidence: int
    received_at: datetime
    review_due: datetime
    decision_due: datetime
    reviewed: bool
    decided: bool
    review_overdue: bool
    decision_overdue: bool


class Bar(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str
    value: int
    tone: str = "default"


class DashboardStats(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claims: int
    by_status: list[Bar]
    by_doc_type: list[Bar]
    field_confidence: list[Bar]
    fraud_scores: list[Bar]
    fraud_bands: list[Bar]
    sla: list[Bar]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return _aware(datetime.fromisoformat(text))
    except ValueError:
        return None


def received_times(
    out: Path, claims: Sequence[Claim], ledger_url: str | None = None
) -> dict[str, datetime]:
    """claim id -> when its packet was discovered, read from the run's ledger when there is one
    (`ledger_url` for a shared database, else OUT/ledger.sqlite)."""
    found: dict[str, datetime] = {}
    target = ledger_target(out, ledger_url)
    if isinstance(target, Path) and not target.is_file():
        return found
    with Ledger.open(target) as ledger:
        for claim in claims:
            for record in ledger.packet_history(claim.packet.source):
                if record.claim_id == claim.claim_id or record.sha256 == claim.packet.sha256:
                    found[claim.claim_id] = _aware(record.discovered_at)
    return found


def _count_low(claim: Claim, threshold: float) -> int:
    values = [f for _, f in claim.fields if f.value is not None]
    values += [f for d in claim.documents for f in d.fields.values() if f.value is not None]
    low = sum(1 for f in values if f.confidence < threshold)
    low += sum(1 for d in claim.diagnoses if d.confidence < threshold)
    return low


def queue_items(
    claims: Iterable[Claim],
    received: dict[str, datetime],
    corrections: Sequence[Correction],
    now: datetime,
    low_threshold: float,
    fallback_times: dict[str, datetime] | None = None,
) -> list[QueueItem]:
    # A correction carried over from a superseded claim is not a review of this one.
    reviewed = {c.claim_id for c in corrections if c.action != "carried"}
    decided = {c.claim_id for c in corrections if c.action == "status"}
    items: list[QueueItem] = []
    for claim in claims:
        at = (
            received.get(claim.claim_id)
            or _parse_time(claim.processed_at)
            or (fallback_times or {}).get(claim.claim_id)
            or now
        )
        review_due, decision_due = at + FIRST_REVIEW_DUE, at + DECISION_DUE
        is_reviewed = claim.claim_id in reviewed
        is_decided = claim.claim_id in decided or claim.status in ("ready", "rejected")
        total = claim.fields.total_billed.value
        name = claim.fields.patient_name.value
        items.append(
            QueueItem(
                claim_id=claim.claim_id,
                status=claim.status,
                claim_type=str(claim.claim_type.value) if claim.claim_type.value else None,
                patient_name=str(name) if name is not None else None,
                total_billed=float(total) if isinstance(total, int | float) else None,
                currency=claim.currency,
                fraud_band=claim.fraud.band,
                fraud_score=claim.fraud.score,
                review_flags=sum(1 for f in claim.flags if f.severity in ("review", "error")),
                low_confidence=_count_low(claim, low_threshold),
                received_at=at,
                review_due=review_due,
                decision_due=decision_due,
                reviewed=is_reviewed,
                decided=is_decided,
                review_overdue=not is_reviewed and not is_decided and now > review_due,
                decision_overdue=not is_decided and now > decision_due,
            )
        )
    return items


def filter_queue(
    items: Iterable[QueueItem], status: str | None = None, band: str | None = None
) -> list[QueueItem]:
    """`status` None means the review queue (needs_review and incomplete); "all" means all."""
    wanted = QUEUE_STATUSES if status in (None, "") else (None if status == "all" else (status,))
    return [
        i
        for i in items
        if (wanted is None or i.status in wanted) and (not band or i.fraud_band == band)
    ]


def sort_queue(
    items: list[QueueItem], key: str = "review_due", descending: bool = False
) -> list[QueueItem]:
    if key not in SORT_KEYS:
        key = "review_due"
    keys = {
        "received": lambda i: i.received_at,
        "review_due": lambda i: i.review_due,
        "decision_due": lambda i: i.decision_due,
        "fraud": lambda i: i.fraud_score if i.fraud_score is not None else -1.0,
        "status": lambda i: STATUSES.index(i.status) if i.status in STATUSES else 99,
        "claim_id": lambda i: i.claim_id,
    }
    return sorted(items, key=keys[key], reverse=descending)


def status_counts(items: Iterable[QueueItem]) -> dict[str, int]:
    counts = Counter(i.status for i in items)
    return {s: counts.get(s, 0) for s in STATUSES}


def _histogram(values: Iterable[float], bins: int = 10) -> list[Bar]:
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int(v * bins)))] += 1
    return [
        Bar(
            label=f"{i / bins:.1f}–{(i + 1) / bins:.1f}",
            value=c,
            tone="warn" if i < bins * 0.9 - 1e-9 else "ok",
        )
        for i, c in enumerate(counts)
    ]


def _all_fields(claim: Claim) -> list[ExtractedField]:
    values = [f for _, f in claim.fields]
    values += [f for d in claim.documents for f in d.fields.values()]
    return [f for f in values if f.value is not None]


def dashboard_stats(claims: Sequence[Claim], items: Sequence[QueueItem]) -> DashboardStats:
    counts = status_counts(items)
    doc_counts: Counter[str] = Counter(str(d.doc_type) for c in claims for d in c.documents)
    band_counts = Counter(c.fraud.band for c in claims)
    confidences = [f.confidence for c in claims for f in _all_fields(c)]
    scores = [c.fraud.score for c in claims if c.fraud.score is not None]
    fraud = _histogram(scores)
    for bar in fraud:
        bar.tone = "bad" if float(bar.label.split("–")[0]) >= 0.5 else "default"
    return DashboardStats(
        claims=len(claims),
        by_status=[
            Bar(label=s, value=n, tone={"ready": "ok", "rejected": "bad"}.get(s, "warn"))
            for s, n in counts.items()
        ],
        by_doc_type=[Bar(label=t, value=doc_counts.get(t, 0)) for t in DOC_TYPES],
        field_confidence=_histogram(confidences),
        fraud_scores=fraud,
        fraud_bands=[
            Bar(
                label=b,
                value=band_counts.get(b, 0),
                tone={"high": "bad", "low": "ok"}.get(b, "warn"),
            )
            for b in ("low", "medium", "high", "unscored")
        ],
        sla=[
            Bar(
                label="first review overdue", value=sum(i.review_overdue for i in items), tone="bad"
            ),
            Bar(label="decision overdue", value=sum(i.decision_overdue for i in items), tone="bad"),
            Bar(
                label="open, within SLA",
                value=sum(
                    1
                    for i in items
                    if not i.decided and not i.review_overdue and not i.decision_overdue
                ),
                tone="ok",
            ),
        ],
    )
