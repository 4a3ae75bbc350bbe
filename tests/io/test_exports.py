"""Batch exports: jsonl and csv content, manifest sha256s, refusals with named errors."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.errors import ExportError
from pipeline.io.emit import atomic_write_json
from pipeline.io.exports import (
    LINE_ITEM_COLUMNS,
    BatchCounts,
    read_manifest,
    write_batch_exports,
)
from pipeline.schema import (
    Claim,
    ClaimDocument,
    ExtractedField,
    LineItem,
    PacketInfo,
    PageRef,
    Source,
)


def _claim(claim_id: str, packet: str, items: list[LineItem]) -> Claim:
    return Claim(
        claim_id=claim_id,
        packet=PacketInfo(source=packet, sha256="a" * 64, files=[packet], page_count=2),
        documents=[
            ClaimDocument(
                doc_type="invoice",
                confidence=0.98,
                pages=[PageRef(file=packet, page=1)],
                fields={"invoice_number": ExtractedField(value="INV-1", confidence=0.9)},
            )
        ],
        line_items=items,
    )


def _item(code: str | None, description: str | None, amount: float | None) -> LineItem:
    return LineItem(
        document=0,
        service_date="2026-03-02",
        code=code,
        code_system="CPT" if code else None,
        description=description,
        quantity=1,
        unit_price=amount,
        amount=amount,
        confidence=0.93,
        source=Source(file="scan.pdf", page=2, bbox=(0.1, 0.2, 0.5, 0.25)),
    )


def _run(tmp_path: Path) -> tuple[Path, list[Claim], list[Path]]:
    out = tmp_path / "out"
    claims = [
        _claim("zz-2", "b.pdf", [_item("99213", 'Office visit, "level 3"\nfollow-up', 125.0)]),
        _claim("aa-1", "a.pdf", [_item(None, None, None), _item("85025", "CBC", 12.5)]),
    ]
    written = [atomic_write_json(out / "claims" / f"{c.claim_id}.json", c) for c in claims]
    quarantine = out / "quarantine" / "bad.json"
    atomic_write_json(quarantine, {"packet": "bad", "reason": "encrypted"})
    written.append(Path("quarantine/bad.json"))  # relative to OUT is accepted too
    return out, claims, written


def test_exports_jsonl_sorted_one_claim_per_line(tmp_path: Path) -> None:
    out, claims, written = _run(tmp_path)
    counts = BatchCounts(packets=3, claims=2, quarantined=1, skipped=0, pages=4)
    write_batch_exports(out, "b1", claims, written, counts, datetime.now(UTC), datetime.now(UTC))
    lines = (out / "batches" / "b1" / "claims.jsonl").read_text().splitlines()
    assert [json.loads(line)["claim_id"] for line in lines] == ["aa-1", "zz-2"]
    assert Claim.model_validate_json(lines[1]) == claims[0]


def test_exports_csv_rows_and_quoting(tmp_path: Path) -> None:
    out, claims, written = _run(tmp_path)
    counts = BatchCounts(packets=3, claims=2, quarantined=1)
    write_batch_exports(out, "b1", claims, written, counts, "2026-03-01T00:00:00+00:00", "x")
    raw = (out / "batches" / "b1" / "line_items.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(raw, newline="")))
    assert tuple(rows[0]) == LINE_ITEM_COLUMNS
    assert [r["claim_id"] for r in rows] == ["aa-1", "aa-1", "zz-2"]
    assert rows[0]["code"] == "" and rows[0]["amount"] == ""
    assert rows[1]["code"] == "85025" and float(rows[1]["amount"]) == 12.5
    assert rows[2]["description"] == 'Office visit, "level 3"\nfollow-up'
    assert rows[2]["doc_type"] == "invoice" and rows[2]["packet"] == "b.pdf"
    assert rows[2]["file"] == "scan.pdf" and rows[2]["page"] == "2"


def test_exports_manifest_lists_every_file_with_sha256(tmp_path: Path) -> None:
    out, claims, written = _run(tmp_path)
    counts = BatchCounts(packets=3, claims=2, quarantined=1, skipped=1, pages=4)
    started = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    path = write_batch_exports(out, "b1", claims, written, counts, started, datetime.now(UTC))
    manifest = read_manifest(path)
    assert manifest.started_at == "2026-03-01T09:00:00+00:00"
    assert manifest.counts == counts
    listed = {entry.path: entry for entry in manifest.files}
    assert set(listed) == {
        "claims/aa-1.json",
        "claims/zz-2.json",
        "quarantine/bad.json",
        "batches/b1/claims.jsonl",
        "batches/b1/line_items.csv",
    }
    for rel, entry in listed.items():
        data = (out / rel).read_bytes()
        assert entry.sha256 == hashlib.sha256(data).hexdigest()
        assert entry.size == len(data)
    assert (path.stat().st_mode & 0o777) == 0o600


def test_exports_refuses_missing_and_outside_files(tmp_path: Path) -> None:
    out, claims, written = _run(tmp_path)
    counts = BatchCounts(packets=2, claims=2, quarantined=0)
    outside = tmp_path / "elsewhere.json"
    outside.write_text("{}")
    with pytest.raises(ExportError, match="outside"):
        write_batch_exports(out, "b1", claims, [outside], counts, "s", "f")
    with pytest.raises(ExportError, match="does not exist"):
        write_batch_exports(out, "b1", claims, [out / "claims" / "nope.json"], counts, "s", "f")
    with pytest.raises(ExportError, match="single folder name"):
        write_batch_exports(out, "../evil", claims, written, counts, "s", "f")
