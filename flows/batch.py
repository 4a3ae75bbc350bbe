"""The batch flow: every packet in an inbox becomes a claim file or a quarantine record.

The flow body is the table of contents; the work is in `pipeline.process`. Packets run
side by side on a thread pool; their scanned pages go to a process pool of Tesseract
workers (one thread each), so both cores stay busy on one big packet or many small ones.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import secrets
import threading
import time
import traceback
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.config import load_settings
from pipeline.errors import UnreadablePacketError
from pipeline.io.emit import (
    QuarantineRecord,
    atomic_write_json,
    ensure_private_dir,
    write_quarantine,
)
from pipeline.io.exports import BatchCounts, write_batch_exports
from pipeline.io.fhir import write_fhir
from pipeline.io.ingest import PacketRef, discover_packets, packet_sha256
from pipeline.ledger import Claimed, Ledger, Skip, default_ledger_path, worker_identity
from pipeline.ledger.history import LedgerClaimHistory
from pipeline.process import Resources, apply_fraud, load_resources, process_packet
from pipeline.reading.ocr import init_ocr_worker
from pipeline.schema import Claim, Flag

__all__ = [
    "PacketOutcome",
    "BatchSummary",
    "InboxOrder",
    "batch_flow",
    "batch_flow_for",
    "summary_table",
]


class PacketOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid")

    packet: str
    pages: int = 0
    claim_id: str | None = None
    status: str | None = None
    quarantined: bool = False
    skipped: bool = False
    reason: str | None = None
    written: list[str] = Field(default_factory=list, description="files this packet wrote")
    seconds: dict[str, float] = Field(default_factory=dict)


class BatchSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_id: str
    packets: int
    pages: int
    claims_written: int
    quarantined: int
    skipped: int
    needs_review: int
    incomplete: int
    ready: int
    rejected: int
    seconds: float
    outcomes: list[PacketOutcome]

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else 0.0


class InboxOrder:
    """Packets are read side by side but scored and recorded one at a time in inbox order.

    Why: the fraud features look a claim up in the history of claims recorded before it, so
    the later of two packets carrying the same invoice must be the one flagged, whichever
    finished reading first; and the same batch must give the same scores on every run.
    Tasks start in submission (inbox) order, so the earliest unfinished packet never waits.
    """

    def __init__(self, names: list[str], timeout: float = 1800.0) -> None:
        self._rank = {name: rank for rank, name in enumerate(names)}
        self._finished: set[int] = set()
        self._next = 0
        self._timeout = timeout
        self._changed = threading.Condition()

    def wait_for_turn(self, name: str) -> bool:
        """Block until every packet before `name` has finished; False if the wait timed out."""
        rank = self._rank.get(name)
        if rank is None:
            return True
        with self._changed:
            return self._changed.wait_for(lambda: self._next >= rank, timeout=self._timeout)

    def finish(self, name: str) -> None:
        """`name` is recorded, quarantined or skipped: the packets after it may go on."""
        rank = self._rank.get(name)
        if rank is None:
            return
        with self._changed:
            self._finished.add(rank)
            while self._next in self._finished:
                self._next += 1
            self._changed.notify_all()


@dataclass
class BatchContext:
    """What every packet task of one batch shares."""

    resources: Resources
    executor: Executor | None
    inbox: Path
    out: Path
    ledger: Ledger
    history: LedgerClaimHistory
    worker_id: str
    order: InboxOrder | None = None


# Libraries that log the documents' own text at DEBUG (pdfminer logs every string it
# parses): patient data must not reach the logs whatever level an operator sets.
_CONTENT_LOGGERS = ("pdfminer", "pdfplumber", "PIL")


def _quiet_content_loggers() -> None:
    for name in _CONTENT_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _source(ref: PacketRef, inbox: Path) -> str:
    try:
        return ref.root.relative_to(inbox).as_posix()
    except ValueError:
        return ref.name


@task(cache_policy=NO_CACHE)
def discover(inbox: Path) -> list[PacketRef]:
    return discover_packets(inbox)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def write_output(path: Path, payload: BaseModel) -> Path:
    return atomic_write_json(path, payload)


@task(cache_policy=NO_CACHE)
def handle_packet(ref: PacketRef, context: BatchContext) -> PacketOutcome:
    """Process one packet; any failure quarantines it with its reason and the batch goes on."""
    try:
        return _handle_packet(ref, context)
    finally:
        if context.order is not None:
            context.order.finish(ref.name)


def _handle_packet(ref: PacketRef, context: BatchContext) -> PacketOutcome:
    logger = logging.getLogger("claim_intake.batch")
    started = time.perf_counter()
    out = context.out
    try:
        sha = packet_sha256(ref)
    except OSError as exc:
        return _quarantine(
            ref,
            context,
            None,
            reason=f"packet cannot be read: {exc.strerror}",
            error=type(exc).__name__,
        )
    claimed = context.ledger.claim_packet(
        ref.name, _source(ref, context.inbox), sha, context.worker_id
    )
    if isinstance(claimed, Skip):
        logger.info("packet %s skipped (%s)", ref.name, claimed.reason)
        return PacketOutcome(
            packet=ref.name, skipped=True, claim_id=claimed.claim_id, reason=claimed.reason
        )
    try:
        result = process_packet(
            ref, context.resources, executor=context.executor, inbox=context.inbox, sha256=sha
        )
    except UnreadablePacketError as exc:
        return _quarantine(
            ref, context, claimed, reason=str(exc), error=type(exc).__name__, sha=sha
        )
    except Exception as exc:  # noqa: BLE001 - the batch edge: quarantine, log, go on
        logger.error("packet %s failed: %s", ref.name, type(exc).__name__)
        logger.debug("%s", traceback.format_exc())
        return _quarantine(
            ref,
            context,
            claimed,
            reason=f"internal error while processing the packet ({type(exc).__name__}); "
            "the packet is kept for a re-run after a fix",
            error=type(exc).__name__,
            sha=sha,
        )
    claim = result.claim
    if context.order is not None and not context.order.wait_for_turn(ref.name):
        logger.warning(
            "packet %s scored out of inbox order (earlier packets still running)", ref.name
        )
    claim = score_and_record(claim, ref.name, context)
    claim_path = write_output(out / "claims" / f"{claim.claim_id}.json", claim)
    fhir_path = write_fhir(out, claim)
    if claimed.previous_claim_id and claimed.previous_claim_id != claim.claim_id:
        _retire(out, claimed.previous_claim_id)
    context.ledger.mark_done(
        claimed, claim.claim_id, claim_path, seconds=time.perf_counter() - started
    )
    logger.info("packet %s: %d pages, status %s", ref.name, result.pages, claim.status)
    return PacketOutcome(
        packet=ref.name,
        pages=result.pages,
        claim_id=claim.claim_id,
        status=claim.status,
        written=[str(claim_path), str(fhir_path)],
        seconds=result.seconds,
    )


def score_and_record(claim: Claim, packet_name: str, context: BatchContext) -> Claim:
    """Fraud score against the ledger's history, duplicate check, then record the claim."""
    ledger = context.ledger
    duplicates = [
        record
        for record in ledger.claims_by_packet_sha256(claim.packet.sha256, exclude_claim_id=None)
        if record.packet_name not in (None, packet_name)
    ]
    if duplicates:
        claim.flags.append(
            Flag(
                code="DUPLICATE_PACKET",
                field=None,
                severity="error",
                message=f"the same packet bytes were already received as {duplicates[0].packet_name}",
            )
        )
    claim = apply_fraud(claim, context.resources, context.history)
    if duplicates:
        claim.status = "rejected"
    context.history.add(claim, packet_name=packet_name)
    return claim


def _retire(out: Path, claim_id: str) -> None:
    """A packet's bytes changed: its older claim and bundle give way to the new version's."""
    for folder in ("claims", "fhir"):
        with contextlib.suppress(FileNotFoundError):
            (out / folder / f"{claim_id}.json").unlink()


def _quarantine(
    ref: PacketRef,
    context: BatchContext,
    claimed: Claimed | None,
    reason: str,
    error: str,
    sha: str | None = None,
) -> PacketOutcome:
    if sha is None:
        try:
            sha = packet_sha256(ref)
        except OSError:
            sha = None
    path = write_quarantine(
        context.out,
        QuarantineRecord(
            packet=ref.name,
            path=str(ref.root),
            sha256=sha,
            reason=reason,
            error=error,
            quarantined_at=_now(),
        ),
    )
    if claimed is not None:
        context.ledger.mark_quarantined(claimed, reason)
    logging.getLogger("claim_intake.batch").warning("packet %s quarantined (%s)", ref.name, error)
    return PacketOutcome(packet=ref.name, quarantined=True, reason=reason, written=[str(path)])


def _executor(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=init_ocr_worker,
    )


def _progress(console: Console | None) -> Progress:
    return Progress(
        TextColumn("{task.description:>8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console or Console(stderr=True),
        disable=console is None,
        transient=False,
    )


def _summarise(batch_id: str, outcomes: list[PacketOutcome], seconds: float) -> BatchSummary:
    return BatchSummary(
        batch_id=batch_id,
        packets=len(outcomes),
        pages=sum(o.pages for o in outcomes),
        claims_written=sum(1 for o in outcomes if o.claim_id and not o.skipped),
        quarantined=sum(1 for o in outcomes if o.quarantined),
        skipped=sum(1 for o in outcomes if o.skipped),
        needs_review=sum(1 for o in outcomes if o.status == "needs_review"),
        incomplete=sum(1 for o in outcomes if o.status == "incomplete"),
        ready=sum(1 for o in outcomes if o.status == "ready"),
        rejected=sum(1 for o in outcomes if o.status == "rejected"),
        seconds=round(seconds, 3),
        outcomes=outcomes,
    )


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def write_batch_files(
    out: Path, summary: BatchSummary, started_at: datetime, finished_at: datetime
) -> Path:
    """claims.jsonl, line_items.csv, summary.json and the manifest of everything written."""
    claims = [
        Claim.model_validate_json((out / "claims" / f"{o.claim_id}.json").read_bytes())
        for o in summary.outcomes
        if o.claim_id and not o.skipped
    ]
    summary_path = atomic_write_json(out / "batches" / summary.batch_id / "summary.json", summary)
    written = [Path(p) for o in summary.outcomes for p in o.written] + [summary_path]
    counts = BatchCounts(
        packets=summary.packets,
        claims=summary.claims_written,
        quarantined=summary.quarantined,
        skipped=summary.skipped,
        pages=summary.pages,
    )
    return write_batch_exports(
        out, summary.batch_id, claims, written, counts, started_at, finished_at
    )


@flow(name="claim-intake-batch", validate_parameters=False, log_prints=False)
def batch_flow(
    inbox: Path,
    out: Path,
    workers: int = 2,
    config: Path | None = None,
    show_progress: bool = False,
) -> BatchSummary:
    """Inbox in, claim files out; packets run `workers` at a time, done packets are skipped."""
    logger = get_run_logger()
    _quiet_content_loggers()
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    batch_id = started_at.strftime("%Y%m%dT%H%M%S") + f"-{secrets.token_hex(3)}"
    settings = load_settings(config)
    ensure_private_dir(out / "claims")
    refs = discover(inbox)
    logger.info("batch %s: %d packets in %s", batch_id, len(refs), inbox.name)
    resources = load_resources(settings)
    console = Console(stderr=True) if show_progress else None
    outcomes: list[PacketOutcome] = []
    with (
        Ledger.open(settings.ledger_url or default_ledger_path(out)) as ledger,
        _executor(workers) as executor,
        _progress(console) as progress,
    ):
        context = BatchContext(
            resources=resources,
            executor=executor,
            inbox=inbox,
            out=out,
            ledger=ledger,
            history=LedgerClaimHistory(ledger),
            worker_id=worker_identity(),
            order=InboxOrder([ref.name for ref in refs]),
        )
        bar = progress.add_task("packets", total=len(refs))
        pages_bar = progress.add_task("pages", total=None)
        futures = [handle_packet.submit(ref, context) for ref in refs]
        for future in as_completed(futures):
            outcome = future.result()
            outcomes.append(outcome)
            progress.advance(bar)
            progress.advance(pages_bar, outcome.pages)
    outcomes.sort(key=lambda o: o.packet)
    summary = _summarise(batch_id, outcomes, time.perf_counter() - started)
    write_batch_files(out, summary, started_at, datetime.now(UTC))
    logger.info(
        "batch %s: %d claims, %d quarantined, %d skipped, %d pages",
        batch_id,
        summary.claims_written,
        summary.quarantined,
        summary.skipped,
        summary.pages,
    )
    return summary


def batch_flow_for(workers: int):  # noqa: ANN201 - Prefect's Flow type is generic
    """The flow with `workers` packets side by side."""
    runner: Any = ThreadPoolTaskRunner(max_workers=max(1, workers))  # its generic is unbound here
    return batch_flow.with_options(task_runner=runner)


def summary_table(summary: BatchSummary) -> Table:
    """One row per figure, so the table reads the same in a narrow terminal or a log."""
    table = Table(title=f"claim-intake batch {summary.batch_id}")
    table.add_column("", style="bold")
    table.add_column("value", justify="right")
    rows = [
        ("packets", summary.packets),
        ("pages", summary.pages),
        ("claims written", summary.claims_written),
        ("quarantined", summary.quarantined),
        ("skipped (already done)", summary.skipped),
        ("needs_review", summary.needs_review),
        ("incomplete", summary.incomplete),
        ("ready", summary.ready),
        ("rejected", summary.rejected),
        ("seconds", f"{summary.seconds:.1f}"),
        ("pages/s", f"{summary.pages_per_second:.2f}"),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    return table
