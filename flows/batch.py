"""The batch flow: every packet in an inbox becomes a claim file or a quarantine record.

The flow body is the table of contents; the work is in `pipeline.intake` (reading) and
`pipeline.process` (understanding). Packets run side by side on a thread pool; their scanned
pages go to a process pool of Tesseract workers (one thread each), so both cores stay busy
on one big packet or many small ones. Reading needs no models: it starts at once, while a
background thread imports spaCy, the ICD-10-CM tables and scikit-learn and loads the models
(10-30 s on a busy two-core machine, which the batch used to wait for).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import logging
import secrets
import threading
import time
import traceback
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.config import Settings, load_settings
from pipeline.errors import ReviewError, UnreadablePacketError
from pipeline.intake import read_stage
from pipeline.io.emit import (
    QuarantineRecord,
    atomic_write_json,
    discard_partial_writes,
    ensure_private_dir,
    quarantine_path,
    sweep_partial_writes,
    write_quarantine,
)
from pipeline.io.exports import BatchCounts, write_batch_exports
from pipeline.io.fhir import fhir_path, write_fhir
from pipeline.io.ingest import PacketRef, discover_packets, packet_sha256
from pipeline.ledger import (
    Claimed,
    Ledger,
    Skip,
    display_target,
    ledger_target,
    worker_identity,
)
from pipeline.ledger.history import LedgerClaimHistory
from pipeline.reading.ocr import init_ocr_worker
from pipeline.reading.pool import RecoveringPool
from pipeline.review.store import REVIEW_DB_NAME, open_store
from pipeline.schema import Claim, Flag

if TYPE_CHECKING:
    from pipeline.process import Resources
    from pipeline.review.supersede import ReviewHistory

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
    claim_ids: list[str] = Field(
        default_factory=list, description="all claims of the packet (several for a batch file)"
    )
    status: str | None = None
    statuses: list[str] = Field(default_factory=list, description="status of each claim")
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

    loading: Future[Resources]
    executor: Executor | None
    inbox: Path
    out: Path
    ledger: Ledger
    history: LedgerClaimHistory
    worker_id: str
    settings: Settings
    order: InboxOrder | None = None

    @property
    def resources(self) -> Resources:
        """The batch's models, once loaded; raises BatchStopped if they could not be."""
        try:
            return self.loading.result()
        except Exception as exc:  # noqa: BLE001 - any load failure stops the batch
            raise BatchStopped(f"the batch's models could not be loaded: {exc}") from exc


class BatchStopped(Exception):
    """The batch cannot go on (its models did not load): packets in flight are given back."""


_preloaded: dict[str, Future[Resources]] = {}
_preloaded_lock = threading.Lock()


def preload_resources(settings: Settings) -> None:
    """Start loading the models of `settings` now, on a thread. `claim-intake run` calls it
    while Prefect's temporary server starts; the next batch flow of this process with the
    same settings takes these models instead of loading its own on the batch's time."""
    future = _load_in_background(settings)
    with _preloaded_lock:
        _preloaded[settings.model_dump_json()] = future


def _resources_for(settings: Settings) -> Future[Resources]:
    """The models preloaded for these settings, or a load started now."""
    with _preloaded_lock:
        future = _preloaded.pop(settings.model_dump_json(), None)
    return future if future is not None else _load_in_background(settings)


_AST_LOCK = threading.RLock()


def serialize_ast_parsing() -> None:
    """Make `ast.parse` (and so `ast.literal_eval`) run one thread at a time in this process.

    CPython 3.11 counts the depth of the Python objects it builds for a parsed tree in state
    shared by all threads; when a thread switch lands inside one parse (a finalizer run by
    the garbage collector is enough) and another thread parses meanwhile, one of them fails
    with "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905,
    pytest-dev/pytest#10763). Loading the models beside the batch's threads parses about
    1,950 array headers (skops -> numpy), while Prefect and pydantic parse too: one CI run
    lost its whole batch ("the batch's models could not be loaded") that way.
    """
    if getattr(ast.parse, "_one_thread_at_a_time", False):
        return
    parse = ast.parse

    @functools.wraps(parse)
    def one_at_a_time(*args: Any, **kwargs: Any) -> Any:
        with _AST_LOCK:
            return parse(*args, **kwargs)

    one_at_a_time._one_thread_at_a_time = True  # type: ignore[attr-defined]
    ast.parse = one_at_a_time


def _load_in_background(settings: Settings) -> Future[Resources]:
    """Import the understanding half of the pipeline and load its models on a thread."""
    serialize_ast_parsing()
    loading: Future[Resources] = Future()

    def load() -> None:
        try:
            from pipeline.process import load_resources

            loading.set_result(load_resources(settings))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for it
            loading.set_exception(exc)

    threading.Thread(target=load, name="load-resources", daemon=True).start()
    return loading


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
        with context.ledger.keep_alive(claimed):
            packet = read_stage(
                ref, context.settings, executor=context.executor, inbox=context.inbox, sha256=sha
            )
            from pipeline.process import understand

            result = understand(packet, context.resources)
    except BatchStopped:
        context.ledger.release(claimed)
        raise
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
    if context.order is not None and not context.order.wait_for_turn(ref.name):
        logger.warning(
            "packet %s scored out of inbox order (earlier packets still running)", ref.name
        )
    written: list[str] = []
    claims: list[Claim] = []
    notes: list[str] = []
    earlier = _previous_claim_ids(context.ledger, ref.name, claimed)
    for claim in result.claims:
        # A review carries over only where one claim follows one claim; the parts of a
        # re-scanned batch file are new claims (their earlier versions are listed below).
        previous = claimed.previous_claim_id if len(result.claims) == 1 else None
        if previous == claim.claim_id:
            previous = None
        try:
            claim, files, note = _write_claim(claim, previous, ref, context)
        except ReviewError as exc:
            return _quarantine(
                ref, context, claimed, reason=str(exc), error=type(exc).__name__, sha=sha
            )
        claims.append(claim)
        written += files
        notes += [note] if note else []
    new_ids = {claim.claim_id for claim in claims}
    for previous in earlier:
        if previous not in new_ids:
            _retire(out, previous)
    claim_file = out / "claims" / f"{claims[0].claim_id}.json"
    context.ledger.mark_done(
        claimed, claims[0].claim_id, claim_file, seconds=time.perf_counter() - started
    )
    logger.info(
        "packet %s: %d pages, %d claim(s), status %s",
        ref.name,
        result.pages,
        len(claims),
        ", ".join(claim.status for claim in claims),
    )
    return PacketOutcome(
        packet=ref.name,
        pages=result.pages,
        claim_id=claims[0].claim_id,
        claim_ids=[claim.claim_id for claim in claims],
        status=claims[0].status,
        statuses=[claim.status for claim in claims],
        reason="; ".join(notes) or None,
        written=written,
        seconds=result.seconds,
    )


def _write_claim(
    claim: Claim, previous: str | None, ref: PacketRef, context: BatchContext
) -> tuple[Claim, list[str], str | None]:
    """Score, link to the claim it supersedes and write one claim of the packet: (the claim
    as written, files written, a note). A claim reviewed before is kept as the adjuster left it.
    """
    from pipeline.review.supersede import review_history, reviewed_claim, superseded_flag

    out = context.out
    claim_file = out / "claims" / f"{claim.claim_id}.json"
    restored = not claim_file.is_file()
    kept = reviewed_claim(out, claim.claim_id)
    prior = review_history(out, previous) if previous and kept is None else None
    if kept is not None:
        # These bytes were processed and reviewed before: the adjuster's claim file stands.
        context.history.add(kept, packet_name=ref.name)
        logging.getLogger("claim_intake.batch").info(
            "packet %s: claim was reviewed before; the reviewed file is kept", ref.name
        )
        return kept, [str(claim_file)] if restored else [], "reviewed claim kept"
    claim = score_and_record(claim, ref.name, context)
    # A run killed while writing these files left temp files; this packet's claim is ours now.
    discard_partial_writes(claim_file)
    discard_partial_writes(fhir_path(out, claim.claim_id))
    if previous and prior is None:
        claim.flags.append(superseded_flag(previous))
    elif previous and prior is not None:
        claim = carry_review(claim, prior, ref.name, context)
    claim_path = write_output(claim_file, claim)
    return claim, [str(claim_path), str(write_fhir(out, claim))], None


def _previous_claim_ids(ledger: Ledger, packet_name: str, claimed: Claimed) -> list[str]:
    """Claims earlier versions of this packet wrote (several when it was a batch file)."""
    if not claimed.previous_claim_id:
        return []
    earlier = {claimed.previous_claim_id}
    for version in ledger.packet_history(packet_name):
        if version.sha256 == claimed.sha256:
            continue
        earlier.update(
            record.claim_id
            for record in ledger.claims_by_packet_sha256(version.sha256)
            if record.packet_name == packet_name
        )
    return sorted(earlier)


def carry_review(
    claim: Claim, prior: ReviewHistory, packet_name: str, context: BatchContext
) -> Claim:
    """A new version of a reviewed packet: carry the corrections that still hold, re-check,
    keep version 1 (the pipeline's output) and the carried version, and send it to review."""
    from pipeline.review.claims import Rechecker
    from pipeline.review.supersede import save_supersession, supersede

    resources = context.resources
    checker = Rechecker(
        thresholds=resources.settings.review,
        checklists=resources.checklists,
        fraud_model=resources.fraud_model,
        history=context.history,
    )
    result = supersede(claim, prior, checker)
    store = open_store(context.out) if (context.out / REVIEW_DB_NAME).is_file() else None
    save_supersession(context.out, claim, result, store)
    context.history.add(result.claim, packet_name=packet_name)
    logging.getLogger("claim_intake.batch").info(
        "packet %s supersedes reviewed claim %s: %d correction(s) carried, %d to check again",
        packet_name,
        prior.claim_id,
        len(result.carried),
        len(result.not_carried),
    )
    return result.claim


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
    from pipeline.process import apply_fraud

    claim = apply_fraud(claim, context.resources, context.history)
    if duplicates:
        claim.status = "rejected"
    context.history.add(claim, packet_name=packet_name)
    return claim


def _retire(out: Path, claim_id: str) -> None:
    """A packet's bytes changed: its older claim and bundle give way to the new version's.

    A reviewed claim's versions stay in OUT/review/versions/<claim_id>/."""
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
    if claimed is not None:  # the packet is ours: what a killed run left of its record goes
        discard_partial_writes(quarantine_path(context.out, ref.name))
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


def _executor(workers: int) -> RecoveringPool:
    """Worker processes for OCR and text layers; a page that kills its worker costs that
    page, not the rest of the batch."""
    return RecoveringPool(max_workers=workers, initializer=init_ocr_worker)


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
    statuses = [status for o in outcomes if not o.skipped for status in o.statuses]
    return BatchSummary(
        batch_id=batch_id,
        packets=len(outcomes),
        pages=sum(o.pages for o in outcomes),
        claims_written=sum(len(o.claim_ids) for o in outcomes if not o.skipped),
        quarantined=sum(1 for o in outcomes if o.quarantined),
        skipped=sum(1 for o in outcomes if o.skipped),
        needs_review=statuses.count("needs_review"),
        incomplete=statuses.count("incomplete"),
        ready=statuses.count("ready"),
        rejected=statuses.count("rejected"),
        seconds=round(seconds, 3),
        outcomes=outcomes,
    )


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def write_batch_files(
    out: Path, summary: BatchSummary, started_at: datetime, finished_at: datetime
) -> Path:
    """claims.jsonl, line_items.csv, summary.json and the manifest of everything written."""
    claims = [
        Claim.model_validate_json((out / "claims" / f"{claim_id}.json").read_bytes())
        for o in summary.outcomes
        if not o.skipped
        for claim_id in o.claim_ids
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
    ledger_url: SecretStr | None = None,
) -> BatchSummary:
    """Inbox in, claim files out; packets run `workers` at a time, done packets are skipped.

    `ledger_url` (a shared PostgreSQL ledger, say) wins over the settings' `ledger_url`; it is a
    SecretStr so that Prefect records it masked, password included.
    """
    logger = get_run_logger()
    _quiet_content_loggers()
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    batch_id = started_at.strftime("%Y%m%dT%H%M%S") + f"-{secrets.token_hex(3)}"
    settings = load_settings(config)
    ledger_at = ledger_target(
        out, ledger_url.get_secret_value() if ledger_url is not None else settings.ledger_url
    )
    ensure_private_dir(out / "claims")
    sweep_partial_writes(out)
    refs = discover(inbox)
    logger.info(
        "batch %s: %d packets in %s, ledger %s",
        batch_id,
        len(refs),
        inbox.name,
        display_target(ledger_at),
    )
    loading = _resources_for(settings)
    console = Console(stderr=True) if show_progress else None
    outcomes: list[PacketOutcome] = []
    with (
        Ledger.open(ledger_at) as ledger,
        _executor(workers) as executor,
        _progress(console) as progress,
    ):
        context = BatchContext(
            loading=loading,
            settings=settings,
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
    """The flow with `workers` OCR processes and two packets more than that side by side: a
    packet waiting for its turn to be scored (inbox order) or being understood in this
    process does not leave the OCR processes without pages to read."""
    runner: Any = ThreadPoolTaskRunner(max_workers=max(1, workers) + 2)  # generic unbound here
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
