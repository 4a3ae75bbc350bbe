"""A batch-scan file with barcode separator sheets becomes one claim per packet."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from pipeline.classify.separators import split_at_separators
from pipeline.document import Line, Page, Word
from pipeline.schema import Claim
from pipeline.synth.render import draw_barcode
from tests.helpers import text_pdf

SAMPLE = Path(__file__).resolve().parents[2] / "sample_docs"
INVOICE = [
    "Lakeside Family Medicine",
    "NPI: 1234567893",
    "ITEMIZED STATEMENT",
    "Invoice No: INV-55120            Invoice Date: 03/04/2026",
    "Patient: Dana K. Whitfield       Date of Birth: 07/19/1984",
    "Member ID: WXQ448812",
    "Date        Code    Description                Units   Amount",
    "03/02/2026  99213   Office visit, established  1       $125.00",
    "Total Charges                                          $125.00",
]


def _page(number: int, words: list[str], barcodes: list[str] | None = None, **kw) -> Page:
    boxes = [(0.02 + i * 0.024, 0.1, 0.04 + i * 0.024, 0.12) for i in range(len(words))]
    words_ = [Word(text=w, confidence=0.99, bbox=b) for w, b in zip(words, boxes, strict=True)]
    lines = [Line.from_words(words_)] if words_ else []
    return Page(
        file="batch.pdf",
        page=number,
        width=612,
        height=792,
        reader="ocr",
        lines=lines,
        barcodes=barcodes or [],
        **kw,
    )


def _body(number: int) -> Page:
    return _page(number, [f"word{i}" for i in range(40)])


def test_no_separator_is_one_part():
    pages = [_body(1), _body(2)]
    parts = split_at_separators(pages)
    assert len(parts) == 1 and parts[0].pages == pages and parts[0].barcode is None


def test_one_cover_sheet_in_front_is_one_packet():
    pages = [_page(1, ["CLM-1"], ["CLM-1"]), _body(2), _body(3)]
    parts = split_at_separators(pages)
    assert [(p.barcode, len(p.pages)) for p in parts] == [("CLM-1", 3)]


def test_each_sheet_starts_a_packet_and_keeps_its_number():
    pages = [
        _page(1, [], ["CLM-1"]),
        _body(2),
        _body(3),
        _page(4, ["Claim", "CLM-2"], ["CLM-2"]),
        _body(5),
    ]
    parts = split_at_separators(pages)
    assert [(p.barcode, [pg.page for pg in p.pages]) for p in parts] == [
        ("CLM-1", [1, 2, 3]),
        ("CLM-2", [4, 5]),
    ]


def test_pages_before_the_first_sheet_are_a_packet_without_number():
    parts = split_at_separators([_body(1), _page(2, [], ["CLM-9"]), _body(3)])
    assert [(p.barcode, [pg.page for pg in p.pages]) for p in parts] == [
        (None, [1]),
        ("CLM-9", [2, 3]),
    ]


def test_empty_sections_are_noted_not_made_into_claims():
    pages = [
        _page(1, [], ["CLM-1"]),
        _page(2, [], [], blank=True),
        _page(3, [], ["CLM-2"]),
        _body(4),
        _page(5, [], ["CLM-3"]),
    ]
    parts = split_at_separators(pages)
    assert [p.barcode for p in parts] == ["CLM-2"]
    notes = " ".join(parts[0].notes)
    assert "CLM-1" in notes and "CLM-3" in notes


def test_a_page_with_a_barcode_and_text_is_a_document():
    # Invoices print barcodes too: a page full of words is not a separator sheet.
    pages = [_page(1, [], ["CLM-1"]), _body(2), _page(3, [f"w{i}" for i in range(30)], ["INV-7"])]
    assert len(split_at_separators(pages)) == 1


def _separator_pdf(kind: str, value: str) -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    w, h = letter
    draw_barcode(pdf, kind, value, w / 2 - 130, h / 2, 80)  # type: ignore[arg-type]
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _invoice_pdf() -> bytes:
    return text_pdf(INVOICE)


def _batch_file(path: Path) -> None:
    """Sheet CLM-2026-000101, a sample packet's 5 pages, sheet CLM-2026-000102, an invoice."""
    batch = pdfium.PdfDocument.new()
    for part in (
        _separator_pdf("code128", "CLM-2026-000101"),
        (SAMPLE / "inbox" / "pkt-0005.pdf").read_bytes(),
        _separator_pdf("qr", "CLM-2026-000102"),
        _invoice_pdf(),
    ):
        source = pdfium.PdfDocument(part)
        batch.import_pages(source)
        source.close()
    batch.save(str(path))
    batch.close()


@pytest.mark.slow
def test_batch_scan_file_becomes_one_claim_per_packet(prefect_harness, tmp_path: Path):
    from flows.batch import batch_flow_for

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _batch_file(inbox / "scan-batch.pdf")
    out = tmp_path / "out"
    summary = batch_flow_for(1)(inbox=inbox, out=out, workers=1)

    assert summary.packets == 1 and summary.claims_written == 2
    claims = sorted(
        (Claim.model_validate_json(p.read_text()) for p in (out / "claims").glob("*.json")),
        key=lambda c: c.packet.part or 0,
    )
    first, second = claims
    truth = json.loads((SAMPLE / "truth" / "pkt-0005.pdf.json").read_text())
    assert (first.packet.part, first.packet.parts) == (1, 2)
    assert first.packet.separator_barcode == "CLM-2026-000101"
    assert first.packet.page_count == 6
    assert first.fields.patient_name.value == truth["fields"]["patient_name"]
    assert (second.packet.part, second.packet.separator_barcode) == (2, "CLM-2026-000102")
    assert second.packet.page_count == 2
    assert second.fields.patient_name.value == "Dana K. Whitfield"
    assert {d.doc_type for d in second.documents} >= {"invoice"}
    assert first.claim_id != second.claim_id
    assert first.packet.source == second.packet.source == "scan-batch.pdf"
    batch = out / "batches" / summary.batch_id
    assert len((batch / "claims.jsonl").read_text().splitlines()) == 2

    # The same bytes again: nothing new. Changed bytes: both old claims give way.
    again = batch_flow_for(1)(inbox=inbox, out=out, workers=1)
    assert again.skipped == 1 and again.claims_written == 0
    (inbox / "scan-batch.pdf").unlink()
    doc = pdfium.PdfDocument.new()
    doc.import_pages(pdfium.PdfDocument(_invoice_pdf()))
    doc.save(str(inbox / "scan-batch.pdf"))
    doc.close()
    third = batch_flow_for(1)(inbox=inbox, out=out, workers=1)
    assert third.claims_written == 1
    remaining = [Claim.model_validate_json(p.read_text()) for p in (out / "claims").glob("*.json")]
    assert len(remaining) == 1 and remaining[0].packet.part is None
