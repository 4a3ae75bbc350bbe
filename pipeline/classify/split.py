"""Packet splitting: group a packet's classified pages into documents.

Mailroom packets arrive with pages shuffled, several documents per PDF and documents
spread over files. Pages join one document when they share a type and nothing says they
differ; they part when a page-number marker restarts ("Page 1 of 2" twice), a document
number differs, or they sit in different files without a continuation marker.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from pipeline.classify.pages import PageLabel
from pipeline.document import Page

__all__ = [
    "PageMarker",
    "DocumentSpan",
    "page_marker",
    "document_key",
    "same_key",
    "split_packet",
]

_PAGE_OF = re.compile(r"\bpage\s*(\d{1,3})\s*(?:of|/)\s*(\d{1,3})\b", re.IGNORECASE)
_NUMBER_LABEL = r"\b(?:invoice|statement|bill|report|certificate|claim)\s*(?:number|no\.?|num\.?|#)"
_NUMBER = r"((?=[A-Z-]*\d)[A-Z0-9][A-Z0-9-]{3,})"  # a number has a digit: not the next label
_DOC_NUMBER = re.compile(_NUMBER_LABEL + r"\s*[:#.]?\s*" + _NUMBER, re.IGNORECASE)
_LABEL_ONLY = re.compile(_NUMBER_LABEL + r"\s*[:#.]?", re.IGNORECASE)
_NUMBER_ONLY = re.compile(_NUMBER + r"$", re.IGNORECASE)
_COLUMN_SLACK = 0.03  # page widths: how far a value may start from its column label


class PageMarker(BaseModel):
    """A printed "Page k of n"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int = Field(ge=1)
    total: int = Field(ge=1)


class DocumentSpan(BaseModel):
    """The pages of one document, as positions into the packet's page list, in reading order."""

    model_config = ConfigDict(extra="forbid")

    doc_type: str
    pages: list[int]
    confidence: float = Field(ge=0.0, le=1.0)
    key: str | None = None


def page_marker(page: Page) -> PageMarker | None:
    """The page's own "Page k of n" marker, if one is printed and makes sense."""
    for match in _PAGE_OF.finditer(page.text):
        index, total = int(match.group(1)), int(match.group(2))
        if 1 <= index <= total <= 200:
            return PageMarker(index=index, total=total)
    return None


def document_key(page: Page) -> str | None:
    """A document number printed on the page (invoice/statement/report number), upper-cased.

    Either after its label ("Invoice No: A-100") or, in a header row of labels with the
    values on the row below ("Statement No.  Date" over "ST7558968  2025-03-14"), the
    value standing under the label.
    """
    match = _DOC_NUMBER.search(page.text)
    if match:
        return match.group(1).upper()
    return _number_under_label(page)


def _number_under_label(page: Page) -> str | None:
    words = [w for line in page.lines for w in line.words]
    for line in page.lines:
        text = line.text
        for match in _LABEL_ONLY.finditer(text):
            label = line.words[text.count(" ", 0, match.start())]
            height = max(label.bbox[3] - label.bbox[1], 1e-3)
            below = [
                w
                for w in words
                if label.bbox[3] - height / 2 < w.bbox[1] < label.bbox[3] + 2.5 * height
                and abs(w.bbox[0] - label.bbox[0]) < _COLUMN_SLACK
            ]
            if below:
                value = min(below, key=lambda w: w.bbox[1]).text
                if _NUMBER_ONLY.match(value):
                    return value.upper()
    return None


class _Open(BaseModel):
    doc_type: str
    file: str
    pages: list[int]
    key: str | None
    markers: dict[int, int]  # marker index -> packet page position
    total: int | None


_LOOKALIKE = str.maketrans("OQDILSBZG", "001115826")


def same_key(a: str | None, b: str | None) -> bool:
    """Two document numbers are one when they differ at most by one misread character.

    OCR confuses O/0, I/1, S/5 ..., and also reads a speck as an extra character or drops a
    faint one ("ST0390245" as "ST0Q390245"); a long number misread in one place on one page
    must not cut its document in two, while two bills' numbers differ in several places.
    """
    if not a or not b:
        return False
    x, y = a.upper().translate(_LOOKALIKE), b.upper().translate(_LOOKALIKE)
    if x == y:
        return True
    if min(len(x), len(y)) < 6:
        return False
    if len(x) == len(y):
        return sum(c != d for c, d in zip(x, y, strict=True)) <= 1
    if abs(len(x) - len(y)) != 1:
        return False
    shorter, longer = sorted((x, y), key=len)
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


def _fits(doc: _Open, page: Page, key: str | None, marker: PageMarker | None) -> bool:
    if key and doc.key and not same_key(key, doc.key):
        return False
    if marker is not None:
        if marker.index in doc.markers:
            return False
        if doc.total is not None and marker.total != doc.total:
            return False
        if marker.index == 1 and not doc.markers:
            return False  # a first page starts a document unless a marked one lacks its first page
    if doc.file != page.file:
        # Another file continues a document only with a marker saying so, or the same number.
        same_number = same_key(key, doc.key)
        continues = marker is not None and marker.index > 1 and doc.total == marker.total
        return same_number or continues
    return True


def split_packet(pages: Sequence[Page], labels: Sequence[PageLabel]) -> list[DocumentSpan]:
    """Group pages into documents; every page lands in exactly one document."""
    if len(pages) != len(labels):
        raise ValueError(f"{len(pages)} pages but {len(labels)} labels; give one label per page")
    open_docs: list[_Open] = []
    keys = [document_key(p) for p in pages]
    markers = [page_marker(p) for p in pages]

    for position, (page, label) in enumerate(zip(pages, labels, strict=True)):
        key, marker = keys[position], markers[position]
        candidates = [d for d in open_docs if d.doc_type == label.doc_type]
        # Prefer the document sharing this page's number, then the most recent one that fits.
        chosen = next((d for d in candidates if same_key(key, d.key)), None)
        if chosen is None:
            chosen = next(
                (d for d in reversed(candidates) if _fits(d, page, key, marker)),
                None,
            )
        if chosen is None:
            chosen = _Open(
                doc_type=label.doc_type,
                file=page.file,
                pages=[],
                key=key,
                markers={},
                total=marker.total if marker else None,
            )
            open_docs.append(chosen)
        chosen.pages.append(position)
        if key and not chosen.key:
            chosen.key = key
        if marker is not None:
            chosen.markers[marker.index] = position
            chosen.total = chosen.total or marker.total

    spans = []
    for doc in open_docs:
        ordered = sorted(
            doc.pages,
            key=lambda pos: (
                (
                    markers[pos].index if markers[pos] is not None else 10_000,  # type: ignore[union-attr]
                    pos,
                )
                if doc.markers
                else (0, pos)
            ),
        )
        confidence = min(labels[pos].confidence for pos in doc.pages)
        spans.append(
            DocumentSpan(doc_type=doc.doc_type, pages=ordered, confidence=confidence, key=doc.key)
        )
    spans.sort(key=lambda span: min(span.pages))
    return spans
