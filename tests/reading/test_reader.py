import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from PIL import Image
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from pipeline.errors import CorruptDocumentError, UnreadablePacketError
from pipeline.io.ingest import discover_packets, open_packet, packet_sha256
from pipeline.reading.calibrate import degrade, synthetic_page
from pipeline.reading.reader import ReadingConfig, read_packet

_BODY = [
    "Itemized",
    "statement",
    "for",
    "services",
    "rendered",
    "at",
    "the",
    "clinic",
    "on",
    "the",
    "dates",
    "listed",
    "below",
]


def _digital_pdf(path: Path, pages: int = 2) -> None:
    c = canvas.Canvas(str(path), pagesize=letter)
    for i in range(pages):
        c.drawString(72, 720, f"Page {i + 1} " + " ".join(_BODY))
        c.drawString(72, 700, "Patient Name: Ana Diaz    Member ID: XK-44812")
        c.showPage()
    c.save()


def _barcode_sheet(dpi: int = 150) -> np.ndarray:
    code = np.asarray(
        zxingcpp.create_barcode("CLM-2026-000123", zxingcpp.BarcodeFormat.Code128).to_image(scale=3)
    )
    code = code if code.ndim == 2 else code[:, :, 0]
    page = np.full((int(11 * dpi), int(8.5 * dpi)), 255, np.uint8)
    page[200 : 200 + code.shape[0], 150 : 150 + code.shape[1]] = code
    return page


def test_reader_digital_pdf_uses_text_layer(tmp_path: Path) -> None:
    folder = tmp_path / "inbox" / "P-1"
    folder.mkdir(parents=True)
    _digital_pdf(folder / "claim.pdf", pages=2)
    (ref,) = discover_packets(tmp_path / "inbox")
    read = read_packet(ref, open_packet(ref), ReadingConfig())
    assert [(p.file, p.page, p.reader) for p in read.pages] == [
        ("claim.pdf", 1, "text_layer"),
        ("claim.pdf", 2, "text_layer"),
    ]
    assert read.sha256 == packet_sha256(ref) and read.name == "P-1"
    lines = [line.text for line in read.pages[1].lines]
    assert lines[0].startswith("Page 2 Itemized") and "Patient Name: Ana Diaz" in lines[1]


def test_reader_every_file_unreadable_raises(tmp_path: Path) -> None:
    folder = tmp_path / "inbox" / "P-2"
    folder.mkdir(parents=True)
    _digital_pdf(folder / "claim.pdf")
    (ref,) = discover_packets(tmp_path / "inbox")
    files = open_packet(ref)
    data = (folder / "claim.pdf").read_bytes()
    (folder / "claim.pdf").write_bytes(data[:200])  # damaged after ingest checked it
    with pytest.raises(CorruptDocumentError, match=r"claim\.pdf"):
        read_packet(ref, files, ReadingConfig())
    with pytest.raises(UnreadablePacketError, match="no readable files"):
        read_packet(ref, [], ReadingConfig())


def test_reader_tiny_image_page_is_warned_not_fatal(tmp_path: Path) -> None:
    folder = tmp_path / "inbox" / "P-3"
    folder.mkdir(parents=True)
    _digital_pdf(folder / "a.pdf", pages=1)
    Image.new("L", (1, 1), 0).save(folder / "b.png")
    (ref,) = discover_packets(tmp_path / "inbox")
    read = read_packet(ref, open_packet(ref), ReadingConfig())
    tiny = read.pages[1]
    assert tiny.file == "b.png" and tiny.reader == "none" and not tiny.lines
    assert any("1x1" in w for w in tiny.warnings)


def test_reader_blank_scan_is_flagged_without_ocr(tmp_path: Path) -> None:
    folder = tmp_path / "inbox" / "P-4"
    folder.mkdir(parents=True)
    _digital_pdf(folder / "a.pdf", pages=1)
    Image.new("L", (1275, 1650), 250).save(folder / "blank.png", dpi=(150, 150))
    (ref,) = discover_packets(tmp_path / "inbox")
    page = read_packet(ref, open_packet(ref), ReadingConfig()).pages[1]
    assert page.blank and page.reader == "none" and page.lines == []


@pytest.mark.slow
def test_reader_scans_ocr_in_order_with_rotation_and_barcode(tmp_path: Path) -> None:
    folder = tmp_path / "inbox" / "P-5"
    folder.mkdir(parents=True)
    page, truth = synthetic_page(21, dpi=150, lines=8)
    turned, _ = degrade(page, "rotate180", random.Random(0))
    Image.fromarray(_barcode_sheet()).save(folder / "a_cover.png", dpi=(150, 150))
    Image.fromarray(turned).save(folder / "b_scan.png", dpi=(150, 150))
    (ref,) = discover_packets(tmp_path / "inbox")
    config = ReadingConfig(psm=[3])
    with ThreadPoolExecutor(2) as pool:
        read = read_packet(ref, open_packet(ref), config, executor=pool)
    cover, scan = read.pages
    assert cover.barcodes == ["CLM-2026-000123"]
    assert scan.reader == "ocr" and scan.rotation == 180
    words = scan.text.split()
    assert words[:4] == truth[0].split()[:4]
    # Boxes refer to the page as stored (upside down): the first line is near the bottom.
    assert scan.lines[0].bbox[1] > 0.5


@pytest.mark.slow
def test_reader_upside_down_page_is_turned_before_other_modes_are_tried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upside-down page reads poorly in every mode: it is read turned after the first
    mode's read, and the other modes are tried only if the upright read is poor too."""
    import pipeline.reading.reader as reader

    folder = tmp_path / "inbox" / "P-6"
    folder.mkdir(parents=True)
    page, truth = synthetic_page(22, dpi=150, lines=8)
    turned = reader.rotate_right_angle(page, 180)
    Image.fromarray(turned).save(folder / "scan.png", dpi=(150, 150))
    modes: list[list[int]] = []
    real = reader.ocr_best

    def spy(image: np.ndarray, **kwargs: object) -> object:
        modes.append(list(kwargs["psms"]))  # type: ignore[call-overload]
        return real(image, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(reader, "ocr_best", spy)
    (ref,) = discover_packets(tmp_path / "inbox")
    (scan,) = read_packet(ref, open_packet(ref), ReadingConfig(psm=[3, 6, 11])).pages
    assert scan.rotation == 180 and scan.text.split()[:4] == truth[0].split()[:4]
    assert modes == [[3], [3]]  # as stored, then turned; the turned read is good


def test_reader_turned_check_is_bounded_by_the_first_read() -> None:
    """A page Tesseract read fast one way may not keep it for the whole page timeout the
    other way (a speckled faint card: 1 s upright, 46 s turned)."""
    from pipeline.reading.ocr import OcrRead
    from pipeline.reading.reader import TURNED_CHECK_FLOOR, _check_timeout

    config = ReadingConfig(ocr_timeout=30.0)

    def read(seconds: float) -> OcrRead:
        return OcrRead(lines=[], psm=3, mean_raw_confidence=0.0, word_count=0, seconds=seconds)

    assert _check_timeout(read(1.0), config) == TURNED_CHECK_FLOOR
    assert _check_timeout(read(4.0), config) == 20.0
    assert _check_timeout(read(12.0), config) == 30.0


def test_reader_page_job_pickles_for_worker_processes(tmp_path: Path) -> None:
    import pickle

    from pipeline.reading.reader import PageJob, read_page_job

    job = PageJob(
        path=tmp_path / "a.png", file="a.png", kind="png", index=0, config=ReadingConfig()
    )
    assert pickle.loads(pickle.dumps(job)) == job
    assert pickle.loads(pickle.dumps(read_page_job)) is read_page_job


@pytest.mark.slow
def test_reader_ocr_timeout_becomes_page_warning(tmp_path: Path) -> None:
    folder = tmp_path / "inbox" / "P-6"
    folder.mkdir(parents=True)
    _digital_pdf(folder / "a.pdf", pages=1)
    page, _ = synthetic_page(5, dpi=150, lines=6)
    Image.fromarray(page).save(folder / "b.png", dpi=(150, 150))
    (ref,) = discover_packets(tmp_path / "inbox")
    read = read_packet(ref, open_packet(ref), ReadingConfig(ocr_timeout=0.01))
    slow = read.pages[1]
    assert slow.reader == "none" and not slow.lines
    assert any("within" in w or "exceeded" in w for w in slow.warnings)
    assert read.pages[0].reader == "text_layer"


@pytest.mark.slow
def test_reader_process_pool_with_spawn(tmp_path: Path) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from pipeline.reading.ocr import init_ocr_worker

    folder = tmp_path / "inbox" / "P-7"
    folder.mkdir(parents=True)
    _digital_pdf(folder / "a.pdf", pages=1)
    Image.new("L", (850, 1100), 255).save(folder / "b.png", dpi=(100, 100))
    (ref,) = discover_packets(tmp_path / "inbox")
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, initializer=init_ocr_worker) as pool:
        read = read_packet(ref, open_packet(ref), ReadingConfig(), executor=pool)
    assert [(p.file, p.reader, p.blank) for p in read.pages] == [
        ("a.pdf", "text_layer", False),
        ("b.png", "none", True),
    ]


@pytest.mark.slow
def test_reader_long_digital_pdf_holds_one_page_of_glyphs_at_a_time(tmp_path: Path) -> None:
    """pdfplumber keeps a parsed page's glyphs until its PDF is closed; a 400-page itemized
    bill once took 4.6 GB to read. Each page is let go once read."""
    import tracemalloc

    from pipeline.io.ingest import check_file
    from pipeline.reading.reader import _read_pdf

    path = tmp_path / "itemized.pdf"
    c = canvas.Canvas(str(path), pagesize=letter)
    for page in range(12):
        c.setFont("Helvetica", 8)
        for row in range(70):
            c.drawString(
                40,
                750 - 10 * row,
                f"03/{row % 28 + 1:02d}/2026 99213 Office visit, "
                f"established patient, level {row} of page {page + 1}  1  $125.00",
            )
        c.showPage()
    c.save()
    config = ReadingConfig()
    tracemalloc.start()
    try:
        pages = _read_pdf(path, check_file(path, path.name), config)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(pages) == 12 and all(p.reader == "text_layer" for p in pages)
    assert peak < 40 * 2**20, f"reading 12 pages peaked at {peak / 2**20:.0f} MB"


def test_reader_long_pdf_is_read_in_parts_side_by_side_in_page_order(tmp_path: Path) -> None:
    folder = tmp_path / "inbox" / "P-1"
    folder.mkdir(parents=True)
    _digital_pdf(folder / "bill.pdf", pages=5)
    (ref,) = discover_packets(tmp_path / "inbox")
    config = ReadingConfig(pdf_chunk_pages=2)
    alone = read_packet(ref, open_packet(ref), config)

    parts: list[object] = []

    class Counting(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
            parts.append(args[-1])
            return super().submit(fn, *args, **kwargs)

    with Counting(2) as executor:
        side_by_side = read_packet(ref, open_packet(ref), config, executor=executor)
    # the last part runs to the end of the PDF, whatever its intake count said
    assert parts[:2] == [range(0, 2), range(2, 4)] and parts[2].start == 4  # type: ignore[attr-defined]
    assert [p.page for p in side_by_side.pages] == [1, 2, 3, 4, 5]
    assert side_by_side.pages == alone.pages
    # a count short of the PDF's (intake's) still reads every page
    (short,) = [f.model_copy(update={"page_count": 3}) for f in open_packet(ref)]
    with ThreadPoolExecutor(2) as executor:
        read = read_packet(ref, [short], config, executor=executor)
    assert [p.page for p in read.pages] == [1, 2, 3, 4, 5]


def test_reader_a_pdf_with_an_unreadable_part_is_left_out_whole_with_one_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.reading import reader

    folder = tmp_path / "inbox" / "P-1"
    folder.mkdir(parents=True)
    _digital_pdf(folder / "a-bill.pdf", pages=5)
    _digital_pdf(folder / "b-form.pdf", pages=1)
    (ref,) = discover_packets(tmp_path / "inbox")
    read_pdf = reader._read_pdf

    def failing(path, packet_file, config, pages=None):  # type: ignore[no-untyped-def]
        if pages is not None and pages.start == 2:
            raise CorruptDocumentError(f"{packet_file.name!r} cannot be parsed")
        return read_pdf(path, packet_file, config, pages)

    monkeypatch.setattr(reader, "_read_pdf", failing)
    with ThreadPoolExecutor(2) as executor:
        read = read_packet(ref, open_packet(ref), ReadingConfig(pdf_chunk_pages=2), executor)
    assert [(p.file, p.page) for p in read.pages] == [("b-form.pdf", 1)]
    assert read.pages[0].warnings == [
        "a file of the packet was skipped: 'a-bill.pdf' cannot be parsed"
    ]
