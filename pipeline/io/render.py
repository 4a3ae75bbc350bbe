"""Page images of PDF, TIFF, PNG and JPEG files, one page at a time.

Pages are yielded (or fetched by index) one by one so a 300-page TIFF never sits in memory
whole, and so an OCR worker can render just the page it was asked for.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageSequence
from pydantic import BaseModel, ConfigDict, Field

from pipeline.errors import CorruptDocumentError, PageTooLargeError
from pipeline.io.ingest import FileKind, pil_pixel_limit
from pipeline.io.pdfium_lock import PDFIUM_LOCK

__all__ = [
    "PageImage",
    "iter_page_images",
    "render_page",
    "image_dpi",
    "square_pixels",
    "DEFAULT_SCAN_DPI",
    "LETTER_INCHES",
    "CARD_INCHES",
]

DEFAULT_SCAN_DPI = 300.0
LETTER_INCHES = (8.5, 11.0)
# Embedded DPI outside this range is a placeholder written by some tool, not a scan setting.
_PLAUSIBLE_DPI = (75.0, 1200.0)
# Physical page sizes (long side, inches) we expect in a claim packet: ID cards to legal.
_PLAUSIBLE_LONG_SIDE = (3.0, 17.0)
# An ID card (ISO/IEC 7810 ID-1, as insurers' member cards are): 3.370 x 2.125 inches.
CARD_INCHES = (2.125, 3.370)
_CARD_ASPECT = (1.45, 1.75)


class PageImage(BaseModel):
    """One rendered page: uint8 pixels (H x W grayscale or H x W x 3 RGB) and how they were made."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    page: int = Field(ge=1, description="1-based page number inside the file")
    image: np.ndarray
    dpi: float = Field(gt=0, description="pixels per inch of `image`")
    source_dpi: float | None = Field(
        default=None, description="resolution embedded in a raster file, if any and plausible"
    )
    dpi_estimated: bool = Field(default=False, description="dpi was guessed, not read")

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


def image_dpi(info_dpi: object, width: int, height: int) -> tuple[float, float | None, bool]:
    """(dpi to use, embedded dpi if plausible, whether it was estimated).

    Embedded DPI wins when it is plausible and gives a plausible page size. Otherwise assume a
    300-DPI scan, unless that would make an absurd page: then an image shaped like an ID card
    is taken for a card cropped to its edges (a 675 x 425 image is a card at 200 DPI, not a
    Letter page at 61 DPI to be enlarged five times), anything else is fitted to Letter's
    11 inches.
    """
    embedded: float | None = None
    if isinstance(info_dpi, tuple | list) and info_dpi:
        try:
            embedded = float(info_dpi[0])
        except (TypeError, ValueError):
            embedded = None
    long_side = max(width, height)
    if embedded is not None and _PLAUSIBLE_DPI[0] <= embedded <= _PLAUSIBLE_DPI[1]:
        if _PLAUSIBLE_LONG_SIDE[0] <= long_side / embedded <= _PLAUSIBLE_LONG_SIDE[1]:
            return embedded, embedded, False
    else:
        embedded = None
    if _PLAUSIBLE_LONG_SIDE[0] <= long_side / DEFAULT_SCAN_DPI <= _PLAUSIBLE_LONG_SIDE[1]:
        return DEFAULT_SCAN_DPI, embedded, True
    short_side = max(1, min(width, height))
    card_dpi = long_side / CARD_INCHES[1]
    if (
        _CARD_ASPECT[0] <= long_side / short_side <= _CARD_ASPECT[1]
        and _PLAUSIBLE_DPI[0] <= card_dpi <= _PLAUSIBLE_DPI[1]
    ):
        return card_dpi, embedded, True
    estimate = max(1.0, long_side / LETTER_INCHES[1])
    return estimate, embedded, True


_SQUARE_TOLERANCE = 1.02  # resolutions this close are square enough; a fine fax (204 x 196) is not


def square_pixels(
    image: np.ndarray, info_dpi: object, max_pixels: int
) -> tuple[np.ndarray, object]:
    """The image with square pixels, and the resolution it then has.

    A fax in standard mode stores 204 x 98 DPI: read as it is, every letter is half as tall
    as wide and Tesseract misreads it. The coarser axis is resampled to the finer one's
    resolution (or, past `max_pixels`, the finer to the coarser). Square pixels, or a
    resolution that is missing or implausible, leave the image as it is.
    """
    if not isinstance(info_dpi, tuple | list) or len(info_dpi) < 2:
        return image, info_dpi
    try:
        x_dpi, y_dpi = float(info_dpi[0]), float(info_dpi[1])
    except (TypeError, ValueError):
        return image, info_dpi
    low, high = _PLAUSIBLE_DPI
    if not (low <= x_dpi <= high and low <= y_dpi <= high):
        return image, info_dpi
    if max(x_dpi, y_dpi) / min(x_dpi, y_dpi) <= _SQUARE_TOLERANCE:
        return image, info_dpi
    import cv2

    target = max(x_dpi, y_dpi)
    height, width = image.shape[:2]
    if round(width * target / x_dpi) * round(height * target / y_dpi) > max_pixels:
        target = min(x_dpi, y_dpi)
    size = (max(1, round(width * target / x_dpi)), max(1, round(height * target / y_dpi)))
    enlarge = size[0] * size[1] > width * height
    squared = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC if enlarge else cv2.INTER_AREA)
    return np.ascontiguousarray(squared), (target, target)


def _to_uint8(frame: Image.Image) -> np.ndarray:
    if frame.mode in ("1", "L", "I;16", "I;16B", "I;16L", "I", "F", "LA"):
        if frame.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
            arr = np.asarray(frame, dtype=np.float64)
            top = float(arr.max()) or 1.0
            return np.ascontiguousarray((arr / top * 255.0).clip(0, 255).astype(np.uint8))
        return np.ascontiguousarray(np.asarray(frame.convert("L"), dtype=np.uint8))
    if frame.mode in ("RGBA", "LA", "P", "PA"):
        rgba = frame.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        frame = Image.alpha_composite(white, rgba)
    return np.ascontiguousarray(np.asarray(frame.convert("RGB"), dtype=np.uint8))


def _raster_frames(
    path: Path, kind: FileKind, max_pixels: int, only: int | None
) -> Generator[PageImage, None, None]:
    try:
        with pil_pixel_limit(max_pixels), Image.open(path) as im:
            for index, frame in enumerate(ImageSequence.Iterator(im)):
                if only is not None and index != only:
                    continue
                width, height = frame.size
                if width * height > max_pixels:
                    raise PageTooLargeError(
                        f"{path.name!r} page {index + 1} is {width}x{height} pixels, more than "
                        f"the limit of {max_pixels} pixels"
                    )
                pixels, info_dpi = square_pixels(
                    _to_uint8(frame), frame.info.get("dpi"), max_pixels
                )
                height, width = pixels.shape[:2]
                dpi, embedded, estimated = image_dpi(info_dpi, width, height)
                yield PageImage(
                    page=index + 1,
                    image=pixels,
                    dpi=dpi,
                    source_dpi=embedded,
                    dpi_estimated=estimated,
                )
                if only is not None:
                    return
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PageTooLargeError(
            f"{path.name!r} declares an image larger than the limit of {max_pixels} pixels ({exc})"
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptDocumentError(
            f"{path.name!r} ({kind.upper()}) cannot be decoded: {exc}"
        ) from exc
    if only is not None:
        raise IndexError(f"{path.name!r} has no page {only + 1}")


def _pdf_pages(
    path: Path, dpi: int, max_pixels: int, only: int | None
) -> Generator[PageImage, None, None]:
    import pypdfium2 as pdfium

    try:
        with PDFIUM_LOCK:
            pdf = pdfium.PdfDocument(path)
            count = len(pdf)
    except pdfium.PdfiumError as exc:
        raise CorruptDocumentError(f"{path.name!r} cannot be opened as a PDF: {exc}") from exc
    try:
        indices = range(count) if only is None else [only]
        for index in indices:
            if index >= count:
                raise IndexError(f"{path.name!r} has {count} pages, no page {index + 1}")
            image, scale = _render_pdf_page(pdf, index, path, dpi, max_pixels)
            if image.ndim == 3 and image.shape[2] == 4:
                image = np.ascontiguousarray(image[:, :, :3])
            if image.ndim == 3:
                # pdfium renders BGR(x); the pipeline works in RGB.
                image = np.ascontiguousarray(image[:, :, ::-1])
            yield PageImage(page=index + 1, image=image, dpi=scale * 72.0)
    finally:
        with PDFIUM_LOCK:
            pdf.close()


def _render_pdf_page(
    pdf: Any, index: int, path: Path, dpi: int, max_pixels: int
) -> tuple[np.ndarray, float]:
    """One page to pixels, holding the pdfium lock (the lock is never held across a yield)."""
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        page = pdf[index]
        try:
            width_pt, height_pt = page.get_size()
            scale = dpi / 72.0
            pixels = width_pt * scale * height_pt * scale
            if pixels > max_pixels:
                # A poster-sized page is still read, at the largest resolution allowed.
                scale = (max_pixels / (width_pt * height_pt)) ** 0.5
            bitmap = page.render(scale=scale, grayscale=False)
            try:
                image = np.array(bitmap.to_numpy(), dtype=np.uint8, copy=True)
            finally:
                bitmap.close()
        except pdfium.PdfiumError as exc:
            raise CorruptDocumentError(
                f"{path.name!r} page {index + 1} cannot be rendered: {exc}"
            ) from exc
        finally:
            page.close()
    return image, scale


def iter_page_images(
    file: Path, kind: FileKind, dpi: int = 300, max_pixels: int = 120_000_000
) -> Iterator[PageImage]:
    """Every page of `file` as an image, one at a time, in page order.

    PDFs are rendered at `dpi` (lowered for pages that would exceed `max_pixels`); raster
    files keep their own pixels and report the DPI they carry or a best guess.
    """
    file = Path(file)
    if kind == "pdf":
        yield from _pdf_pages(file, dpi, max_pixels, None)
    else:
        yield from _raster_frames(file, kind, max_pixels, None)


def render_page(
    file: Path, kind: FileKind, index: int, dpi: int = 300, max_pixels: int = 120_000_000
) -> PageImage:
    """Page `index` (0-based) of `file` alone, for a worker that owns just one page."""
    file = Path(file)
    if kind == "pdf":
        pages = _pdf_pages(file, dpi, max_pixels, index)
    else:
        pages = _raster_frames(file, kind, max_pixels, index)
    try:
        return next(pages)
    finally:
        pages.close()
