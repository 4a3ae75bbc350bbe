"""Identity values a document prints under a label OCR could not read, found by the value itself.

The documents of one claim repeat the patient's name, date of birth, member id and policy
number. On a poor scan the small labels go first ("Bue of Lerth", "Taseice Nev,") while the
larger values stay legible, so label anchoring finds nothing. When the other documents of
the packet agree on a value with confidence, and this document prints exactly that value,
the printed value is this document's field: the source box points at it, and it is scored
as a value found by pattern and confirmed by another document. Nothing is ever copied
that the page does not print.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipeline.document import BBox, Page
from pipeline.extract.confidence import Calibrator, ValueEvidence, make_evidence
from pipeline.extract.layout import (
    LayoutLine,
    Tok,
    joined_text,
    layout_lines,
    source_of,
    tokens_within,
)
from pipeline.extract.normalize import clean_id, find_dates, normalize_name
from pipeline.extract.vocab import LangVocab
from pipeline.names import given_name_first
from pipeline.schema import ExtractedField

__all__ = ["IDENTITY_FIELDS", "packet_identity", "find_repeated", "find_member", "same_name"]

IDENTITY_FIELDS: tuple[str, ...] = ("patient_name", "patient_dob", "member_id", "policy_number")
_MAX_ID_PARTS = 3  # OCR splits an id into at most this many words ("JSD96588 1486")
_NAME_PUNCT = re.compile(r"[.,;:'\"`()]")


def _name_words(text: str) -> list[str]:
    return [w for w in _NAME_PUNCT.sub(" ", text).casefold().split() if w]


def _key(kind: str, value: object) -> str | None:
    """How two printings of a value compare: ids without spaces, names without punctuation."""
    if value is None:
        return None
    if kind == "id":
        return clean_id(str(value))
    if kind == "name":
        return " ".join(_name_words(str(value))) or None
    return str(value)


def same_name(a: str, b: str) -> bool:
    """Two printings of one name: case and punctuation aside, family name first or not."""

    def keys(name: str) -> set[str | None]:
        return {_key("name", name), _key("name", given_name_first(name))}

    return bool((keys(a) & keys(b)) - {None})


def packet_identity(
    documents: Sequence[tuple[str, dict[str, ExtractedField]]],
    vocab: LangVocab,
    threshold: float,
) -> dict[str, str]:
    """Identity values the packet's documents agree on: each field's confident values
    (confidence >= `threshold`) all the same. A field the documents disagree on is left out."""
    known: dict[str, str] = {}
    for name in IDENTITY_FIELDS:
        kind = vocab.fields[name].kind
        values: dict[str, str] = {}
        for _, fields in documents:
            found = fields.get(name)
            if found is None or found.value is None or found.confidence < threshold:
                continue
            key = _key(kind, found.value)
            if key:
                values.setdefault(key, str(found.value))
        if len(values) == 1:
            known[name] = next(iter(values.values()))
    return known


def _date_at(line: LayoutLine, value: str, language: str) -> list[Tok]:
    text, offsets = joined_text(line.tokens)
    for found in find_dates(text, language):
        if found.value.isoformat() == value:
            return tokens_within(line.tokens, offsets, found.start, found.end)
    return []


def _id_at(line: LayoutLine, value: str) -> list[Tok]:
    toks = line.tokens
    for i in range(len(toks)):
        for n in range(1, _MAX_ID_PARTS + 1):
            if i + n > len(toks):
                break
            if clean_id("".join(t.text for t in toks[i : i + n])) == value:
                return toks[i : i + n]
    return []


def _name_at(line: LayoutLine, value: str) -> list[Tok]:
    words = value.split()
    toks = line.tokens
    for i in range(len(toks) - len(words) + 1):
        span = toks[i : i + len(words)]
        if [" ".join(_name_words(t.text)) for t in span] == words:
            return span
    return []


def _locate(kind: str, key: str, lines: list[LayoutLine], language: str) -> list[Tok]:
    for line in lines:
        if kind == "date":
            found = _date_at(line, key, language)
        elif kind == "id":
            found = _id_at(line, key)
        elif kind == "name":
            found = _name_at(line, key)
        else:
            return []
        if found:
            return found
    return []


def _overlaps(a: BBox, b: BBox) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def _confirmed(
    value: str | None, toks: list[Tok], pages: list[Page], calibrator: Calibrator
) -> tuple[ExtractedField, ValueEvidence]:
    """A value found printed where another document said it would be: read by pattern,
    confirmed by the packet (raw score)."""
    features = make_evidence(
        word_confidences=[t.conf for t in toks],
        method="pattern",
        validated=1.0,
        consistent=1.0,
    )
    confidence = calibrator.predict(features)
    field = ExtractedField(value=value, confidence=confidence, source=source_of(toks, pages))
    return field, ValueEvidence(method="pattern", features=features, confidence=confidence)


def find_repeated(
    doc_type: str,
    pages: list[Page],
    fields: dict[str, ExtractedField],
    known: dict[str, str],
    vocab: LangVocab,
    calibrator: Calibrator,
) -> tuple[dict[str, ExtractedField], dict[str, ValueEvidence]]:
    """The document's missing identity fields whose packet value it prints (raw scores).

    A printing that overlaps a value the document already has (a member id that is also
    the policy number) is not taken: the words already belong to a labelled field.
    """
    wanted = vocab.doc_fields.get(doc_type, [])
    missing = [
        n
        for n in IDENTITY_FIELDS
        if n in wanted and n in known and (n not in fields or fields[n].value is None)
    ]
    if not missing:
        return {}, {}
    lines = layout_lines(pages)
    taken = [
        (f.source.file, f.source.page, f.source.bbox)
        for f in fields.values()
        if f.value is not None and f.source is not None
    ]
    out: dict[str, ExtractedField] = {}
    evidence: dict[str, ValueEvidence] = {}
    for name in missing:
        kind = vocab.fields[name].kind
        key = _key(kind, known[name])
        if not key:
            continue
        toks = _locate(kind, key, lines, vocab.language)
        if not toks:
            continue
        source = source_of(toks, pages)
        if any(
            file == source.file and page == source.page and _overlaps(box, source.bbox)
            for file, page, box in taken
        ):
            continue
        printed = normalize_name(" ".join(t.text for t in toks)) if kind == "name" else key
        out[name], evidence[f"fields.{name}"] = _confirmed(printed, toks, pages, calibrator)
        taken.append((source.file, source.page, source.bbox))
    return out, evidence


def find_member(
    pages: list[Page],
    patient: str,
    vocab: LangVocab,
    calibrator: Calibrator,
) -> tuple[dict[str, ExtractedField], dict[str, ValueEvidence]]:
    """The patient's own row of a card that lists the family ("03 AMELIE R FONTAINE
    05/14/2017 CHD") where the card's labels gave the subscriber: the printed name, and the
    date of birth printed on the same row (raw scores). Nothing when the card does not
    print the patient's name."""
    key = _key("name", patient)
    if not key:
        return {}, {}
    lines = layout_lines(pages)
    for line in lines:
        toks = _name_at(line, key)
        if not toks:
            continue
        out: dict[str, ExtractedField] = {}
        evidence: dict[str, ValueEvidence] = {}
        # the rest of the printed row, which a reader may have cut into lines at its gaps
        end = toks[-1]
        rest = sorted(
            (
                t
                for other in lines
                for t in other.tokens
                if t.page_index == end.page_index
                and t.bbox[0] >= end.bbox[2]
                and abs(t.yc - end.yc) < 0.5 * end.height
            ),
            key=lambda t: t.bbox[0],
        )
        text, offsets = joined_text(rest)
        dates = find_dates(text, vocab.language)
        found: list[tuple[str, str | None, list[Tok]]] = [
            ("patient_name", normalize_name(" ".join(t.text for t in toks)), toks)
        ]
        if dates:
            used = tokens_within(rest, offsets, dates[0].start, dates[0].end)
            found.append(("patient_dob", dates[0].value.isoformat(), used))
        for name, value, used in found:
            out[name], evidence[f"fields.{name}"] = _confirmed(value, used, pages, calibrator)
        return out, evidence
    return {}, {}
