"""Building blocks shared by the document layouts: context, result, headers and field blocks."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.document import DocType
from pipeline.synth.entities import Provider
from pipeline.synth.render import FieldStyle, FontFamily, PageSpec, Pen, font_families, page_sizes
from pipeline.synth.vocab import Vocabulary, format_date, format_money
from pipeline.truth import TruthLineItem, TruthValue

__all__ = ["Ctx", "RenderedDoc", "new_ctx", "draw_header", "kv_block", "HEADERS"]

HEADERS = ("letterhead", "centered", "banner", "right")


@dataclass
class Ctx:
    """Random choices fixed for one document: font, page size, date and money formats."""

    rng: random.Random
    vocab: Vocabulary
    font: FontFamily
    size: tuple[float, float]
    date_fmt: str
    money_fmt: str
    base: float

    def label(self, key: str) -> str:
        options = self.vocab.labels[key]
        return options[self.rng.randrange(len(options))]

    def title(self, key: str) -> str:
        options = self.vocab.titles[key]
        return options[self.rng.randrange(len(options))]

    def phrase(self, key: str) -> str:
        options = self.vocab.phrases[key]
        return options[self.rng.randrange(len(options))]

    def date(self, value: dt.date | None) -> str:
        return "" if value is None else format_date(value, self.date_fmt, self.vocab)

    def money(self, value: float) -> str:
        return format_money(value, self.money_fmt)

    def text(self, key: str, **kw: str) -> str:
        """A fixed printed string of the vocabulary, with `{placeholders}` filled."""
        return self.vocab.text[key].format(**kw)

    def pick(self, options: Sequence[str]) -> str:
        return options[self.rng.randrange(len(options))]


@dataclass
class RenderedDoc:
    """A drawn document: its pages, and the truth of what they print."""

    doc_type: DocType
    layout: str
    pages: list[PageSpec]
    fields: dict[str, TruthValue]
    line_items: list[TruthLineItem] = field(default_factory=list)
    diagnoses: list[tuple[str, str]] = field(default_factory=list)


def new_ctx(rng: random.Random, vocab: Vocabulary, mono_ok: bool = True) -> Ctx:
    fams = [f for f in font_families() if mono_ok or "Mono" not in f.name and f.name != "Courier"]
    font = fams[rng.randrange(len(fams))]
    sizes = page_sizes()
    return Ctx(
        rng=rng,
        vocab=vocab,
        font=font,
        size=sizes[rng.randrange(len(sizes))],
        date_fmt=vocab.date_formats[rng.randrange(len(vocab.date_formats))],
        money_fmt=vocab.money_formats[rng.randrange(len(vocab.money_formats))],
        base=rng.choice((8.5, 9.0, 9.5, 10.0, 10.5)),
    )


def draw_header(
    pen: Pen, ctx: Ctx, style: str, title: str, org: Provider | None, org_name: str | None = None
) -> float:
    """The top of a page in one of HEADERS styles; returns the y where the body starts."""
    w = pen.w
    m = 42.0
    name = org.name if org else (org_name or "")
    addr = f"{org.street}, {org.city}, {org.state} {org.zip}" if org else ""
    phone = f"{ctx.label('phone')}: {org.phone}" if org else ""
    if style == "letterhead":
        pen.text(m, 52, name, size=pen.base * 1.6, bold=True)
        pen.text(m, 66, addr, size=pen.base * 0.9)
        pen.text(m, 78, phone, size=pen.base * 0.9)
        pen.line(m, 86, w - m, 86, width=1.4)
        pen.text(w - m, 108, title, size=pen.base * 1.5, bold=True, align="right")
        return 132
    if style == "centered":
        pen.text(w / 2, 50, title, size=pen.base * 1.8, bold=True, align="center")
        pen.text(w / 2, 68, name, size=pen.base * 1.1, align="center")
        pen.text(w / 2, 80, addr, size=pen.base * 0.85, align="center")
        return 108
    if style == "banner":
        pen.rect(m, 30, w - 2 * m, 40, width=0, fill=0.25)
        pen.c.setFillGray(1.0)
        pen.c.setFont(pen.font.bold, pen.base * 1.6)
        pen.c.drawString(m + 10, pen.h - 56, title)
        pen.c.setFillGray(0.0)
        pen.text(m, 88, name, bold=True)
        pen.text(m, 100, addr, size=pen.base * 0.9)
        pen.text(w - m, 88, phone, size=pen.base * 0.9, align="right")
        return 124
    # right: provider block left, boxed title right
    pen.text(m, 50, name, bold=True, size=pen.base * 1.2)
    pen.text(m, 63, addr, size=pen.base * 0.85)
    pen.text(m, 75, phone, size=pen.base * 0.85)
    tw = pen.width(title, size=pen.base * 1.4, bold=True) + 20
    pen.rect(w - m - tw, 36, tw, 26, width=1.0)
    pen.text(w - m - 10, 54, title, size=pen.base * 1.4, bold=True, align="right")
    return 104


def kv_block(
    pen: Pen,
    x: float,
    y: float,
    w: float,
    items: Sequence[tuple[str, str]],
    cols: int,
    style: FieldStyle,
) -> float:
    """Label/value pairs in `cols` columns; returns the y under the block."""
    col_w = w / cols
    row_h = 0.0
    start = y
    for i, (label, value) in enumerate(items):
        col = i % cols
        if col == 0 and i:
            y += row_h
            row_h = 0.0
        used = pen.field(x + col * col_w, y, col_w, label, value, style)
        row_h = max(row_h, used)
    return (y + row_h + 4) if items else start
