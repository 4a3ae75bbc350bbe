"""Grouping words into lines, shared by the text-layer reader and OCR.

Words are the unit extraction relies on; lines are a convenience, split at wide gaps so
that a label and its value across a form, or the columns of an invoice row, do not run
together into one string.
"""

from __future__ import annotations

from statistics import median

from pipeline.document import Line, Word

__all__ = ["DEFAULT_GAP_FACTOR", "split_at_gaps", "group_into_lines"]

DEFAULT_GAP_FACTOR = 1.2
"""A gap wider than this many text heights ends a line segment (a space is ~0.3 heights)."""


def _height(word: Word) -> float:
    return max(word.bbox[3] - word.bbox[1], 1e-6)


def split_at_gaps(
    words: list[Word], aspect: float, gap_factor: float = DEFAULT_GAP_FACTOR
) -> list[list[Word]]:
    """Split the words of one visual row into segments at gaps wider than `gap_factor` heights.

    `aspect` is page height / page width: boxes are page fractions, so a height fraction is
    turned into width units before it is compared with a horizontal gap.
    """
    if not words:
        return []
    ordered = sorted(words, key=lambda w: w.bbox[0])
    row_height = median(_height(w) for w in ordered) * aspect
    segments: list[list[Word]] = [[ordered[0]]]
    for word in ordered[1:]:
        gap = word.bbox[0] - segments[-1][-1].bbox[2]
        if gap > gap_factor * row_height:
            segments.append([word])
        else:
            segments[-1].append(word)
    return segments


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def group_into_lines(
    words: list[Word], aspect: float, gap_factor: float = DEFAULT_GAP_FACTOR
) -> list[Line]:
    """Lines in reading order (top to bottom, then left to right) from loose words.

    `aspect` is page height / page width: boxes are in page fractions, so a vertical
    fraction is converted to horizontal units before comparing a gap to a text height.
    Rows are formed by vertical overlap of at least half the smaller word's height with the
    row's core: the median top and bottom of its words so far. (A row grown to the union of
    its words' spans chains lines of a dense form together: a box's small label line, a
    taller value beside it and the next line of an address become one interleaved row.)
    """
    if not words:
        return []
    rows: list[tuple[list[float], list[float], list[Word]]] = []
    for word in sorted(words, key=lambda w: ((w.bbox[1] + w.bbox[3]) / 2, w.bbox[0])):
        span = (word.bbox[1], word.bbox[3])
        placed = False
        # Only the last few rows can overlap a word sorted by its centre.
        for index in range(len(rows) - 1, max(-1, len(rows) - 4), -1):
            tops, bottoms, members = rows[index]
            core = (median(tops), median(bottoms))
            smaller = min(span[1] - span[0], core[1] - core[0])
            if smaller > 0 and _overlap(span, core) >= 0.5 * smaller:
                members.append(word)
                tops.append(span[0])
                bottoms.append(span[1])
                placed = True
                break
        if not placed:
            rows.append(([span[0]], [span[1]], [word]))
    lines: list[Line] = []
    for _, _, members in rows:
        for segment in split_at_gaps(members, aspect, gap_factor):
            lines.append(Line.from_words(segment))
    return lines
