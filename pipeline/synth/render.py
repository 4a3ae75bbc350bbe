"""PDF drawing for synthetic documents: fonts, a top-left `Pen`, and deterministic PDF bytes.

Layouts describe a page as a `PagePainter` (a function drawing on a reportlab canvas), so a
packet can put the pages of several documents into one PDF in any order. `invariant=1`
keeps the bytes identical for the same input.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode import createBarcodeDrawing
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

__all__ = [
    "FontFamily",
    "PagePainter",
    "PageSpec",
    "Pen",
    "FieldStyle",
    "TableStyle",
    "font_families",
    "page_sizes",
    "pdf_bytes",
    "draw_barcode",
    "fit_words",
]

PagePainter = Callable[[Canvas], None]
FieldStyle = Literal["beside", "above", "boxed"]
TableStyle = Literal["grid", "ruled", "plain", "zebra"]

_TTF_DIR = Path("/usr/share/fonts/truetype")
_TTF_FAMILIES = (
    ("DejaVuSans", "dejavu/DejaVuSans.ttf", "dejavu/DejaVuSans-Bold.ttf"),
    ("DejaVuSerif", "dejavu/DejaVuSerif.ttf", "dejavu/DejaVuSerif-Bold.ttf"),
    (
        "LiberationSans",
        "liberation/LiberationSans-Regular.ttf",
        "liberation/LiberationSans-Bold.ttf",
    ),
    (
        "LiberationSerif",
        "liberation/LiberationSerif-Regular.ttf",
        "liberation/LiberationSerif-Bold.ttf",
    ),
    (
        "LiberationMono",
        "liberation/LiberationMono-Regular.ttf",
        "liberation/LiberationMono-Bold.ttf",
    ),
    (
        "LiberationSansNarrow",
        "liberation/LiberationSansNarrow-Regular.ttf",
        "liberation/LiberationSansNarrow-Bold.ttf",
    ),
)


@dataclass(frozen=True)
class FontFamily:
    name: str
    regular: str
    bold: str


@dataclass
class PageSpec:
    """One page of a document: its size in points and the painter that draws it."""

    size: tuple[float, float]
    paint: PagePainter
    kind: Literal["page", "card"] = "page"
    card_box: tuple[float, float, float, float] | None = field(default=None)


@cache
def font_families() -> tuple[FontFamily, ...]:
    """Base-14 families always; DejaVu/Liberation TTFs too when the system has them."""
    fams = [
        FontFamily("Helvetica", "Helvetica", "Helvetica-Bold"),
        FontFamily("Times", "Times-Roman", "Times-Bold"),
        FontFamily("Courier", "Courier", "Courier-Bold"),
    ]
    for name, reg, bold in _TTF_FAMILIES:
        reg_path, bold_path = _TTF_DIR / reg, _TTF_DIR / bold
        if not (reg_path.is_file() and bold_path.is_file()):
            continue
        pdfmetrics.registerFont(TTFont(name, str(reg_path)))
        pdfmetrics.registerFont(TTFont(name + "-Bold", str(bold_path)))
        fams.append(FontFamily(name, name, name + "-Bold"))
    return tuple(fams)


def page_sizes() -> tuple[tuple[float, float], ...]:
    return (LETTER, LETTER, LETTER, A4)


class Pen:
    """Draws with top-left coordinates in points, in one font family."""

    def __init__(self, canvas: Canvas, size: tuple[float, float], font: FontFamily, base: float):
        self.c = canvas
        self.w, self.h = size
        self.font = font
        self.base = base

    def _y(self, y: float) -> float:
        return self.h - y

    def text(
        self,
        x: float,
        y: float,
        s: str,
        size: float | None = None,
        bold: bool = False,
        align: Literal["left", "right", "center"] = "left",
        gray: float = 0.0,
    ) -> None:
        """`y` is the text baseline from the top."""
        fs = size or self.base
        self.c.setFillGray(gray)
        self.c.setFont(self.font.bold if bold else self.font.regular, fs)
        if align == "left":
            self.c.drawString(x, self._y(y), s)
        elif align == "right":
            self.c.drawRightString(x, self._y(y), s)
        else:
            self.c.drawCentredString(x, self._y(y), s)
        self.c.setFillGray(0.0)

    def width(self, s: str, size: float | None = None, bold: bool = False) -> float:
        return pdfmetrics.stringWidth(
            s, self.font.bold if bold else self.font.regular, size or self.base
        )

    def fit(self, s: str, width: float, size: float | None = None) -> str:
        """Cut `s` so it fits in `width` points (long descriptions in narrow columns)."""
        while s and self.width(s, size) > width:
            s = s[:-1]
        return s

    def line(self, x0: float, y0: float, x1: float, y1: float, width: float = 0.6) -> None:
        self.c.setLineWidth(width)
        self.c.line(x0, self._y(y0), x1, self._y(y1))

    def rect(
        self, x: float, y: float, w: float, h: float, width: float = 0.7, fill: float | None = None
    ) -> None:
        self.c.setLineWidth(width)
        if fill is not None:
            self.c.setFillGray(fill)
        self.c.rect(
            x, self._y(y + h), w, h, stroke=1 if width > 0 else 0, fill=1 if fill is not None else 0
        )
        self.c.setFillGray(0.0)

    def checkbox(self, x: float, y: float, checked: bool, label: str, size: float = 9) -> float:
        """A box with a label; a tick mark when checked. Returns the x after the label."""
        self.rect(x, y - size + 1.5, size, size, width=0.8)
        if checked:
            self.c.setLineWidth(1.4)
            self.c.line(x + 1.5, self._y(y - size / 2 + 1), x + size / 2.5, self._y(y + 0.5))
            self.c.line(x + size / 2.5, self._y(y + 0.5), x + size + 1, self._y(y - size - 0.5))
        self.text(x + size + 4, y, label)
        return x + size + 4 + self.width(label) + 14

    def field(
        self, x: float, y: float, w: float, label: str, value: str, style: FieldStyle
    ) -> float:
        """A label and its value in one of three real-world styles; returns the height used."""
        lab = label if label.endswith((":", "#", ".")) or style != "beside" else label + ":"
        if style == "beside":
            self.text(x, y, lab, bold=True)
            self.text(x + self.width(lab, bold=True) + 5, y, value)
            return self.base * 1.6
        if style == "above":
            self.text(x, y, label.rstrip(":"), size=self.base * 0.75, gray=0.3)
            self.text(x, y + self.base * 1.15, value)
            self.line(x, y + self.base * 1.45, x + w - 8, y + self.base * 1.45, width=0.4)
            return self.base * 2.7
        box_h = self.base * 2.4
        self.rect(x, y - self.base * 0.85, w - 4, box_h, width=0.7)
        self.text(x + 3, y, label.rstrip(":"), size=self.base * 0.7, gray=0.25)
        self.text(x + 5, y + self.base * 1.1, value)
        return box_h + 2

    def paragraph(self, x: float, y: float, w: float, s: str, size: float | None = None) -> float:
        """Wrapped text from baseline `y`; returns the baseline after the last line."""
        fs = size or self.base
        for part in simpleSplit(s, self.font.regular, fs, w):
            self.text(x, y, part, size=fs)
            y += fs * 1.35
        return y

    def table(
        self,
        x: float,
        y: float,
        widths: Sequence[float],
        header: Sequence[str],
        rows: Sequence[Sequence[str]],
        style: TableStyle,
        right_cols: frozenset[int] = frozenset(),
    ) -> float:
        """A table of text cells from top `y`; returns the y under it."""
        rh = self.base * 1.7
        total_w = sum(widths)
        xs = [x]
        for wd in widths:
            xs.append(xs[-1] + wd)

        def cells(cy: float, values: Sequence[str], bold: bool) -> None:
            for i, v in enumerate(values):
                if i in right_cols:
                    self.text(xs[i + 1] - 3, cy + rh * 0.68, v, bold=bold, align="right")
                else:
                    self.text(xs[i] + 3, cy + rh * 0.68, v, bold=bold)

        if style == "zebra":
            self.rect(x, y, total_w, rh, width=0, fill=0.82)
        cells(y, header, bold=True)
        if style in ("ruled", "plain", "zebra"):
            self.line(x, y + rh, x + total_w, y + rh, width=0.9 if style != "plain" else 0.5)
        if style == "ruled":
            self.line(x, y, x + total_w, y, width=0.9)
        cy = y + rh
        for r, row in enumerate(rows):
            if style == "zebra" and r % 2 == 1:
                self.rect(x, cy, total_w, rh, width=0, fill=0.92)
            cells(cy, row, bold=False)
            cy += rh
            if style == "ruled":
                self.line(x, cy, x + total_w, cy, width=0.3)
        if style == "grid":
            for i in range(len(rows) + 2):
                self.line(x, y + i * rh, x + total_w, y + i * rh, width=0.5)
            for xx in xs:
                self.line(xx, y, xx, cy, width=0.5)
        return cy


def draw_barcode(
    canvas: Canvas, kind: Literal["code128", "qr"], value: str, x: float, y: float, size: float
) -> None:
    """A Code 128 or QR code with its lower-left corner at (x, y) in PDF points."""
    if kind == "qr":
        d = createBarcodeDrawing("QR", value=value, width=size, height=size)
    else:
        d = createBarcodeDrawing(
            "Code128", value=value, barHeight=size * 0.35, barWidth=1.6, humanReadable=False
        )
    renderPDF.draw(d, canvas, x, y)


def pdf_bytes(pages: Sequence[PageSpec], title: str = "") -> bytes:
    """One PDF holding `pages` in order, byte-identical for the same input."""
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=pages[0].size if pages else LETTER, invariant=1, pageCompression=1)
    c.setCreator("claim-intake synth")
    if title:
        c.setTitle(title)
    for spec in pages:
        c.setPageSize(spec.size)
        spec.paint(c)
        c.showPage()
    c.save()
    return buf.getvalue()


def fit_words(s: str, font_name: str, size: float, width: float) -> str:
    """The longest word-prefix of `s` that fits `width` points, so truth can hold what is printed."""
    if pdfmetrics.stringWidth(s, font_name, size) <= width:
        return s
    words = s.split()
    while len(words) > 1 and pdfmetrics.stringWidth(" ".join(words), font_name, size) > width:
        words.pop()
    return " ".join(words)


def choose(rng: random.Random, options: Sequence[str]) -> str:
    return options[rng.randrange(len(options))]
