"""Packet splitting: group a packet's classified pages into documents.

Mailroom packets arrive with pages shuffled, several documents per PDF and documents
spread over files. Pages join one document when they share a type and nothing says they
differ; they part when a page-number marker restarts ("Page 1 of 2" twice), a document
number differs, the provider's NPIs differ, or they sit in different files without a
continuation marker. A document whose markers are all there ("1 of 2" and "2 of 2") is
complete: an unmarked page that joined it belongs to another document.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from difflib import SequenceMatcher

from pydantic import BaseModel, ConfigDict, Field

from pipeline.classify.pages import PageLabel
from pipeline.document import Page
from pipeline.extract.layout import layout_lines
from pipeline.extract.normalize import npi_is_valid

__all__ = [
    "PageMarker",
    "DocumentSpan",
    "page_marker",
    "page_npis",
    "page_letterhead",
    "document_key",
    "same_key",
    "split_packet",
]

# "Page 2 of 3", "Pg 2/3", "p. 1 of 1"; OCR reads "of" as "at", "af", "ot" or "0f"
_PAGE_OF = re.compile(
    r"\b(?:page|pg|pp?)\.?\s*(\d{1,3})\s*(?:of|0f|af|at|ot|/)\s*(\d{1,3})\b", re.IGNORECASE
)
# "No." with its period read as a comma ("Statement No, B-53043-02") is still the label
_NUMBER_LABEL = (
    r"\b(?:invoice|statement|bill|report|certificate|claim)\s*(?:number|no[.,]?|num\.?|#)"
)
_NUMBER = r"((?=[A-Z-]*\d)[A-Z0-9][A-Z0-9-]{3,})"  # a number has a digit: not the next label
# the number on the label's own line: a reader may list a row's labels and values apart
# ("Statement No." then the NPI's value on the next line of its text)
_DOC_NUMBER = re.compile(_NUMBER_LABEL + r"[ \t]*[:#.]?[ \t]*" + _NUMBER, re.IGNORECASE)
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
    npis: set[str] = set()
    letterheads: list[str] = []
    headings: set[str] = set()


_NPI_TOKEN = re.compile(r"\d{10}")
_PHONE_WORDS = frozenset({"tel", "tel.", "tel:", "phone", "phone:", "fax", "fax:", "telephone"})


def page_npis(page: Page) -> set[str]:
    """The NPIs printed on the page: ten-digit numbers whose check digit is right.

    A phone number printed without separators is no NPI: a number after "Tel"/"Phone"/"Fax"
    is left out. One in ten random ten-digit numbers passes the check, so an NPI only ever
    separates pages in `_fits`, where two pages' whole sets must differ.
    """
    found: set[str] = set()
    for line in page.lines:
        words = [w.text.strip(":#.,;()[]|") for w in line.words]
        for i, word in enumerate(words):
            if not _NPI_TOKEN.fullmatch(word) or not npi_is_valid(word):
                continue
            if i and line.words[i - 1].text.casefold() in _PHONE_WORDS:
                continue
            found.add(word)
    return found


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


_LETTERHEAD_TOP = 0.15  # page heights: where a letterhead is printed
_SAME_PROVIDER = 0.6  # similarity of two letterheads of one provider, OCR noise allowed


def page_letterhead(page: Page, provider_words: Collection[str]) -> str | None:
    """The provider's name at the top of the page ("Cobbstad General Hospital"), folded.

    The first line near the top that is words only and holds a provider word; None when
    no such line is read (a continuation page without a letterhead, a garbled one).
    """
    if not provider_words:
        return None
    words = {w.casefold() for w in provider_words}
    lines = sorted(layout_lines([page]), key=lambda line: line.bbox[1])
    for line in lines:
        if line.bbox[1] > _LETTERHEAD_TOP:
            break
        texts = [t.text.strip(".,:;|_-").casefold() for t in line.tokens]
        texts = [t for t in texts if t]
        if len(texts) < 2 or any(any(c.isdigit() for c in t) for t in texts):
            continue
        if words.intersection(texts):
            return " ".join(texts)
    return None


def _other_provider(letterhead: str | None, known: list[str]) -> bool:
    if letterhead is None or not known:
        return False
    return all(SequenceMatcher(None, letterhead, k).ratio() < _SAME_PROVIDER for k in known)


def _fits(
    doc: _Open,
    page: Page,
    key: str | None,
    marker: PageMarker | None,
    npis: set[str],
    letterhead: str | None,
    heading: str | None = None,
) -> bool:
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
    if marker is not None and doc.total == marker.total:
        return True  # a missing page of a numbered run: its markers outweigh an NPI
    if heading is not None and doc.headings and heading not in doc.headings:
        return False  # "OPERATIVE NOTE" after "DISCHARGE SUMMARY": a report of its own
    if npis and doc.npis and not npis & doc.npis:
        return False  # another provider's bill, though neither bill's number was read
    return not _other_provider(letterhead, doc.letterheads)


def _group(
    positions: Sequence[int],
    pages: Sequence[Page],
    labels: Sequence[PageLabel],
    keys: Sequence[str | None],
    markers: Sequence[PageMarker | None],
    npis: Sequence[set[str]],
    letterheads: Sequence[str | None],
    headings: Sequence[str | None],
) -> list[_Open]:
    open_docs: list[_Open] = []
    for position in positions:
        page, label = pages[position], labels[position]
        key, marker = keys[position], markers[position]
        candidates = [d for d in open_docs if d.doc_type == label.doc_type]
        # Prefer the document sharing this page's number, then the most recent one that fits.
        chosen = next((d for d in candidates if same_key(key, d.key)), None)
        if chosen is None:
            chosen = next(
                (
                    d
                    for d in reversed(candidates)
                    if _fits(
                        d,
                        page,
                        key,
                        marker,
                        npis[position],
                        letterheads[position],
                        headings[position],
                    )
                ),
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
        chosen.npis = chosen.npis | npis[position]
        if letterheads[position] is not None:
            chosen.letterheads.append(letterheads[position])  # type: ignore[arg-type]
        heading = headings[position]
        if heading is not None:
            chosen.headings = chosen.headings | {heading}
        if key and not chosen.key:
            chosen.key = key
        if marker is not None:
            chosen.markers[marker.index] = position
            chosen.total = chosen.total or marker.total
    return open_docs


def _strays(doc: _Open, keys: Sequence[str | None]) -> list[int]:
    """Unmarked pages of a document whose markers are all there ("1 of 2", "2 of 2"): they
    belong to another document, unless they print the marked pages' number."""
    if doc.total is None or set(doc.markers) != set(range(1, doc.total + 1)):
        return []
    marked = set(doc.markers.values())
    numbers = [keys[pos] for pos in marked if keys[pos]]
    return [
        pos
        for pos in doc.pages
        if pos not in marked and not any(same_key(keys[pos], n) for n in numbers)
    ]


def _heading_key(page: Page, titles: tuple[tuple[str, str], ...]) -> str | None:
    from pipeline.classify.titles import page_heading

    heading = page_heading(page, titles) if page.words else None
    return heading[1] if heading is not None else None


def split_packet(
    pages: Sequence[Page],
    labels: Sequence[PageLabel],
    provider_words: Collection[str] = (),
    titles: tuple[tuple[str, str], ...] = (),
) -> list[DocumentSpan]:
    """Group pages into documents; every page lands in exactly one document.

    `provider_words` (the language's "hospital", "clinic" ...) let letterheads tell two
    providers' documents apart; without them only numbers, markers and NPIs do. `titles`
    (the language's document titles) tell one provider's reports apart: a page headed by a
    title its document has not printed starts another document.
    """
    if len(pages) != len(labels):
        raise ValueError(f"{len(pages)} pages but {len(labels)} labels; give one label per page")
    keys = [document_key(p) for p in pages]
    markers = [page_marker(p) for p in pages]
    npis = [page_npis(p) for p in pages]
    heads = [page_letterhead(p, provider_words) for p in pages]
    headings = [_heading_key(p, titles) for p in pages]
    open_docs = _group(range(len(pages)), pages, labels, keys, markers, npis, heads, headings)
    strays: list[int] = []
    for doc in open_docs:
        out = _strays(doc, keys)
        if out:
            doc.pages = [pos for pos in doc.pages if pos not in out]
            doc.key = next((keys[pos] for pos in doc.pages if keys[pos]), None)
            strays += out
    if strays:
        open_docs += _group(sorted(strays), pages, labels, keys, markers, npis, heads, headings)

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
