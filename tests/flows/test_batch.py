"""End-to-end: the Prefect batch flow over a tiny inbox with good and bad packets."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from pypdf import PdfReader, PdfWriter

from pipeline.schema import Claim
from tests.helpers import text_pdf

INVOICE_LINES = [
    "Lakeside Family Medicine",
    "NPI: 1234567893",
    "ITEMIZED STATEMENT",
    "Invoice No: INV-55120            Invoice Date: 03/04/2026",
    "Patient: Dana K. Whitfield       Date of Birth: 07/19/1984",
    "Member ID: WXQ448812",
    "Date        Code    Description                Units   Amount",
    "03/02/2026  99213   Office visit, established  1       $125.00",
    "03/02/2026  85025   Complete blood count       1       $28.50",
    "Total Charges                                          $153.50",
]


def _invoice_pdf() -> bytes:
    return text_pdf(INVOICE_LINES)


def _png_bytes() -> bytes:
    image = Image.new("L", (400, 200), 255)
    ImageDraw.Draw(image).text((20, 80), "Progress note", fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _encrypted_pdf(plain: bytes) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(plain)))
    writer.encrypt("secret")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    inbox = tmp_path / "inbox"
    (inbox / "folder-packet").mkdir(parents=True)
    plain = _invoice_pdf()
    (inbox / "folder-packet" / "invoice.pdf").write_bytes(plain)
    (inbox / "single.pdf").write_bytes(plain)
    (inbox / "empty.pdf").write_bytes(b"")
    (inbox / "truncated.pdf").write_bytes(plain[: len(plain) // 3])
    (inbox / "locked.pdf").write_bytes(_encrypted_pdf(plain))
    (inbox / "really-a-png.pdf").write_bytes(_png_bytes())
    return inbox


def _partial(target: Path) -> Path:
    """The temp file an atomic write of `target` killed before its rename leaves."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.parent / f".{target.name}.k1ll3d_x.tmp"
    partial.write_text('{"half": ')
    return partial


def _killed_writes(inbox: Path, out: Path) -> list[Path]:
    """Temp files of a single.pdf's claim and FHIR bundle, and of empty.pdf's quarantine record."""
    from pipeline.io.ingest import discover_packets, packet_sha256
    from pipeline.process import claim_id_for

    single = next(ref for ref in discover_packets(inbox) if ref.name == "single.pdf")
    claim_id = claim_id_for(packet_sha256(single))
    return [
        _partial(out / "claims" / f"{claim_id}.json"),
        _partial(out / "fhir" / f"{claim_id}.json"),
        _partial(out / "quarantine" / "empty.pdf.json"),
    ]


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_batch_flow_end_to_end(prefect_harness, inbox: Path, tmp_path: Path):
    from flows.batch import batch_flow_for

    before = _digest(inbox)
    out = tmp_path / "out"
    # What a run killed mid-write left: this run, owning those packets, removes their temp
    # files; an hour-old one anywhere goes too; a fresh one of another writer stays.
    partials = [*_killed_writes(inbox, out), _partial(out / "batches" / "b0" / "summary.json")]
    os.utime(partials[-1], (time.time() - 7200,) * 2)
    live = _partial(out / "claims" / "clm-being-written.json")
    summary = batch_flow_for(2)(inbox=inbox, out=out, workers=2)
    assert not [p for p in partials if p.exists()] and live.exists()

    assert summary.packets == 6
    quarantined = {o.packet: o.reason for o in summary.outcomes if o.quarantined}
    assert set(quarantined) == {"empty.pdf", "truncated.pdf", "locked.pdf"}
    assert "empty" in quarantined["empty.pdf"].lower() or "zero" in quarantined["empty.pdf"].lower()
    assert "encrypt" in quarantined["locked.pdf"].lower()
    for name in quarantined:
        record = json.loads((out / "quarantine" / f"{name}.json").read_text())
        assert record["reason"] and record["path"].endswith(name)

    claims = [
        Claim.model_validate_json(p.read_text()) for p in sorted((out / "claims").glob("*.json"))
    ]
    assert len(claims) == 3 == summary.claims_written
    by_source = {c.packet.source: c for c in claims}
    assert set(by_source) == {"folder-packet", "single.pdf", "really-a-png.pdf"}
    # Ids come from names and bytes inside the packet: invoice.pdf and single.pdf differ.
    assert by_source["folder-packet"].claim_id != by_source["single.pdf"].claim_id
    invoice = by_source["single.pdf"]
    assert invoice.packet.page_count == 1
    pages = [(p.file, p.page) for d in invoice.documents for p in d.pages]
    assert pages == [("single.pdf", 1)]
    assert _digest(inbox) == before, "input files must never change"

    # A re-run gives the same claim content, processing time aside.
    again = batch_flow_for(1)(inbox=inbox, out=tmp_path / "out2", workers=1)
    assert again.claims_written == 3
    for claim in claims:
        twin = Claim.model_validate_json(
            (tmp_path / "out2" / "claims" / f"{claim.claim_id}.json").read_text()
        )
        assert twin.model_dump(exclude={"processed_at"}) == claim.model_dump(
            exclude={"processed_at"}
        )


@pytest.mark.slow
def test_batch_flow_stops_when_models_do_not_load_and_gives_packets_back(
    prefect_harness, tmp_path: Path
):
    """Reading starts before the models are loaded; if they never load, the batch stops with
    the reason, quarantines nothing, and the next run takes the packets at once."""
    from flows.batch import batch_flow_for

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.pdf").write_bytes(_invoice_pdf())
    (inbox / "b.pdf").write_bytes(text_pdf([*INVOICE_LINES, "Page 1 of 1"]))
    broken = tmp_path / "broken.toml"
    broken.write_text(f'models_dir = "{tmp_path / "no-models"}"\n')
    out = tmp_path / "out"
    with pytest.raises(Exception, match="models could not be loaded.*not found"):
        batch_flow_for(2)(inbox=inbox, out=out, workers=2, config=broken)
    assert not (out / "quarantine").exists() or not any((out / "quarantine").iterdir())

    summary = batch_flow_for(2)(inbox=inbox, out=out, workers=2)
    assert summary.skipped == 0 and summary.claims_written == 2


def test_batch_takes_the_models_preloaded_for_its_settings(monkeypatch):
    """`claim-intake run` starts loading the models while Prefect's server starts; the batch
    with those settings takes that load, any other settings get their own, and a preload is
    taken once."""
    from concurrent.futures import Future

    from flows import batch
    from pipeline.config import load_settings

    started: list[Future] = []

    def load(settings):
        started.append(Future())
        return started[-1]

    monkeypatch.setattr(batch, "_load_in_background", load)
    settings = load_settings()
    other = settings.model_copy(update={"score_fraud": not settings.score_fraud})

    batch.preload_resources(settings)
    assert batch._resources_for(other) is started[1]
    assert batch._resources_for(settings) is started[0]
    assert batch._resources_for(settings) is started[2]


def test_batch_parses_python_one_thread_at_a_time(monkeypatch):
    """The models load on a thread beside the batch's (skops reads ~1,950 array headers with
    `ast.literal_eval`); on CPython 3.11 two threads parsing at once, with the garbage
    collector switching threads mid-parse, fail with "AST constructor recursion depth
    mismatch". Without `serialize_ast_parsing` this workload fails within its 1.5 s."""
    import ast
    import gc
    import sys
    import threading
    import time

    from flows import batch

    monkeypatch.setattr(ast, "parse", ast.parse)  # undone after the test
    batch.serialize_ast_parsing()
    batch.serialize_ast_parsing()  # once only: not a lock around a lock
    assert ast.parse.__wrapped__.__name__ == "parse"  # type: ignore[attr-defined]

    class Cycle:
        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            sum(range(20))  # Python code run by the collector: a chance to switch threads

    errors: list[str] = []
    done = threading.Event()
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }"
    body = "def f(x):\n" + "\n".join(f"    y{i} = [x + {i} for x in range(9)]" for i in range(50))

    def garbage() -> None:
        while not done.is_set():
            for _ in range(100):
                Cycle()
            time.sleep(0.001)

    def parse(text: str, seconds: float) -> None:
        until = time.monotonic() + seconds
        try:
            while time.monotonic() < until and not errors:
                ast.literal_eval(text) if text is header else ast.parse(text)
        except SystemError as exc:
            errors.append(str(exc))

    interval, thresholds = sys.getswitchinterval(), gc.get_threshold()
    sys.setswitchinterval(1e-6)
    gc.set_threshold(50, 1, 1)
    try:
        collector = threading.Thread(target=garbage)
        collector.start()
        parsers = [
            threading.Thread(target=parse, args=(header if i % 2 else body, 1.5)) for i in range(4)
        ]
        for thread in parsers:
            thread.start()
        for thread in parsers:
            thread.join()
        done.set()
        collector.join()
    finally:
        sys.setswitchinterval(interval)
        gc.set_threshold(*thresholds)
    assert errors == []
