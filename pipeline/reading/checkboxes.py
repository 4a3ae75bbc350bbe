"""Checkboxes: find printed tick boxes on a page image and say which are marked.

A tick is ink, not text: neither a PDF text layer nor Tesseract reports it. Claim forms
state the claim type with one, so the reader adds a word "☒" (marked) or "☐" (empty) at
each box it finds, and extraction reads "☒ Inpatient" like any other label.
"""

from __future__ import annotations

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from pipeline.document import Line, Page, Word

__all__ = [
    "Checkbox",
    "CheckboxConfig",
    "detect_checkboxes",
    "add_checkbox_words",
    "MARKED",
    "EMPTY",
]

MARKED = "☒"
EMPTY = "☐"


class CheckboxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    min_side_in: float = Field(default=0.07, gt=0, description="smallest box side, inches")
    max_side_in: float = Field(default=0.32, gt=0, description="largest box side, inches")
    marked_fill: float = Field(default=0.10, ge=0, le=1, description="ink share inside = marked")
    empty_fill: float = Field(default=0.035, ge=0, le=1, description="ink share inside = empty")


class Checkbox(BaseModel):
    """A box in pixel coordinates of the image it was found on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    x0: int
    y0: int
    x1: int
    y1: int
    marked: bool
    fill: float = Field(ge=0, le=1)
    confidence: float = Field(ge=0, le=1)


def _ink(gray: np.ndarray) -> np.ndarray:
    if gray.ndim == 3:
        gray = cv2.cvtColor(gray, cv2.COLOR_RGB2GRAY)
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    return binary


def _stroke_image(ink: np.ndarray, run: int, horizontal: bool) -> np.ndarray:
    """Only the ink of straight strokes at least `run` pixels long in one direction."""
    shape = (run, 1) if horizontal else (1, run)
    return cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, shape))


def _segments(ink: np.ndarray, run: int, horizontal: bool) -> list[tuple[int, int, int, int]]:
    """Straight strokes at least `run` pixels long, as bounding boxes (x, y, w, h)."""
    opened = _stroke_image(ink, run, horizontal)
    # Outer contours are the connected components' outlines: at 300 DPI this is ~50x
    # faster than connectedComponentsWithStats, which labels every pixel of the page.
    contours, hierarchy = cv2.findContours(opened, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    return [
        tuple(int(v) for v in cv2.boundingRect(contour))  # type: ignore[misc]
        for contour, links in zip(contours, hierarchy[0], strict=True)
        if links[3] < 0
    ]


def _covered(strip: np.ndarray, axis: int) -> float:
    return float((strip.max(axis=axis) > 0).mean()) if strip.size else 0.0


def _isolated(ink: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> bool:
    """Paper around the box: a letter inside a word has neighbours, a checkbox has space.

    The ring is checked left, below and above; the right side holds the label and a tick
    may overflow the top-right corner, so those count less.
    """
    side = x1 - x0
    gap = max(2, side // 10)
    ring = max(2, side // 4)
    height, width = ink.shape[:2]

    def share(a: int, b: int, c: int, d: int) -> float:
        a, b, c, d = max(0, a), max(0, b), min(width, c), min(height, d)
        patch = ink[b:d, a:c]
        return float((patch > 0).mean()) if patch.size else 0.0

    left = share(x0 - gap - ring, y0, x0 - gap, y1)
    below = share(x0, y1 + gap, x1, y1 + gap + ring)
    above = share(x0, y0 - gap - ring, x0 + side // 2, y0 - gap)
    right = share(x1 + gap, y0 + side // 4, x1 + gap + max(2, side // 8), y1 - side // 4)
    return max(left, below, above) < 0.08 and right < 0.35


def detect_checkboxes(
    image: np.ndarray, dpi: float, config: CheckboxConfig | None = None
) -> list[Checkbox]:
    """Square outlines of checkbox size, each with the share of ink inside it.

    A box is two horizontal strokes of the same extent, one box-side apart, joined by
    vertical strokes at both ends. Ticks are diagonal and letters short, so neither makes
    a box; table rules are too long.
    """
    config = config or CheckboxConfig()
    if not config.enabled or image.size == 0:
        return []
    ink = _ink(image)
    lo, hi = config.min_side_in * dpi, config.max_side_in * dpi
    run = max(3, int(lo * 0.8))
    columns = _stroke_image(ink, max(3, int(lo * 0.7)), horizontal=False)
    rows = [
        s
        for s in _segments(ink, run, horizontal=True)
        if lo <= s[2] <= hi and s[3] <= max(4, s[2] / 4)
    ]
    # Top to bottom: a box's bottom stroke may start a pixel left of its top stroke (skew,
    # blur, a tick's ink joining it), so strokes are paired by height, not by left edge.
    rows.sort(key=lambda s: (s[1], s[0]))
    found: list[Checkbox] = []
    for i, (x, y, w, _h) in enumerate(rows):
        tol = max(2, int(w * 0.12))
        for x2, y2, w2, h2 in rows[i + 1 :]:
            if y2 - y > 1.33 * w:
                break  # strokes further down are no side of this box
            if abs(x2 - x) > tol:
                continue
            side = y2 + h2 - y
            if abs(w2 - w) > tol or not 0.75 * w <= side <= 1.33 * w:
                continue
            # Both sides must be straight strokes over the whole height: a "D" or "P" is not.
            band = max(2, w // 6)
            pad = max(2, w // 10)
            left = columns[y : y2 + h2, max(0, x - pad) : x + band]
            right = columns[y : y2 + h2, x + w - band : x + w + pad]
            if _covered(left, 1) < 0.8 or _covered(right, 1) < 0.8:
                continue
            if not _isolated(ink, x, y, x + w, y2 + h2):
                break
            margin = max(2, int(round(w * 0.2)))
            inside = ink[y + margin : y2 + h2 - margin, x + margin : x + w - margin]
            if inside.size == 0:
                continue
            fill = float((inside > 0).mean())
            if config.empty_fill < fill < config.marked_fill:
                break  # neither clearly empty nor clearly marked: say nothing rather than guess
            marked = fill >= config.marked_fill
            distance = (fill - config.marked_fill) if marked else (config.empty_fill - fill)
            found.append(
                Checkbox(
                    x0=x,
                    y0=y,
                    x1=x + w,
                    y1=y2 + h2,
                    marked=marked,
                    fill=round(fill, 4),
                    confidence=round(float(min(0.99, 0.75 + 4.0 * max(0.0, distance))), 4),
                )
            )
            break
    found.sort(key=lambda b: (b.y0, b.x0))
    return found


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Share of box `a` covered by box `b`."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    area = (a[2] - a[0]) * (a[3] - a[1])
    return (w * h) / area if w > 0 and h > 0 and area > 0 else 0.0


_OPENERS = "[({|"


def _box_reading(text: str) -> str | None:
    """How a reader's word relates to a printed box under it.

    "symbol": marks and brackets ("[_]", "(1]", "|X|"); "letter": one letter a box is often
    read as ("M", "J", "O") — also what a real one-letter word looks like; "prefix": a label
    glued to its box ("[Inpatient"); None: a real word, so the "box" is one of its letters.
    """
    stripped = text.strip()
    letters = sum(ch.isalpha() for ch in stripped)
    if not stripped:
        return None
    if letters == 0 or (len(stripped) <= 3 and letters <= 1 and not stripped.isalnum()):
        return "symbol"
    if len(stripped) == 1:
        return "letter"
    if stripped[0] in _OPENERS and stripped[1:].isalpha():
        return "prefix"
    return None


def add_checkbox_words(page: Page, boxes: list[Checkbox], width: int, height: int) -> Page:
    """The page with a ☒/☐ word at every box, placed into the text line it sits on.

    `width`, `height` are the pixel size of the image the boxes were found on, which must
    show the page in the same frame as its word boxes. A "box" that lies on a real word is
    a letter (a bold D or O), not a checkbox, and is dropped; what a reader made of a real
    box ("O", "[]", "X") is replaced by the mark.
    """
    if not boxes:
        return page
    lines = [list(line.words) for line in page.lines]
    for box in boxes:
        bbox = (box.x0 / width, box.y0 / height, box.x1 / width, box.y1 / height)
        side = bbox[2] - bbox[0]
        on_box = [
            (li, wi)
            for li, words in enumerate(lines)
            for wi, word in enumerate(words)
            if _overlap(bbox, word.bbox) > 0.25 or _overlap(word.bbox, bbox) > 0.5
        ]
        readings = {(li, wi): _box_reading(lines[li][wi].text) for li, wi in on_box}
        if any(kind is None for kind in readings.values()):
            continue
        # A lone letter under the box may be a real word ("Part B"): only take it when the
        # box stands apart from the word before it, as choices on a form do.
        gap = side * (0.8 if "letter" in readings.values() else 0.5)
        glued = any(
            0 <= bbox[0] - word.bbox[2] < gap
            and min(bbox[3], word.bbox[3]) - max(bbox[1], word.bbox[1]) > 0.5 * (bbox[3] - bbox[1])
            for li, words in enumerate(lines)
            for wi, word in enumerate(words)
            if (li, wi) not in readings
        )
        if glued:
            continue  # ink right after a word is its last letter
        labelled = any(
            0 <= word.bbox[0] - bbox[2] <= side * 2.5
            and min(bbox[3], word.bbox[3]) - max(bbox[1], word.bbox[1]) > 0.3 * (bbox[3] - bbox[1])
            for words in lines
            for word in words
        ) or any(kind == "prefix" for kind in readings.values())
        if not labelled:
            continue  # a box labels the words right of it; one with none is not a choice
        for (li, wi), kind in readings.items():
            if kind == "prefix":
                word = lines[li][wi]
                lines[li][wi] = Word(
                    text=word.text.strip()[1:],
                    confidence=word.confidence,
                    raw_confidence=word.raw_confidence,
                    bbox=(max(word.bbox[0], bbox[2]), word.bbox[1], word.bbox[2], word.bbox[3]),
                )
        on_box = [key for key, kind in readings.items() if kind != "prefix"]
        for li, wi in sorted(on_box, reverse=True):
            del lines[li][wi]
        mark = Word(text=MARKED if box.marked else EMPTY, confidence=box.confidence, bbox=bbox)
        centre = (bbox[1] + bbox[3]) / 2
        best: tuple[int, float] | None = None
        for index, words in enumerate(lines):
            if not words:
                continue
            top = min(w.bbox[1] for w in words)
            bottom = max(w.bbox[3] for w in words)
            if not top <= centre <= bottom:
                continue
            # A box labels the word to its right, even one in the middle of a line the
            # reader made of several choices; a line ending left of it is a last resort.
            after = [w.bbox[0] for w in words if w.bbox[0] >= bbox[0]]
            right = max(w.bbox[2] for w in words)
            distance = min(after) - bbox[2] if after else 1.0 + abs(bbox[0] - right)
            if best is None or distance < best[1]:
                best = (index, distance)
        if best is None:
            lines.append([mark])
        else:
            lines[best[0]] = sorted([*lines[best[0]], mark], key=lambda w: w.bbox[0])
    rebuilt = [Line.from_words(words) for words in lines if words]
    rebuilt.sort(key=lambda ln: (round(ln.bbox[1], 3), ln.bbox[0]))
    return page.model_copy(update={"lines": rebuilt})
