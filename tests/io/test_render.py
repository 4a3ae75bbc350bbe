import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from reportlab.pdfgen import canvas

from pipeline.errors import CorruptDocumentError, PageTooLargeError
from pipeline.io.render import image_dpi, iter_page_images, render_page


def _tiff(path: Path, shades: list[int], dpi: int = 200) -> None:
    frames = [Image.fromarray(np.full((1100, 850), s, np.uint8)) for s in shades]
    frames[0].save(path, save_all=True, append_images=frames[1:], dpi=(dpi, dpi))


def test_render_multipage_tiff_pages_in_order(tmp_path: Path) -> None:
    path = tmp_path / "fax.tif"
    _tiff(path, [10, 120, 240])
    pages = list(iter_page_images(path, "tiff"))
    assert [p.page for p in pages] == [1, 2, 3]
    assert [int(p.image.mean()) for p in pages] == [10, 120, 240]
    assert all(p.image.dtype == np.uint8 and p.image.ndim == 2 for p in pages)
    assert pages[0].dpi == 200 and not pages[0].dpi_estimated
    assert int(render_page(path, "tiff", 1).image.mean()) == 120


def test_render_iterates_lazily(tmp_path: Path) -> None:
    path = tmp_path / "fax.tif"
    _tiff(path, [10, 120, 240])
    pages = iter_page_images(path, "tiff")
    first = next(pages)
    assert first.page == 1
    pages.close()


def test_render_corrupt_tiff_strip_is_named_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.tif"
    _tiff(path, [10, 120])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(CorruptDocumentError, match=r"cut\.tif"):
        list(iter_page_images(path, "tiff"))


def test_render_pdf_page_at_dpi(tmp_path: Path) -> None:
    path = tmp_path / "a.pdf"
    c = canvas.Canvas(str(path), pagesize=(612, 792))
    c.drawString(72, 700, "Hello")
    c.showPage()
    c.save()
    (page,) = list(iter_page_images(path, "pdf", dpi=100))
    assert page.image.shape == (1100, 850, 3)
    assert page.dpi == pytest.approx(100)


def test_render_poster_pdf_is_scaled_under_pixel_limit(tmp_path: Path) -> None:
    path = tmp_path / "poster.pdf"
    c = canvas.Canvas(str(path), pagesize=(5000, 5000))
    c.drawString(72, 700, "Hello")
    c.showPage()
    c.save()
    page = render_page(path, "pdf", 0, dpi=300, max_pixels=4_000_000)
    assert page.image.shape[0] * page.image.shape[1] <= 4_000_000
    assert page.dpi < 300


def test_render_png_without_dpi_is_estimated(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    Image.new("RGBA", (1275, 1650), (255, 255, 255, 0)).save(path)
    (page,) = list(iter_page_images(path, "png"))
    assert page.dpi_estimated and page.dpi == 300
    assert page.image.shape == (1650, 1275, 3) and int(page.image.min()) == 255


def test_render_image_dpi_rules() -> None:
    assert image_dpi((200, 200), 1700, 2200) == (200.0, 200.0, False)
    # 72 DPI placeholder on a 300-DPI scan: assume a scan.
    assert image_dpi((72, 72), 2550, 3300)[0] == 300.0
    # A huge image with no DPI: fit to Letter's long side.
    dpi, _, estimated = image_dpi(None, 6000, 7700)
    assert estimated and dpi == pytest.approx(700)
    # A small image shaped like an ID card is a card cropped to its edges, not a tiny page.
    dpi, _, estimated = image_dpi(None, 675, 425)
    assert estimated and dpi == pytest.approx(200, abs=1)
    assert image_dpi((72, 72), 425, 675)[0] == pytest.approx(200, abs=1)
    # A card scanned at 300 DPI is a plausible 3.4-inch page as it is.
    assert image_dpi(None, 1011, 638)[0] == 300.0
    # A small image of another shape is still fitted to Letter.
    assert image_dpi(None, 600, 600)[0] == pytest.approx(600 / 11)


def test_render_one_pixel_png(tmp_path: Path) -> None:
    path = tmp_path / "dot.png"
    Image.new("L", (1, 1), 0).save(path)
    (page,) = list(iter_page_images(path, "png"))
    assert page.image.shape == (1, 1)


def test_render_huge_header_refused(tmp_path: Path) -> None:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 60_000, 60_000, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )
    path = tmp_path / "bomb.png"
    path.write_bytes(data)
    with pytest.raises(PageTooLargeError, match="limit"):
        list(iter_page_images(path, "png", max_pixels=10_000_000))


def _fax(path: Path, dpi: tuple[float, float]) -> None:
    """A Group 4 black-and-white page with one black band, rows 500 to 519, to follow."""
    page = np.full((1078, 1728), 255, np.uint8)
    page[500:520, 100:1600] = 0
    Image.fromarray(page).convert("1").save(path, compression="group4", dpi=dpi)


def test_render_standard_fax_gets_square_pixels(tmp_path: Path) -> None:
    # 204 x 98 DPI: letters stored half as tall as wide, read as they are, OCR misreads them
    path = tmp_path / "fax.tif"
    _fax(path, (204, 98))
    (page,) = iter_page_images(path, "tiff")
    assert page.image.shape == (round(1078 * 204 / 98), 1728)
    assert page.dpi == 204 and not page.dpi_estimated
    band = np.flatnonzero(page.image[:, 800] < 128)
    assert abs(band[0] - 500 * 204 / 98) < 3 and abs(len(band) - 20 * 204 / 98) < 3


def test_render_square_or_unknown_resolution_keeps_pixels(tmp_path: Path) -> None:
    from pipeline.io.render import square_pixels

    image = np.zeros((100, 80), np.uint8)
    for dpi in [(300, 300), (204, 200), None, (204,), (5000, 98), ("x", 98)]:
        out, info = square_pixels(image, dpi, max_pixels=10**8)
        assert out is image and info == dpi
    # past the pixel limit the finer axis comes down instead
    out, info = square_pixels(image, (200, 100), max_pixels=10_000)
    assert out.shape == (100, 40) and info == (100, 100)
