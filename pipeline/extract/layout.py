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

__all__ = [
    "upright_bbox",
    "page_slope",
    "Tok",
    "LayoutLine",
    "layout_lines",
    "rows_of",
    "norm",
    "source_of",
]

# OCR specks and quote marks that cling to word edges ("1431794209\"", "‘Service", "99285 ©")
_EDGE_JUNK = "\"“”‘’«»©®°•·~^`'"
_NORM = re.compile(r"[^0-9a-z#\u4e00-\u9fff]+")
_GLUED = re.compile(r"^([^\W\d_][^:：]*[:：])(\S.*)$")


def norm(text: str) -> str:
    """Lower case letters, digits, '#' and CJK only: what label matching compares."""
    return _NORM.sub("", text.lower())


def upright_bbox(bbox: BBox, rotation: int) -> BBox:
    """A box of the stored page in the frame of the page turned upright by `rotation` degrees.

    Readers report boxes on the page as stored (so reviewers' highlights land right), but
    "to the right of the label" only means something on the upright page.
    """
    turn = rotation % 360
    x0, y0, x1, y1 = bbox
    if turn == 0:
        return bbox
    if turn == 90:
        return (1.0 - y1, x0, 1.0 - y0, x1)
    if turn == 180:
        return (1.0 - x1, 1.0 - y1, 1.0 - x0, 1.0 - y0)
    if turn == 270:
        return (y0, 1.0 - x1, y1, 1.0 - x0)
    raise ValueError(f"rotation must be one of 0, 90, 180, 270 degrees, got {rotation}")


@dataclass(frozen=True)
class Tok:
    text: str
    conf: float
    bbox: BBox
    """upright frame: what geometry reasoning uses"""
    page_index: int
    line_index: int
    src: BBox
    """the stored page's frame: what Source reports"""

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


_MIN_SLOPE = 0.002


def page_slope(page: Page) -> float:
    """How much the page's text lines climb per unit of width (median over long lines).

    Readers deskew to read, then report boxes on the stored (still skewed) page; rows of a
    table then drift apart in y across the page unless the drift is taken out again.
    """
    slopes: list[float] = []
    for line in page.lines:
        if len(line.words) < 2:
            continue
        pts = [upright_bbox(w.bbox, page.rotation) for w in line.words]
        xs = [(b[0] + b[2]) / 2 for b in pts]
        ys = [(b[1] + b[3]) / 2 for b in pts]
        span = max(xs) - min(xs)
        if span < 0.1:
            continue
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        var = sum((x - mx) ** 2 for x in xs)
        slopes.append(sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var)
    if len(slopes) < 3:
        return 0.0
    slope = sorted(slopes)[len(slopes) // 2]
    return slope if abs(slope) >= _MIN_SLOPE else 0.0


def _deskew(bbox: BBox, slope: float) -> BBox:
    if not slope:
        return bbox
    x0, y0, x1, y1 = bbox
    dy = -slope * ((x0 + x1) / 2 - 0.5)
    return (x0, y0 + dy, x1, y1 + dy)


def layout_lines(pages: list[Page]) -> list[LayoutLine]:
    """Lines of all pages in reading order, with glued "Label:value" words split."""
    out: list[LayoutLine] = []
    for p_idx, page in enumerate(pages):
        slope = page_slope(page)
        for line in page.lines:
            ll = LayoutLine(page_index=p_idx, index=len(out))
            for word in line.words:
                text = word.text.strip().strip(_EDGE_JUNK)
                if not text:
                    continue
                upright = _deskew(upright_bbox(word.bbox, page.rotation), slope)
                for part, conf, bbox in _split_glued(text, word.confidence, upright):
                    # a split "Label:value" word keeps the whole word's stored box as source
                    ll.tokens.append(Tok(part, conf, bbox, p_idx, ll.index, word.bbox))
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


_HEAD = re.compile(r"^[$]?\d[\d,]*[.,:]$")
_HEAD_BARE = re.compile(r"^[$]?\d[\d,]*$")
_CENTS = re.compile(r"^\d{2}$")


def merge_split_amounts(tokens: list[Tok]) -> list[Tok]:
    """Rejoin amounts OCR cut at the decimal point ("275." "52", or "95" "82" at a row's end)."""
    out: list[Tok] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if nxt is not None and _CENTS.match(nxt.text):
            gap = nxt.bbox[0] - tok.bbox[2]
            close = gap < 2.5 * max(tok.height, 0.004)
            last = i + 2 == len(tokens)
            if close and (_HEAD.match(tok.text) or (last and _HEAD_BARE.match(tok.text))):
                head = tok.text[:-1] if _HEAD.match(tok.text) else tok.text
                box = (
                    tok.bbox[0],
                    min(tok.bbox[1], nxt.bbox[1]),
                    nxt.bbox[2],
                    max(tok.bbox[3], nxt.bbox[3]),
                )
                src = union_bbox([tok.src, nxt.src])
                out.append(
                    Tok(
                        f"{head}.{nxt.text}",
                        min(tok.conf, nxt.conf),
                        box,
                        tok.page_index,
                        tok.line_index,
                        src,
                    )
                )
                i += 2
                continue
        out.append(tok)
        i += 1
    return out


def source_of(tokens: list[Tok], pages: list[Page]) -> Source:
    """The Source of a value read from `tokens` (all on one page)."""
    page = pages[tokens[0].page_index]
    box = union_bbox([t.src for t in tokens])
    return Source(file=page.file, page=page.page, bbox=box)
