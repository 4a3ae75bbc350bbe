"""Word positions as the extractors see them: tokens with boxes, grouped in lines and rows.

Readers sometimes glue a label to its value ("DOB:01/02/1980") or break one visual row
into several lines at a gap; this module undoes both so the extractors can rely on
"label, then value to the right or below".
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from itertools import pairwise

from pipeline.document import BBox, Page, union_bbox
from pipeline.extract.normalize import find_dates
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
    "joined_text",
    "tokens_within",
    "date_in_pieces",
]

# OCR specks and quote marks that cling to word edges ("1431794209\"", "‘Service", "99285 ©")
_EDGE_JUNK = "\"“”‘’«»©®°•·~^`'"
_NORM = re.compile(r"[^0-9a-z#\u4e00-\u9fff]+")
# A form's dot leader or fill-in rule ("Name of Patient ..........") and what OCR makes of
# one on a scan: ".................000065", "1.0.0...", "..............0.cccecceeeeeeee"
_LEADER_RUN = re.compile(r"[.…_·]{3,}")
_LEADER_CHARS = ".…_·:;"
_REPEATED = re.compile(r"(.)\1\1")
_GLUED = re.compile(r"^([^\W\d_][^:：]*[:：])(\S.*)$")
# "Statement #PVH-551902": the label's number sign printed against its value
_NUMBER_SIGN_GLUED = re.compile(r"^(#)([^\W_].*)$")


@functools.lru_cache(maxsize=65536)
def norm(text: str) -> str:
    """Lower case letters, digits, '#' and CJK only: what label matching compares.

    Cached: the extractors normalise the same words again and again (every label search
    over a line, every table-header test), hundreds of thousands of calls a batch.
    """
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
    starts_line: bool = False
    """the first word of a line as the reader made it (before split phrases were rejoined)"""

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


def joined_text(tokens: list[Tok]) -> tuple[str, list[int]]:
    """The tokens' texts one space apart, and where each token starts in that text: dates
    and amounts are found in the joined text, then traced back to their words."""
    offsets, position = [], 0
    for tok in tokens:
        offsets.append(position)
        position += len(tok.text) + 1
    return " ".join(t.text for t in tokens), offsets


def tokens_within(tokens: list[Tok], offsets: list[int], start: int, end: int) -> list[Tok]:
    """The tokens that the span [start, end) of `joined_text(tokens)` touches."""
    return [
        t for t, off in zip(tokens, offsets, strict=True) if off < end and off + len(t.text) > start
    ]


def _split_glued(text: str, conf: float, bbox: BBox) -> list[tuple[str, float, BBox]]:
    m = _GLUED.match(text) or _NUMBER_SIGN_GLUED.match(text)
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
    # Too few long lines to measure (a card): the skew the reader levelled, if any.
    slope = _skew_slope(page) if len(slopes) < 3 else sorted(slopes)[len(slopes) // 2]
    return slope if abs(slope) >= _MIN_SLOPE else 0.0


def _skew_slope(page: Page) -> float:
    """The climb per unit of width of text that the reader levelled by `page.skew` degrees,
    in the upright page's fractions (a turned page swaps width and height)."""
    if not page.skew:
        return 0.0
    return math.tan(math.radians(page.skew)) / _upright_aspect(page)


def _upright_aspect(page: Page) -> float:
    """Height over width of the page turned upright."""
    width, height = page.width, page.height
    if page.rotation % 180:
        width, height = height, width
    return height / width if width > 0 and height > 0 else 1.0


def _deskew(bbox: BBox, slope: float, aspect: float = 1.0) -> BBox:
    """The box turned about the page's centre so that lines climbing by `slope` lie level.

    A turn moves a box sideways as well as up or down: on a page skewed by 3 degrees, the
    bottom rows of a table sat 4 % of the width to one side of its header, enough to
    push a quantity under the next column. In page fractions (width and height differ,
    `aspect` = height / width) the sideways shift is slope x aspect^2 per unit of height.
    """
    if not slope:
        return bbox
    x0, y0, x1, y1 = bbox
    dy = -slope * ((x0 + x1) / 2 - 0.5)
    dx = slope * aspect * aspect * ((y0 + y1) / 2 - 0.5)
    return (x0 + dx, y0 + dy, x1 + dx, y1 + dy)


def layout_lines(pages: list[Page]) -> list[LayoutLine]:
    """Lines of all pages in reading order, with glued "Label:value" words split."""
    out: list[LayoutLine] = []
    for p_idx, page in enumerate(pages):
        slope = page_slope(page)
        aspect = _upright_aspect(page)
        for line in page.lines:
            ll = LayoutLine(page_index=p_idx, index=len(out))
            for word in line.words:
                text = _without_leader(word.text.strip().strip(_EDGE_JUNK))
                if not text:
                    continue
                upright = _deskew(upright_bbox(word.bbox, page.rotation), slope, aspect)
                for part, conf, bbox in _split_glued(text, word.confidence, upright):
                    # a split "Label:value" word keeps the whole word's stored box as source
                    ll.tokens.append(Tok(part, conf, bbox, p_idx, ll.index, word.bbox))
            if ll.tokens:
                ll.tokens.sort(key=lambda t: t.bbox[0])
                first = ll.tokens[0]
                ll.tokens[0] = Tok(
                    first.text, first.conf, first.bbox, p_idx, ll.index, first.src, True
                )
                out.append(ll)
    return _join_split_phrases(out)


def _without_leader(text: str) -> str:
    """`text` without the dot leader glued to it, or "" when the word is all leader: a dot
    run with fewer than four other characters, or with a character three times over (the
    dots read as "000065" or "cccecceee")."""
    if not _LEADER_RUN.search(text):
        return text
    rest = "".join(ch for ch in text if ch not in _LEADER_CHARS)
    if len(rest) < 4 or _REPEATED.search(rest):
        return ""
    return text.strip(_LEADER_CHARS)


_PHRASE_GAP = 2.0  # line heights: wider gaps separate columns, narrower ones words


def _join_split_phrases(lines: list[LayoutLine]) -> list[LayoutLine]:
    """Rejoin a phrase the reader cut into two lines at a word gap ("Name of" | "Insured").

    Two lines are one when they share a row and the second starts within a couple of line
    heights of the first's end: a label split that way would otherwise match as two
    shorter labels.
    """
    out: list[LayoutLine] = []
    # Every line is compared with every earlier one: their boxes are kept beside them, not
    # recomputed from the tokens for each comparison (most of the extractors' time did that).
    boxes: list[BBox] = []
    page_start = 0
    for line in lines:
        box = line.bbox
        # Lines come page by page: only the lines of this page so far can be continued.
        while page_start < len(out) and out[page_start].page_index != line.page_index:
            page_start += 1
        host = next(
            (
                at
                for at in range(len(out) - 1, page_start - 1, -1)
                if _continues(out[at].page_index, boxes[at], line.page_index, box)
            ),
            None,
        )
        if host is None:
            out.append(line)
            boxes.append(box)
            continue
        out[host].tokens.extend(line.tokens)
        boxes[host] = union_bbox([boxes[host], box])
    for index, line in enumerate(out):
        line.index = index
        line.tokens = [
            Tok(t.text, t.conf, t.bbox, t.page_index, index, t.src, t.starts_line)
            for t in sorted(line.tokens, key=lambda t: t.bbox[0])
        ]
    return out


def _continues(left_page: int, a: BBox, right_page: int, b: BBox) -> bool:
    """Whether the line with box `b` carries on the line with box `a` (same row, a word gap)."""
    if left_page != right_page:
        return False
    height = max(a[3] - a[1], b[3] - b[1])
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    if overlap <= 0.5 * min(a[3] - a[1], b[3] - b[1]):
        return False
    gap = max(b[0] - a[2], a[0] - b[2])
    return -0.5 * height <= gap <= _PHRASE_GAP * height


_TALL = 2.5  # times the page's median word height: a rule or smudge read as a "word"


def rows_of(tokens: list[Tok]) -> list[list[Tok]]:
    """Tokens of one page grouped into visual rows (vertical overlap), each sorted left to right.

    A word much taller than the page's words (a table rule read as "CO" or "|") joins the
    row nearest its centre without stretching it, or it would glue several rows together.
    """
    if not tokens:
        return []
    heights = sorted(t.height for t in tokens)
    tall = _TALL * max(heights[len(heights) // 2], 1e-4)
    rows: list[list[Tok]] = []
    for tok in sorted((t for t in tokens if t.height <= tall), key=lambda t: (t.yc, t.bbox[0])):
        if rows:
            last = rows[-1]
            y0 = min(t.bbox[1] for t in last)
            y1 = max(t.bbox[3] for t in last)
            overlap = min(y1, tok.bbox[3]) - max(y0, tok.bbox[1])
            if overlap > 0.5 * min(tok.height, y1 - y0):
                last.append(tok)
                continue
        rows.append([tok])
    for tok in (t for t in tokens if t.height > tall):
        centres = [sum(t.yc for t in r) / len(r) for r in rows]
        inside = [i for i, c in enumerate(centres) if tok.bbox[1] <= c <= tok.bbox[3]]
        if inside:
            rows[min(inside, key=lambda i: abs(centres[i] - tok.yc))].append(tok)
        else:
            rows.append([tok])
    rows.sort(key=lambda r: min(t.yc for t in r))
    return [sorted(r, key=lambda t: t.bbox[0]) for r in rows]


_HEAD = re.compile(r"^[$]?\d[\d,]*[.,:]$")
_HEAD_BARE = re.compile(r"^[$]?\d[\d,]*$")
_CENTS = re.compile(r"^\d{2}$")
_POINT_CENTS = re.compile(r"^[.,:\-]\d{2}$")
_POINT = re.compile(r"^[.,:]$")


def _joined(parts: list[Tok], text: str) -> Tok:
    first = parts[0]
    box = (
        first.bbox[0],
        min(t.bbox[1] for t in parts),
        parts[-1].bbox[2],
        max(t.bbox[3] for t in parts),
    )
    src = union_bbox([t.src for t in parts])
    conf = min(t.conf for t in parts)
    return Tok(text, conf, box, first.page_index, first.line_index, src)


def merge_split_amounts(tokens: list[Tok]) -> list[Tok]:
    """Rejoin amounts OCR cut at the decimal point: "275." "52"; "228" "." "80"; "27" ".65";
    and at a row's end "95" "82" or "179" "-61" (a faint point read as a hyphen)."""
    out: list[Tok] = []
    i = 0
    while i < len(tokens):
        parts, text = _split_amount_at(tokens, i)
        if parts > 1:
            out.append(_joined(tokens[i : i + parts], text))
        else:
            out.append(tokens[i])
        i += parts
    return out


def _split_amount_at(tokens: list[Tok], i: int) -> tuple[int, str]:
    """How many tokens from i make one amount, and its text (1 and the token's own text)."""
    tok = tokens[i]
    reach = 2.5 * max(tok.height, 0.004)
    near: list[Tok] = []  # the next tokens, each within reach of the one before it
    for t in tokens[i + 1 : i + 3]:
        if t.bbox[0] - (near[-1] if near else tok).bbox[2] >= reach:
            break
        near.append(t)
    last = i + 2 == len(tokens)
    three = len(near) == 2 and _POINT.match(near[0].text) and _CENTS.match(near[1].text)
    if three and _HEAD_BARE.match(tok.text):
        return 3, f"{tok.text}.{near[1].text}"
    if not near:
        return 1, tok.text
    nxt = near[0].text
    if _HEAD_BARE.match(tok.text) and _POINT_CENTS.match(nxt) and (nxt[0] != "-" or last):
        return 2, f"{tok.text}.{nxt[1:]}"
    if _CENTS.match(nxt) and _HEAD.match(tok.text):
        return 2, f"{tok.text[:-1]}.{nxt}"
    if _CENTS.match(nxt) and last and _HEAD_BARE.match(tok.text):
        return 2, f"{tok.text}.{nxt}"
    return 1, tok.text


def source_of(tokens: list[Tok], pages: list[Page]) -> Source:
    """The Source of a value read from `tokens` (all on one page)."""
    page = pages[tokens[0].page_index]
    box = union_bbox([t.src for t in tokens])
    return Source(file=page.file, page=page.page, bbox=box)


_DATE_PIECE = re.compile(r"[\d/.\-]+")


def date_in_pieces(row: list[Tok], lang: str) -> tuple[list[Tok], str] | None:
    """A date a scan broke into pieces near the start of `row` ("03/1 1/2025", "03/ 1
    1/2025"): two to four touching pieces of digits and separators that together are one
    date, and the date in ISO form."""
    for start in range(min(3, len(row))):
        for end in range(start + 2, min(start + 4, len(row)) + 1):
            pieces = row[start:end]
            if not all(_DATE_PIECE.fullmatch(t.text) for t in pieces):
                break
            if any(b.bbox[0] - a.bbox[2] > a.height for a, b in pairwise(pieces)):
                break
            joined = "".join(t.text for t in pieces)
            found = find_dates(joined, lang)
            if found and found[0].start == 0 and found[0].end == len(joined):
                return pieces, found[0].value.isoformat()
    return None
