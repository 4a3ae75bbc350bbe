"""Corrupted PDFs and images: every one becomes a claim or a named, quarantinable error."""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from pipeline.config import load_settings
from pipeline.errors import UnreadablePacketError
from pipeline.io.ingest import discover_packets
from pipeline.process import load_resources, process_packet


def _pdf() -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    pdf.drawString(72, 700, "ITEMIZED STATEMENT  Invoice No: INV-1  Total Charges $10.00")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _png() -> bytes:
    image = Image.fromarray(
        (np.random.default_rng(0).random((300, 240)) > 0.97).astype(np.uint8) * 255
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _tiff() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (200, 200), 255).save(buffer, format="TIFF", compression="tiff_lzw")
    return buffer.getvalue()


def _mutations(data: bytes, rng: random.Random, count: int) -> list[bytes]:
    variants = [data[:0], data[:8], data[: len(data) // 2], data[:-20]]
    for _ in range(count):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 12)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        variants.append(bytes(mutated))
    return variants


@pytest.fixture(scope="module")
def resources():
    return load_resources(load_settings())


@pytest.mark.slow
def test_process_fuzz_corrupted_files_never_crash(tmp_path: Path, resources):
    rng = random.Random(1234)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for kind, data in (("pdf", _pdf()), ("png", _png()), ("tif", _tiff())):
        for index, variant in enumerate(_mutations(data, rng, 6)):
            (inbox / f"{kind}-{index:02d}.{kind}").write_bytes(variant)
    outcomes = {"claim": 0, "quarantined": 0}
    for ref in discover_packets(inbox):
        try:
            result = process_packet(ref, resources)
        except UnreadablePacketError as exc:
            assert str(exc), f"{ref.name}: an error must say why"
            outcomes["quarantined"] += 1
        else:
            assert result.claim.packet.source == ref.name
            outcomes["claim"] += 1
    assert outcomes["quarantined"] >= 6  # at least the empty and 8-byte files of each kind
    assert sum(outcomes.values()) == 30
