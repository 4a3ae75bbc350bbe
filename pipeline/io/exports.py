"""Per-batch exports for core systems: `OUT/batches/<batch_id>/` claims.jsonl, line_items.csv
and a manifest of every file the run wrote.

Core systems load whole batches, not folders of single files; the manifest's sha256s let
them check that what they load is what the run wrote. Every file lands atomically.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from pipeline.errors import ExportError
from pipeline.io.emit import atomic_write_json, atomic_write_text, sha256_file
from pipeline.schema import Claim

__all__ = [
    "LINE_ITEM_COLUMNS",
    "BatchCounts",
    "ManifestFile",
    "BatchManifest",
    "batch_dir",
    "claims_jsonl",
    "line_items_csv",
    "write_batch_exports",
    "read_manifest",
]

LINE_ITEM_COLUMNS: tuple[str, ...] = (
    "claim_id",
    "packet",
    "document",
    "doc_type",
    "service_date",
    "code",
    "code_system",
    "description",
    "quantity",
    "unit_price",
    "amount",
    "confidence",
    "file",
    "page",
)


class BatchCounts(BaseModel):
    """What the run saw: `skipped` are packets the ledger found already done or in progress."""

    model_config = ConfigDict(extra="forbid")

    packets: int = Field(ge=0)
    claims: int = Field(ge=0)
    quarantined: int = Field(ge=0)
    skipped: int = Field(default=0, ge=0)
    pages: int = Field(default=0, ge=0)


class ManifestFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="relative to OUT, with forward slashes")
    size: int = Field(ge=0)
    sha256: str


class BatchManifest(BaseModel):
    """`OUT/batches/<batch_id>/manifest.json`."""

    model_config = ConfigDict(extra="forbid")

    batch_id: str
    started_at: str
    finished_at: str
    counts: BatchCounts
    files: list[ManifestFile]


def batch_dir(out: Path, batch_id: str) -> Path:
    """The batch folder; a batch id that would escape `OUT/batches/` is refused."""
    if not batch_id or batch_id in {".", ".."} or "/" in batch_id or "\\" in batch_id:
        raise ExportError(
            f"batch id {batch_id!r} must be a single folder name (no slashes, not '.' or '..')"
        )
    return out / "batches" / batch_id


def _sorted(claims: list[Claim]) -> list[Claim]:
    return sorted(claims, key=lambda claim: claim.claim_id)


def claims_jsonl(claims: list[Claim]) -> str:
    """One claim file per line, compact, sorted by claim id so reruns diff cleanly."""
    return "".join(claim.model_dump_json() + "\n" for claim in _sorted(claims))


def _cell(value: object) -> object:
    # csv writes None as "", which is what loaders read as missing; floats keep repr precision.
    return "" if value is None else value


def line_items_csv(claims: list[Claim]) -> str:
    """One row per line item with its claim, document type and source page."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(LINE_ITEM_COLUMNS)
    for claim in _sorted(claims):
        for item in claim.line_items:
            doc_type = (
                claim.documents[item.document].doc_type
                if item.document < len(claim.documents)
                else None
            )
            row = (
                claim.claim_id,
                claim.packet.source,
                item.document,
                doc_type,
                item.service_date,
                item.code,
                item.code_system,
                item.description,
                item.quantity,
                item.unit_price,
                item.amount,
                item.confidence,
                item.source.file if item.source else None,
                item.source.page if item.source else None,
            )
            writer.writerow([_cell(value) for value in row])
    return buffer.getvalue()


def _iso(moment: datetime | str) -> str:
    return moment if isinstance(moment, str) else moment.isoformat(timespec="seconds")


def _manifest_entry(out: Path, path: Path) -> ManifestFile:
    root = out.resolve()
    full = path if path.is_absolute() else out / path
    resolved = full.resolve()
    if not resolved.is_relative_to(root):
        raise ExportError(f"written file {path} lies outside the output folder {out}")
    if not resolved.is_file():
        raise ExportError(f"written file {path} does not exist (or is not a file) under {out}")
    return ManifestFile(
        path=resolved.relative_to(root).as_posix(),
        size=resolved.stat().st_size,
        sha256=sha256_file(resolved),
    )


def write_batch_exports(
    out: Path,
    batch_id: str,
    claims: list[Claim],
    written: list[Path],
    counts: BatchCounts,
    started_at: datetime | str,
    finished_at: datetime | str,
) -> Path:
    """Write claims.jsonl, line_items.csv and manifest.json; return the manifest's path.

    `written` are the claim files, quarantine records and FHIR bundles of this run
    (absolute or relative to `out`); the jsonl and csv are added here. Paths listed twice
    appear once.
    """
    folder = batch_dir(out, batch_id)
    jsonl = atomic_write_text(folder / "claims.jsonl", claims_jsonl(claims))
    table = atomic_write_text(folder / "line_items.csv", line_items_csv(claims))
    entries: dict[str, ManifestFile] = {}
    for path in [*written, jsonl, table]:
        entry = _manifest_entry(out, path)
        entries[entry.path] = entry
    manifest = BatchManifest(
        batch_id=batch_id,
        started_at=_iso(started_at),
        finished_at=_iso(finished_at),
        counts=counts,
        files=[entries[key] for key in sorted(entries)],
    )
    return atomic_write_json(folder / "manifest.json", manifest)


def read_manifest(path: Path) -> BatchManifest:
    """Load a manifest back, e.g. to verify a batch before loading it."""
    return BatchManifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
