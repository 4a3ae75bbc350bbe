"""Word positions as the extractors see them: tokens with boxes, grouped in lines and rows.

Readers sometimes glue a label to its value ("DOB:01/02/1980") or break one visual row
into several lines at a gap; this module undoes both so the extractors can rely on
"label, then value to the right or below".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipeline.document import BBox, Page, union_bbox
from pipeline.schema import Source

__all__ = ["Tok", "LayoutLine", "layout_lines", "rows_of", "norm", "source_of"]

_NORM = re.compile(r"[^0-9a-z#\u4e00-\u9fff]+")
_GLUED = re.compile(r"^([^\W\d_][^:]*:)(\S.*)$")


def norm(text: str) -> str:
    """Lower case letters, digits, '#' and CJK only: what label matching compares."""
    return _NORM.sub("", text.lower())


@dataclass(frozen=True)
class Tok:
    text: str
    conf: float
    bbox: BBox
    page_index: int
    line_index: int

    @property
    def norm(self) -> str:
        return norm(self.text)

    @property
    def xc(self) -> float:
        return (self.bbox[0] + self.bbox[2]) / 2

    @property
    def yc(self) -> float:
        return (self.bbox[1] + self.bbox[3]) / 2

    @property
    def height(self) -> float:
        return self.bbox[3] - self.bbox[1]


@dataclass
class LayoutLine:
    page_index: int
    index: int
    tokens: list[Tok] = field(default_factory=list)

    @property
    def bbox(self) -> BBox:
        return union_bbox([t.bbox for t in self.tokens])

    @property
    def text(self) -> str:
        return " ".join(t.text for t in self.tokens)


def _split_glued(text: str, conf: float, bbox: BBox) -> list[tuple[str, float, BBox]]:
    m = _GLUED.match(text)
    if m is None or re.fullmatch(r"\d{1,2}:\d{2}", text):
        return [(text, conf, bbox)]
    head, tail = m.group(1), m.group(2)
    x0, y0, x1, y1 = bbox
    cut = x0 + (x1 - x0) * len(head) / len(text)
    return [(head, conf, (x0, y0, cut, y1)), (tail, conf, (cut, y0, x1, y1))]


def layout_lines(pages: list[Page]) -> list[LayoutLine]:
    """Lines of all pages in reading order, with glued "Label:value" words split."""
    out: list[LayoutLine] = []
    for p_idx, page in enumerate(pages):
        for line in page.lines:
            ll = LayoutLine(page_index=p_idx, index=len(out))
            for word in line.words:
                if not word.text.strip():
                    continue
                for text, conf, bbox in _split_glued(word.text, word.confidence, word.bbox):
                    ll.tokens.append(Tok(text, conf, bbox, p_idx, ll.index))
            if ll.tokens:
                ll.tokens.sort(key=lambda t: t.bbox[0])
                out.append(ll)
    return out


def rows_of(tokens: list[Tok]) -> list[list[Tok]]:
    """Tokens of one page grouped into visual rows (vertical overlap), each sorted left to right."""
    rows: list[list[Tok]] = []
    for tok in sorted(tokens, key=lambda t: (t.yc, t.bbox[0])):
        if rows:
            last = rows[-1]
            y0 = min(t.bbox[1] for t in last)
            y1 = max(t.bbox[3] for t in last)
            overlap = min(y1, tok.bbox[3]) - max(y0, tok.bbox[1])
            if overlap > 0.5 * min(tok.height, y1 - y0):
                last.append(tok)
                continue
        rows.append([tok])
    return [sorted(r, key=lambda t: t.bbox[0]) for r in rows]


def source_of(tokens: list[Tok], pages: list[Page]) -> Source:
    """The Source of a value read from `tokens` (all on one page)."""
    page = pages[tokens[0].page_index]
    box = union_bbox([t.bbox for t in tokens])
    return Source(file=page.file, page=page.page, bbox=box)
