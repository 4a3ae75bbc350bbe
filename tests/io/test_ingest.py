import io
import os
import shutil
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfWriter
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from pipeline.errors import (
    CorruptDocumentError,
    EncryptedDocumentError,
    PageTooLargeError,
    UnreadablePacketError,
    UnsupportedFileError,
)
from pipeline.io.ingest import (
    IngestLimits,
    check_file,
    check_packet,
    discover_packets,
    open_packet,
    packet_sha256,
    sniff,
)


def _pdf_bytes(pages: int = 2) -> bytes:
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=letter)
    for i in range(pages):
        c.drawString(72, 700, f"Claim form page {i + 1} Patient Name: Jane Roe")
        c.showPage()
    c.save()
    return buffer.getvalue()


def _png_bytes(size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size, 255).save(buffer, format="PNG")
    return buffer.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares a huge image (a decompression bomb) with a valid CRC."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_ingest_sniff_png_named_pdf_is_png(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(_png_bytes())
    assert sniff(path) == "png"
    checked = check_file(path, "scan.pdf")
    assert checked.kind == "png" and checked.page_count == 1


def test_ingest_sniff_zero_byte_raises_naming_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    with pytest.raises(UnsupportedFileError, match=r"empty\.pdf.*pdf, tiff, png, jpeg"):
        sniff(path)


def test_ingest_sniff_text_named_pdf_raises(tmp_path: Path) -> None:
    path = tmp_path / "notes.pdf"
    path.write_text("Dear insurer, please find my claim attached.\n")
    with pytest.raises(UnsupportedFileError, match=r"notes\.pdf.*accepted formats"):
        check_file(path, "notes.pdf")


def test_ingest_sniff_kinds_by_magic_bytes(tmp_path: Path) -> None:
    cases = {
        "a.bin": (_pdf_bytes(1), "pdf"),
        "b.bin": (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "jpeg"),
        "c.bin": (b"II*\x00" + b"\x00" * 20, "tiff"),
        "d.bin": (b"MM\x00*" + b"\x00" * 20, "tiff"),
        "e.bin": (b"junk-before-header\n%PDF-1.4\n", "pdf"),
    }
    for name, (data, kind) in cases.items():
        (tmp_path / name).write_bytes(data)
        assert sniff(tmp_path / name) == kind


def test_ingest_truncated_pdf_is_corrupt(tmp_path: Path) -> None:
    data = _pdf_bytes(3)
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptDocumentError, match=r"cut\.pdf"):
        check_file(path, "cut.pdf")


def test_ingest_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(_pdf_bytes(1))
    writer = PdfWriter(clone_from=plain)
    writer.encrypt("secret")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as fh:
        writer.write(fh)
    with pytest.raises(EncryptedDocumentError, match=r"locked\.pdf.*password"):
        check_file(locked, "locked.pdf")


def test_ingest_pdf_page_limit(tmp_path: Path) -> None:
    path = tmp_path / "long.pdf"
    path.write_bytes(_pdf_bytes(4))
    with pytest.raises(PageTooLargeError, match="4 pages.*limit of 3"):
        check_file(path, "long.pdf", IngestLimits(max_pages=3))
    assert check_file(path, "long.pdf").page_count == 4


def test_ingest_huge_png_header_is_refused_fast(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(100_000, 100_000))
    with pytest.raises(PageTooLargeError, match=r"bomb\.png"):
        check_file(path, "bomb.png", IngestLimits(max_pixels=50_000_000))
    # The global PIL limit is restored after the call.
    assert Image.MAX_IMAGE_PIXELS != 50_000_000


def test_ingest_truncated_png_is_corrupt(tmp_path: Path) -> None:
    data = _png_bytes((400, 400))
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) - 30])
    with pytest.raises(CorruptDocumentError, match=r"cut\.png"):
        check_file(path, "cut.png")


def _make_inbox(root: Path) -> Path:
    inbox = root / "inbox"
    (inbox / "P-002" / "sub").mkdir(parents=True)
    (inbox / "P-002" / "b.pdf").write_bytes(_pdf_bytes(1))
    (inbox / "P-002" / "sub" / "a.png").write_bytes(_png_bytes())
    (inbox / "P-002" / ".DS_Store").write_bytes(b"junk")
    (inbox / "P-001.PDF").write_bytes(_pdf_bytes(1))
    (inbox / "P-003.jpeg").write_bytes(_png_bytes())
    (inbox / "readme.txt").write_text("not a claim")
    (inbox / ".hidden.pdf").write_bytes(_pdf_bytes(1))
    return inbox


def test_ingest_discover_folders_and_single_files(tmp_path: Path) -> None:
    inbox = _make_inbox(tmp_path)
    packets = discover_packets(inbox)
    assert [p.name for p in packets] == ["P-001.PDF", "P-002", "P-003.jpeg", "readme.txt"]
    folder = packets[1]
    assert folder.relative_names == ["b.pdf", "sub/a.png"]
    assert all(f.is_absolute() for f in folder.files)
    assert packets[0].is_single_file and packets[0].files == [inbox / "P-001.PDF"]
    assert packets[3].problems and "extension" in packets[3].problems[0]
    assert discover_packets(inbox) == packets  # deterministic


def test_ingest_other_top_level_file_is_quarantined_with_reason(tmp_path: Path) -> None:
    inbox = _make_inbox(tmp_path)
    readme = next(p for p in discover_packets(inbox) if p.name == "readme.txt")
    with pytest.raises(UnreadablePacketError, match=r"readme\.txt.*extension"):
        open_packet(readme)


def test_ingest_symlink_outside_inbox_not_followed(tmp_path: Path) -> None:
    inbox = _make_inbox(tmp_path)
    outside = tmp_path / "secret.pdf"
    outside.write_bytes(_pdf_bytes(1))
    os.symlink(outside, inbox / "link.pdf")
    os.symlink(outside, inbox / "P-002" / "evil.pdf")
    packets = {p.name: p for p in discover_packets(inbox)}
    assert (
        packets["link.pdf"].files == [] and "outside the inbox" in packets["link.pdf"].problems[0]
    )
    assert "evil.pdf" not in packets["P-002"].relative_names
    assert any("evil.pdf" in problem for problem in packets["P-002"].problems)
    with pytest.raises(UnreadablePacketError, match="outside the inbox"):
        open_packet(packets["link.pdf"])


def test_ingest_packet_hash_stable_and_sensitive(tmp_path: Path) -> None:
    inbox = _make_inbox(tmp_path)
    packet = next(p for p in discover_packets(inbox) if p.name == "P-002")
    first = packet_sha256(packet)
    copy = tmp_path / "elsewhere" / "P-002"
    shutil.copytree(inbox / "P-002", copy)
    moved = next(p for p in discover_packets(copy.parent) if p.name == "P-002")
    assert packet_sha256(moved) == first == packet_sha256(packet)
    (copy / "sub" / "a.png").rename(copy / "sub" / "c.png")
    renamed = next(p for p in discover_packets(copy.parent) if p.name == "P-002")
    assert packet_sha256(renamed) != first


def test_ingest_open_packet_keeps_good_files_and_reports_bad(tmp_path: Path) -> None:
    inbox = _make_inbox(tmp_path)
    (inbox / "P-002" / "zero.pdf").write_bytes(b"")
    packet = next(p for p in discover_packets(inbox) if p.name == "P-002")
    before = {p: p.read_bytes() for p in packet.files}
    report = check_packet(packet)
    assert [f.name for f in report.files] == ["b.pdf", "sub/a.png"]
    assert [f.kind for f in report.files] == ["pdf", "png"]
    assert report.rejected[0].name == "zero.pdf"
    assert report.rejected[0].error == "UnsupportedFileError"
    assert [f.name for f in open_packet(packet)] == ["b.pdf", "sub/a.png"]
    assert {p: p.read_bytes() for p in packet.files} == before  # inputs untouched


def test_ingest_single_bad_file_raises_its_own_error(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = _pdf_bytes(2)
    (inbox / "cut.pdf").write_bytes(data[:300])
    (packet,) = discover_packets(inbox)
    with pytest.raises(CorruptDocumentError):
        open_packet(packet)
