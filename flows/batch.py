"""The batch flow: every packet in an inbox becomes a claim file or a quarantine record.

The flow body is the table of contents; the work is in `pipeline.process`. Packets run
side by side on a thread pool; their scanned pages go to a process pool of Tesseract
workers (one thread each), so both cores stay busy on one big packet or many small ones.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
import traceback
from concurrent.futures import Executor, ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

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
from pipeline.io.ingest import PacketRef, discover_packets, packet_sha256
from pipeline.process import Resources, load_resources, process_packet
from pipeline.reading.ocr import init_ocr_worker

__all__ = ["PacketOutcome", "BatchSummary", "batch_flow", "batch_flow_for", "summary_table"]


class PacketOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid")

    packet: str
    pages: int = 0
    claim_id: str | None = None
    status: str | None = None
    quarantined: bool = False
    reason: str | None = None
    seconds: dict[str, float] = Field(default_factory=dict)


class BatchSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_id: str
    packets: int
    pages: int
    claims_written: int
    quarantined: int
    needs_review: int
    incomplete: int
    ready: int
    seconds: float
    outcomes: list[PacketOutcome]

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else 0.0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@task(cache_policy=NO_CACHE)
def discover(inbox: Path) -> list[PacketRef]:
    return discover_packets(inbox)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def write_output(path: Path, payload: BaseModel) -> Path:
    return atomic_write_json(path, payload)


@task(cache_policy=NO_CACHE)
def handle_packet(
    ref: PacketRef,
    resources: Resources,
    executor: Executor | None,
    inbox: Path,
    out: Path,
) -> PacketOutcome:
    """Process one packet; any failure quarantines it with its reason and the batch goes on."""
    logger = logging.getLogger("claim_intake.batch")
    try:
        result = process_packet(ref, resources, executor=executor, inbox=inbox)
    except UnreadablePacketError as exc:
        return _quarantine(ref, out, reason=str(exc), error=type(exc).__name__)
    except Exception as exc:  # noqa: BLE001 - the batch edge: quarantine, log, go on
        logger.error("packet %s failed: %s", ref.name, type(exc).__name__)
        logger.debug("%s", traceback.format_exc())
        return _quarantine(
            ref,
            out,
            reason=f"internal error while processing the packet ({type(exc).__name__}); "
            "the packet is kept for a re-run after a fix",
            error=type(exc).__name__,
        )
    claim = result.claim
    write_output(out / "claims" / f"{claim.claim_id}.json", claim)
    logger.info("packet %s: %d pages, status %s", ref.name, result.pages, claim.status)
    return PacketOutcome(
        packet=ref.name,
        pages=result.pages,
        claim_id=claim.claim_id,
        status=claim.status,
        seconds=result.seconds,
    )


def _quarantine(ref: PacketRef, out: Path, reason: str, error: str) -> PacketOutcome:
    try:
        sha: str | None = packet_sha256(ref)
    except OSError:
        sha = None
    write_quarantine(
        out,
        QuarantineRecord(
            packet=ref.name,
            path=str(ref.root),
            sha256=sha,
            reason=reason,
            error=error,
            quarantined_at=_now(),
        ),
    )
    logging.getLogger("claim_intake.batch").warning("packet %s quarantined (%s)", ref.name, error)
    return PacketOutcome(packet=ref.name, quarantined=True, reason=reason)


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


def _summarise(
    batch_id: str, outcomes: list[PacketOutcome], seconds: float, out: Path
) -> BatchSummary:
    summary = BatchSummary(
        batch_id=batch_id,
        packets=len(outcomes),
        pages=sum(o.pages for o in outcomes),
        claims_written=sum(1 for o in outcomes if o.claim_id),
        quarantined=sum(1 for o in outcomes if o.quarantined),
        needs_review=sum(1 for o in outcomes if o.status == "needs_review"),
        incomplete=sum(1 for o in outcomes if o.status == "incomplete"),
        ready=sum(1 for o in outcomes if o.status == "ready"),
        seconds=round(seconds, 3),
        outcomes=outcomes,
    )
    atomic_write_json(out / "batches" / batch_id / "summary.json", summary)
    return summary


@flow(name="claim-intake-batch", validate_parameters=False, log_prints=False)
def batch_flow(
    inbox: Path,
    out: Path,
    workers: int = 2,
    config: Path | None = None,
    show_progress: bool = False,
) -> BatchSummary:
    """Inbox in, claim files out; packets run `workers` at a time."""
    logger = get_run_logger()
    started = time.perf_counter()
    batch_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    settings = load_settings(config)
    ensure_private_dir(out / "claims")
    refs = discover(inbox)
    logger.info("batch %s: %d packets in %s", batch_id, len(refs), inbox.name)
    resources = load_resources(settings)
    console = Console(stderr=True) if show_progress else None
    outcomes: list[PacketOutcome] = []
    with _executor(workers) as executor, _progress(console) as progress:
        bar = progress.add_task("packets", total=len(refs))
        pages_bar = progress.add_task("pages", total=None)
        futures = [handle_packet.submit(ref, resources, executor, inbox, out) for ref in refs]
        for future in as_completed(futures):
            outcome = future.result()
            outcomes.append(outcome)
            progress.advance(bar)
            progress.advance(pages_bar, outcome.pages)
    outcomes.sort(key=lambda o: o.packet)
    summary = _summarise(batch_id, outcomes, time.perf_counter() - started, out)
    logger.info(
        "batch %s: %d claims, %d quarantined, %d pages",
        batch_id,
        summary.claims_written,
        summary.quarantined,
        summary.pages,
    )
    return summary


def batch_flow_for(workers: int):  # noqa: ANN201 - Prefect's Flow type is generic
    """The flow with `workers` packets side by side."""
    return batch_flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=max(1, workers)))


def summary_table(summary: BatchSummary) -> Table:
    table = Table(title=f"claim-intake batch {summary.batch_id}")
    for column in (
        "packets",
        "pages",
        "claims written",
        "quarantined",
        "needs_review",
        "incomplete",
        "ready",
        "seconds",
        "pages/s",
    ):
        table.add_column(column, justify="right")
    table.add_row(
        str(summary.packets),
        str(summary.pages),
        str(summary.claims_written),
        str(summary.quarantined),
        str(summary.needs_review),
        str(summary.incomplete),
        str(summary.ready),
        f"{summary.seconds:.1f}",
        f"{summary.pages_per_second:.2f}",
    )
    return table
