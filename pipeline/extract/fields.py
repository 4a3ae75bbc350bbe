"""Label-anchored field extraction: find a label from the vocabulary, read the value beside or below it.

Labels are matched fuzzily (edit distance after folding OCR look-alikes) so OCR noise like "Pat1ent Narne" still anchors, but
short labels ("DOB", "NPI") must match exactly: a fuzzy three-letter label matches anything.
Every candidate is typed (date, money, id, name ...) and validated before it can win.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from typing import NamedTuple

from rapidfuzz.distance import Levenshtein

from pipeline.document import Page, union_bbox
from pipeline.extract.confidence import Calibrator, Method, ValueEvidence, make_evidence
from pipeline.extract.layout import (
    LayoutLine,
    Tok,
    date_in_pieces,
    joined_text,
    merge_split_amounts,
    norm,
    rows_of,
    source_of,
    tokens_within,
)
from pipeline.extract.normalize import (
    OCR_DIGIT_REPAIRS,
    clean_id,
    find_dates,
    normalize_name,
    npi_is_valid,
    parse_compact_date,
    parse_money,
)
from pipeline.extract.vocab import FieldKind, LangVocab
from pipeline.names import NAME_SUFFIXES, given_name_first
from pipeline.schema import ExtractedField

__all__ = ["LabelHit", "find_labels", "extract_fields", "FUZZY_THRESHOLD"]

FUZZY_THRESHOLD = 0.84
FAILED_CHECK_CONFIDENCE = 0.3
_EXACT_ONLY_LEN = 4
_MAX_BELOW_LINES = 2.0  # label heights between a label and a value printed under it


@dataclass(frozen=True)
class LabelHit:
    field: str
    label: str
    score: float
    line: int
    start: int
    end: int  # token index after the label

    def bbox_x(self, line: LayoutLine) -> tuple[float, float]:
        toks = line.tokens[self.start : self.end]
        return toks[0].bbox[0], toks[-1].bbox[2]


@dataclass
class _Candidate:
    field: str
    value: str | float
    tokens: list[Tok]
    method: Method
    hit: LabelHit | None
    validated: float = 0.5
    rank: int = 0


class LabelEntry(NamedTuple):
    """A label of the vocabulary as `find_labels` compares it."""

    name: str
    label: str
    key: str
    """the label normalised (`norm`)"""
    folded: str
    """`key` folded (`_fold`): what `_similar` compares"""


class _LabelTable(NamedTuple):
    by_length: dict[int, list[LabelEntry]]
    """for each folded span length, the labels a span of that length could match"""
    longest: int
    """words in the longest label ("Insured's Policy Group or FECA Number": 6)"""
    by_letter: dict[tuple[int, int, str], list[int]]
    """(span length, 0 / 1 / 2 for the first / second / last letter, letter): the positions
    in `by_length[length]` of the labels with that letter there"""
    matches: dict[str, tuple[tuple[str, str, float], ...]]
    """folded span -> (field, label, score) of the labels it matches, as spans recur"""


_MATCHES_KEPT = 200_000
"""Folded spans whose label matches are remembered (about 100 bytes each)."""


_LABEL_TABLES: dict[int, tuple[LangVocab, _LabelTable]] = {}


def _label_table(vocab: LangVocab) -> _LabelTable:
    """The vocabulary's labels by the folded span lengths they could match, built once.

    `_similar` allows max(1, len // 6) edits of a label's folded length, so every other
    label is skipped before any comparison.
    """
    cached = _LABEL_TABLES.get(id(vocab))
    if cached is not None and cached[0] is vocab:
        return cached[1]
    by_length: dict[int, list[LabelEntry]] = {}
    longest = 1
    for name, fv in vocab.fields.items():
        for label in fv.labels:
            longest = max(longest, len(label.split()))
            key = norm(label)
            if key:
                folded = _fold(key)
                by_length.setdefault(len(folded), []).append(LabelEntry(name, label, key, folded))
    table: dict[int, list[LabelEntry]] = {}
    for length, entries in by_length.items():
        slack = max(1, length // 6)
        for size in range(max(1, length - slack), length + slack + 1):
            table.setdefault(size, []).extend(entries)
    by_letter: dict[tuple[int, int, str], list[int]] = {}
    for size, entries in table.items():
        for position, entry in enumerate(entries):
            letters = (entry.folded[0], entry.folded[1:2], entry.folded[-1])
            for slot, letter in enumerate(letters):
                by_letter.setdefault((size, slot, letter), []).append(position)
    labels = _LabelTable(table, longest, by_letter, {})
    _LABEL_TABLES[id(vocab)] = (vocab, labels)
    return labels


_FOLDS = (("rn", "m"), ("vv", "w"), ("0", "o"), ("1", "l"), ("i", "l"), ("5", "s"))


@functools.lru_cache(maxsize=65536)
def _fold(text: str) -> str:
    """Collapse characters OCR confuses in words, so "Pat1ent Narne" meets "Patient Name"."""
    for a, b in _FOLDS:
        text = text.replace(a, b)
    return text


def _label_matches(labels: _LabelTable, folded: str) -> tuple[tuple[str, str, float], ...]:
    """(field, label, score) of every label a folded span matches, in the table's order.

    `_similar` is 0 unless the span keeps a label's first, second or last letter, so only the
    labels sharing one of those are compared.
    """
    known = labels.matches.get(folded)
    if known is not None:
        return known
    size = len(folded)
    entries = labels.by_length.get(size, [])
    positions: set[int] = set()
    for slot, letter in enumerate((folded[0], folded[1:2], folded[-1])):
        positions.update(labels.by_letter.get((size, slot, letter), ()))
    found: list[tuple[str, str, float]] = []
    for position in sorted(positions):
        entry = entries[position]
        score = _similar(folded, entry.key)
        if score >= FUZZY_THRESHOLD:
            found.append((entry.name, entry.label, score))
    if len(labels.matches) >= _MATCHES_KEPT:
        labels.matches.clear()
    labels.matches[folded] = result = tuple(found)
    return result


def _within_edits(a: str, b: str, k: int) -> int | None:
    """Levenshtein distance of a and b if it is at most k, else None (rapidfuzz's C
    implementation: label matching compares tens of thousands of spans per batch)."""
    if abs(len(a) - len(b)) > k:
        return None
    distance = Levenshtein.distance(a, b, score_cutoff=k)
    return distance if distance <= k else None


@functools.lru_cache(maxsize=262144)
def _similar(a: str, b: str) -> float:
    """1.0 for the same label after OCR folding; less for a typo or two; 0 otherwise.

    Allowed edits grow with label length (one per six characters), so "Statement of"
    (two edits from "Statement No") is not a label while "Polcy Number" is.
    """
    a, b = _fold(a), _fold(b)
    if a == b:
        return 1.0
    if "#" in b and "#" not in a:
        return 0.0  # "Statement #" without its '#' is just the word "Statement"
    if len(b) <= _EXACT_ONLY_LEN or abs(len(a) - len(b)) > max(1, len(b) // 6):
        return 0.0
    if a[0] != b[0] and a[1:2] != b[1:2] and a[-1] != b[-1]:
        return 0.0  # a misread label keeps its first, second or last letter; skip the DP
    dist = _within_edits(a, b, max(1, len(b) // 6))
    return 0.0 if dist is None else 1.0 - dist / len(b)


_SPECK = re.compile(r"[;_.,'`~\"]+")


_ENUMERATOR = re.compile(r"(?:\(?\d{1,2}[a-zA-Z]?|[A-Za-z])[.)]|\(\d{1,2}[a-zA-Z]?\)|\d{1,2}[a-z]?")
"""A form's item number in front of a label: "1a." "28." "A." "b)" "(3)" (CMS-1500 boxes),
"56" "3a" (UB-04 boxes)."""

_HEAD_LABELS = frozenset({"id", "dob", "npi"})
"""Labels that end longer labels ("Subscriber ID") and never a name ("... Medical Group")."""


def _starts_phrase(line: LayoutLine, hit: LabelHit) -> bool:
    """A label starts a line, follows a gap, or ends in ':'; not "Hospital" in a letterhead.

    "ID", "DOB" or "NPI" ending a short label cell also counts: it is the head of a longer
    label whose first word OCR garbled ("Mciraer ID").
    """
    toks = line.tokens
    if toks[hit.start].text.startswith("(") and len(norm(hit.label)) >= 3:
        return True  # an aside opened by a label: "Re: Jonathan P. Meyer (DOB 10/30/1955)"
    if hit.start > 2 and hit.end - hit.start == 1 and norm(hit.label) in _HEAD_LABELS:
        before = toks[hit.start - 1]
        near = toks[hit.start].bbox[0] - before.bbox[2] < 2.0 * max(toks[hit.start].height, 0.005)
        if near and before.text[-1:].isalpha():
            return False  # "... electronically, payer ID 60054": another thing's id in prose
    if hit.start == 0 or toks[hit.start].starts_line:
        return True  # a line's start, or the start of one the reader made ("... | Grp 78460")
    first = hit.start
    while first > 0 and _ENUMERATOR.fullmatch(toks[first - 1].text):
        first -= 1  # "28. TOTAL CHARGE", "24. A. DATE(S) OF SERVICE": numbered form boxes
    if first < hit.start and (
        first == 0
        or toks[first].starts_line
        or toks[first].bbox[0] - toks[first - 1].bbox[2] > 2.0 * max(toks[first].height, 0.005)
    ):
        return True
    head = norm(hit.label) in _HEAD_LABELS and hit.end == len(toks)
    if head and hit.end - hit.start == 1 <= hit.start <= 2:
        return True
    if toks[hit.end - 1].text.endswith(":") or toks[hit.start - 1].text.endswith((":", "|")):
        return True
    if _SPECK.fullmatch(toks[hit.start - 1].text):
        return True  # after a speck the reader printed for dirt or a form rule (";", "_")
    if toks[hit.start - 1].text.endswith(",") and len(norm(hit.label)) > 3:
        return True  # "..., born 1960" yes; "Boise, ID 83702" is a state, not a label
    previous = toks[hit.start - 1].text
    if (
        sum(c.isdigit() for c in previous) >= 4
        and not any(c.isalpha() for c in previous)
        and len(norm(hit.label)) > 3
    ):
        return True  # after another label's number: "NPI 1648293714 Federal Tax ID 23-..."
    gap = toks[hit.start].bbox[0] - toks[hit.start - 1].bbox[2]
    return gap > 2.0 * max(toks[hit.start].height, 0.005)


def find_labels(lines: list[LayoutLine], vocab: LangVocab) -> list[LabelHit]:
    """Non-overlapping label hits per line; at one place the longest, then closest, label wins."""
    labels = _label_table(vocab)
    longest = labels.longest
    hits: list[LabelHit] = []
    for line in lines:
        norms = [t.norm for t in line.tokens]
        found: list[LabelHit] = []
        for i in range(len(norms)):
            if not norms[i]:
                continue
            for n in range(1, longest + 1):
                if i + n > len(norms):
                    break
                if any(t.text.endswith(":") for t in line.tokens[i : i + n - 1]):
                    break  # a colon ends a label: "Effective Date: Mar" is not one label
                folded = _fold("".join(norms[i : i + n]))
                for name, label, score in _label_matches(labels, folded):
                    found.append(LabelHit(name, label, score, line.index, i, i + n))
        found = [
            h
            for h in found
            if _starts_phrase(line, h)
            and (not h.label.endswith(":") or _colon_after(line.tokens, h.end))
            and _abbreviation_in_capitals(line.tokens[h.start : h.end], h.label)
        ]  # "Pt:" is a label, "PT evaluation" is physical therapy
        found.sort(key=lambda h: (h.start - h.end, -h.score, -len(norm(h.label)), h.start))
        taken: set[int] = set()
        for hit in found:
            span = set(range(hit.start, hit.end))
            if span & taken:
                continue
            end = _instruction_end(line.tokens, hit.end)
            if end > hit.end and not taken & set(range(hit.end, end)):
                hit = replace(hit, end=end)
                span = set(range(hit.start, end))
            taken |= span
            hits.append(hit)
    return sorted(hits, key=lambda h: (h.line, h.start))


def _abbreviation_in_capitals(tokens: list[Tok], label: str) -> bool:
    """A label that is an abbreviation of three capitals at most ("MI", "M.I.", "DOB",
    "NPI") is one only where it is printed in capitals: "Mi" before "Lone Star Urgent
    Care" is a logo read as letters, "Dob" a name. OCR gives small letters for capitals of
    the same shape ("DOs", and "l" for "I" in "M.l"), which still count."""
    letters = [c for c in label if c.isalpha()]
    if not letters or len(letters) > 3 or not all(c.isupper() for c in letters):
        return True
    printed = [c for t in tokens for c in t.text if c.isalpha()]
    return (
        bool(printed)
        and printed[0].isupper()
        and all(c.isupper() or c in _CAPITAL_SHAPED for c in printed[1:])
    )


_CAPITAL_SHAPED = "cosvwxzl"
"""Small letters OCR gives for capitals that look the same (and "l" for "I")."""


def _colon_after(tokens: list[Tok], end: int) -> bool:
    """Whether a colon ends the label that ends before `end` ("Pt:" or "Pt :")."""
    return tokens[end - 1].text.endswith(":") or (
        end < len(tokens) and tokens[end].text.startswith(":")
    )


def _instruction_end(tokens: list[Tok], after: int, most: int = 12) -> int:
    """Where a printed instruction in parentheses right after a label ends, or `after`.

    Forms print how to fill a box next to its label: "PATIENT'S NAME (Last Name, First Name,
    Middle Initial)", "DATE OF BIRTH (MM/DD/YYYY)". That is part of the label, not its value;
    a parenthesised value ("NPI (1234567893)") is mostly digits and stays the value.
    """
    if after >= len(tokens) or not tokens[after].text.startswith("("):
        return after
    for j in range(after, min(len(tokens), after + most)):
        if ")" in tokens[j].text:
            inside = "".join(t.text for t in tokens[after : j + 1])
            letters = sum(c.isalpha() for c in inside)
            return j + 1 if letters > sum(c.isdigit() for c in inside) else after
    # the closing parenthesis lost (a fax): the aside runs to its cell's end, the next wide
    # gap, when it holds words and no digit ("(Last Name. First Name. Middle inital:")
    j = after
    while j + 1 < len(tokens) and j + 1 < after + most:
        gap = tokens[j + 1].bbox[0] - tokens[j].bbox[2]
        if gap > 2.0 * max(tokens[j].height, 0.005):
            break
        j += 1
    inside = "".join(t.text for t in tokens[after : j + 1])
    if j + 1 < after + most and not any(c.isdigit() for c in inside) and j > after:
        return j + 1
    return after


def _looks_like_digits(text: str) -> str:
    return "".join(OCR_DIGIT_REPAIRS.get(c, c) for c in text)


def _value_span(tokens: list[Tok], max_gap: float) -> list[Tok]:
    out: list[Tok] = []
    for tok in tokens:
        if out and tok.bbox[0] - out[-1].bbox[2] > max_gap:
            break
        out.append(tok)
    return out


_CJK = re.compile(r"[\u4e00-\u9fff]")
_STRAY = "-_~|'`\".,:;"


def _name_word(text: str) -> str:
    """A later word of a name without the specks OCR put in front of it ("-T." is "T.")."""
    stripped = text.lstrip(_STRAY)
    return stripped if stripped[:1].isalpha() else text


_DOLLAR_S = re.compile(r"\$[A-Za-z0-9]*\d[A-Za-z0-9\-/]*")
_MONEY_LIKE = re.compile(r"\$\d{1,5}(?:/\w+)?")  # "$100", "$25/visit": an amount, no id
_INITIAL = re.compile(r"[^\W\d_]\.")
_NAME_WORD = re.compile(r"^[^\W\d_][^\W\d_.'\-,]*[.'\-,]?[^\W\d_.'\-,]*\.?,?$")


def _digit_cells(tokens: list[Tok]) -> list[Tok]:
    """The leading digits of a date written in boxes of its own, one token per box or group
    ("0 9 1 8 1 9 7 1", "09 18 1971"): at most eight digits, each box close to the last."""
    cells: list[Tok] = []
    digits = 0
    for tok in tokens:
        text = tok.text.strip(":;,()[]|")
        if not text.isdigit() or digits + len(text) > 8:
            break
        if cells:
            prev = cells[-1]
            if tok.bbox[0] - prev.bbox[2] > 4 * prev.height or not _same_level(prev, tok):
                break
        cells.append(tok)
        digits += len(text)
    return cells if digits in (6, 8) else tokens[:1]


_BOX_LETTERS = 3
"""Single characters in a row, at least, that make a word printed one letter per box."""


def _box_letters(tokens: list[Tok]) -> list[Tok]:
    """Tokens with each run of single characters printed one per box joined into one
    ("J E N N I F E R", "C C H 6 1 0 4 4 8 2 7", "W A - 3 3 0 9 1 2"): boxes a letter
    apart, on one level; a form that asks for capitals one letter per box."""
    out: list[Tok] = []
    run: list[Tok] = []

    def flush() -> None:
        if len(run) >= _BOX_LETTERS and sum(t.text.isalnum() for t in run) >= _BOX_LETTERS:
            out.append(
                Tok(
                    "".join(t.text for t in run),
                    min(t.conf for t in run),
                    union_bbox([t.bbox for t in run]),
                    run[0].page_index,
                    run[0].line_index,
                    union_bbox([t.src for t in run]),
                    run[0].starts_line,
                )
            )
        else:
            out.extend(run)
        run.clear()

    for tok in tokens:
        single = len(tok.text) == 1 and (tok.text.isalnum() or tok.text in "-/")
        if run and not (
            single
            and tok.bbox[0] - run[-1].bbox[2] <= 2.5 * max(t.height for t in run)
            and _same_level(run[-1], tok)
        ):
            flush()
        if single:
            run.append(tok)
        else:
            out.append(tok)
    flush()
    return out


def _read_value(
    kind: FieldKind, tokens: list[Tok], vocab: LangVocab
) -> tuple[str | float | tuple[str, str | None], list[Tok], float] | None:
    """The typed value at the start of `tokens`, the tokens it used and a validation score."""
    if kind in ("name", "name_part", "id"):
        tokens = _box_letters(tokens)
    raw = tokens
    tokens = [t for t in tokens if t.text.strip(":#.-|") or t.text in ("#",)]
    tokens = [t for t in tokens if t.text not in (":", "#", "-", "|")]
    if not tokens:
        return None
    lang = vocab.language
    if kind in ("date", "date_range"):
        span = tokens[:8]
        text, offsets = joined_text(span)
        dates = find_dates(text, lang)
        if not dates and kind == "date":
            pieces = date_in_pieces(span[:4], lang)
            if pieces is not None:
                return pieces[1], pieces[0], 1.0  # "04/1 8/2025": a date a scan broke
            cells = _digit_cells(span)
            compact = parse_compact_date("".join(t.text for t in cells), lang)
            return (compact.isoformat(), cells, 1.0) if compact else None
        if not dates or dates[0].start > offsets[min(2, len(offsets) - 1)]:
            return None
        used = tokens_within(span, offsets, dates[0].start, dates[0].end)
        first = dates[0].value.isoformat()
        if kind == "date":
            return first, used, 1.0
        second = dates[1].value.isoformat() if len(dates) > 1 else None
        if len(dates) > 1:
            used = tokens_within(span, offsets, dates[0].start, dates[1].end)
        return (first, second), used, 1.0
    if kind == "money":
        tokens = merge_split_amounts(tokens)
        best: tuple[float, list[Tok]] | None = None
        for i, tok in enumerate(tokens[:6]):
            text = tok.text
            used = [tok]
            if text in ("$", "USD", "US$") and i + 1 < len(tokens):
                text, used = text + tokens[i + 1].text, [tok, tokens[i + 1]]
            value = parse_money(text, lang)
            if value is None:
                continue
            marked = any(c in text for c in ".,$") or text.upper().startswith("USD")
            if marked:
                return float(value), used, 1.0
            if best is None:
                best = (float(value), used)
        return (best[0], best[1], 0.6) if best else None
    if kind == "npi":
        for tok in tokens[:3]:
            digits = _looks_like_digits(tok.text.strip(":#"))
            if len(digits) == 10 and digits.isdigit():
                return digits, [tok], 1.0 if npi_is_valid(digits) else 0.0
        return None
    if kind == "tax_id":
        for tok in tokens[:3]:
            m = re.fullmatch(r"(\d{2})-?(\d{7})", _looks_like_digits(tok.text.strip(":#")))
            if m:
                return f"{m.group(1)}-{m.group(2)}", [tok], 1.0
        return None
    if kind == "id":
        # the value from its first real token on, with hyphens OCR set apart ("POL - 6603894")
        start = raw.index(tokens[0])
        span = _value_span(raw[start : start + 8], 0.025)
        used, parts = [], []
        joiner = ""
        for tok in span:
            text = tok.text.strip(":#,")
            if used and text in ("-", "/") and not joiner:
                joiner = text
                continue
            if not used:
                text = text.lstrip("-_~")  # a form rule's speck in front: "-POL-4914628"
            if not used and _DOLLAR_S.fullmatch(text) and not _MONEY_LIKE.fullmatch(text):
                text = "S" + text[1:]  # an id has no "$": OCR's S ("$74171140"), but "$100"
                # beside it is a copay of the card's next column
            if joiner:
                tight = tok.bbox[0] - used[-1].bbox[2] < 0.6 * used[-1].height
                if not any(c.isdigit() for c in text) and not (
                    tight and text.isupper() and text.isalnum()
                ):
                    break  # "M123 - Plan B": a dash between an id and the next words;
                    # "64802-DWX" OCR cut at its hyphen stays one id
                text = joiner + text.lstrip("-/")
                joiner = ""
            # a later part may start with its joining hyphen: "802858 -67" is 802858-67
            lead = r"[-/]?" if used else ""
            if not re.fullmatch(lead + r"[A-Za-z0-9][A-Za-z0-9\-/.]*", text):
                break
            if used and tok.text.islower():
                break
            if used and not _same_level(used[0], tok):
                break  # a word of the line below that a skewed row reached ("... 1977")
            if used and len(text) >= 4 and text.isalpha():
                break  # a word, not a part of the id: "62 INSURANCE GROUP NO." is the next box
            used.append(tok)
            parts.append(text)
        if used and any(d.start == 0 for d in find_dates(" ".join(t.text for t in span), lang)):
            return None  # the start of a date ("2000" of "Jan 22, 2000" is not an id)
        ident = clean_id("".join(parts)) if used else None
        if ident is None or not any(c.isdigit() for c in ident) or len(ident) < 3:
            return None
        if find_dates(ident, lang):
            return None
        return ident, used, 1.0
    if kind == "sex":
        return _read_sex(tokens[:6], vocab)
    if kind in ("name", "name_part") and _CJK.search(tokens[0].text):
        first = tokens[0].text.strip(":：")
        if 2 <= len(first) <= 6 and all(_CJK.match(c) or c == "·" for c in first):
            return first, [tokens[0]], 1.0  # 张三, 欧阳娜娜: a Chinese name is one word
        return None
    if kind in ("name", "name_part"):
        stop = {norm(w) for w in vocab.name_stop_words}
        # a provider's word makes the words before it an organisation's name ("Mercy
        # Valley Hospital Emergency Dept." beside a label is no patient)
        provider = {norm(w) for w in vocab.provider_words}
        used, words = [], []
        for tok in _value_span(tokens[:7], 0.05):
            if tok.norm in provider:
                return None
            text = _name_word(tok.text) if used else tok.text
            if used and _INITIAL.fullmatch(text):
                text = (
                    text.upper()
                )  # OCR reads a small-print initial in lower case: "Cynthia s. Brown"
            if not _NAME_WORD.match(text) or tok.norm in stop:
                break
            if text[0].islower() and text.lower() not in vocab.name_particles:
                break
            used.append(tok)
            words.append(text)
        while used and words[-1].strip(".,") == "":
            used.pop()
            words.pop()
        if not used or len(used) > 6:
            return None
        if not any(w[0].isupper() for w in words) or not words[0][0].isupper():
            return None
        if kind == "name_part":
            if len(words) > 3:
                return None  # a box holds a first name, "Mary Ann", or an initial
            name = normalize_name(" ".join(words))
            return (name, used, 1.0) if name else None
        if sum(len(w.strip(".,")) >= 2 for w in words) < 1:
            return None
        if len(words) < 2:
            return None  # printed names have a given and a family name; one word is a fragment
        name = normalize_name(" ".join(words))
        return (given_name_first(name), used, 1.0) if name else None
    # free text (provider names): everything up to a wide gap
    used = _value_span(tokens[:10], 0.05)
    free = normalize_name(" ".join(t.text for t in used))
    if not free or sum(c.isalpha() for c in free) < 3:
        return None
    if next((c for c in free if c.isalpha()), "a").islower():
        return None  # names are capitalised; "care moderate MDM" is a table description
    return free, used, 0.8


def _same_level(a: Tok, b: Tok) -> bool:
    """Two words of one printed line: they overlap by most of the smaller one's height, and
    the second is no flat stroke (an underline OCR read as "0" or "00" is a third as tall)."""
    overlap = min(a.bbox[3], b.bbox[3]) - max(a.bbox[1], b.bbox[1])
    return overlap > 0.5 * min(a.height, b.height) and b.height > 0.4 * a.height


_SPECIALTY_DASHES = frozenset({"-", "–", "—", "|"})


def _name_and_degrees(tokens: list[Tok]) -> list[Tok]:
    """The tokens up to a line's last degree when only a dash and a specialty follow it."""
    degrees = [i for i, t in enumerate(tokens) if norm(t.text) in NAME_SUFFIXES]
    if not degrees:
        return []
    end = degrees[0]
    while end + 1 in degrees:
        end += 1
    rest = tokens[end + 1 :]
    if rest and rest[0].text not in _SPECIALTY_DASHES:
        return []
    return tokens[: end + 1]


def _signature_name(lines: list[LayoutLine], vocab: LangVocab) -> _Candidate | None:
    """The physician who signs: the last line that is a name and a degree and nothing else
    ("Rahul Menon, MD" under "Sincerely,"), or a specialty after a dash ("Helena Voss, MD -
    General Surgery"), as a signature block prints it. A letterhead listing the practice's
    physicians comes first and loses to it."""
    for line in reversed(lines):
        toks = _name_and_degrees(line.tokens)
        if len(toks) < 3:
            continue
        read = _read_value("name", toks, vocab)
        if read is not None and isinstance(read[0], str) and len(read[1]) == len(toks):
            return _Candidate("physician_name", read[0], read[1], "pattern", None, 0.5)
    return None


def _beside(
    lines: list[LayoutLine], line: LayoutLine, hit: LabelHit, starts: set[int]
) -> list[Tok]:
    """Tokens right of the label in the same visual row (readers may split a row into
    lines at wide gaps), up to the next label."""
    label = line.tokens[hit.start : hit.end]
    y0 = min(t.bbox[1] for t in label)
    y1 = max(t.bbox[3] for t in label)
    x_end = label[-1].bbox[2]
    row: list[Tok] = []
    for other in lines:
        if other.page_index != line.page_index:
            continue
        box = other.bbox
        if box[3] < y0 or box[1] > y1:
            continue
        right = [t for t in other.tokens if t.bbox[0] >= x_end - 1e-6]
        level = [
            min(y1, t.bbox[3]) - max(y0, t.bbox[1]) > 0.5 * min(t.height, y1 - y0) for t in right
        ]
        if any(level):  # the reader's line is the row: its words that ride high come too
            row.extend(right[level.index(True) :])
    row.sort(key=lambda t: t.bbox[0])
    out: list[Tok] = []
    for tok in row:
        if id(tok) in starts:
            break
        out.append(tok)
    return out


def _centre(line: LayoutLine) -> float:
    return (line.bbox[1] + line.bbox[3]) / 2


def _beside_offset(
    lines: list[LayoutLine],
    line: LayoutLine,
    hit: LabelHit,
    starts: set[int],
    rivals: list[LayoutLine],
) -> list[list[Tok]]:
    """Values right of a label whose row they share only loosely, nearest first: a small
    label beside a large value (ID cards, form fields) is centred or top-aligned, not on
    the same baseline, and may drift by most of a line.

    A value line's centre must be within most of a line height of the label's, and no
    `rivals` line (a label of the same kind of value, left of it) may be nearer. The caller
    takes the first that reads as the label's kind: that is what pairs "Name" with the
    name, not with the member id printed a little nearer.
    """
    label = line.tokens[hit.start : hit.end]
    y0 = min(t.bbox[1] for t in label)
    y1 = max(t.bbox[3] for t in label)
    cy, x_end = (y0 + y1) / 2, label[-1].bbox[2]
    found: list[tuple[float, LayoutLine]] = []
    for cand in lines:
        if cand.page_index != line.page_index or cand.index == line.index:
            continue
        first = cand.tokens[0]
        if first.bbox[0] < x_end - 1e-6 or id(first) in starts:
            continue
        height = max(y1 - y0, cand.bbox[3] - cand.bbox[1])
        dy = abs(_centre(cand) - cy)
        if dy >= 0.75 * height:
            continue
        if any(
            o is not line
            and o.page_index == line.page_index
            and o.bbox[0] < first.bbox[0]
            and abs(_centre(cand) - _centre(o)) < dy
            for o in rivals
        ):
            continue  # the value of a label of the same kind above or below this one
        found.append((dy, cand))
    out: list[list[Tok]] = []
    for _, best in sorted(found, key=lambda f: f[0]):
        toks: list[Tok] = []
        for tok in best.tokens:
            if id(tok) in starts:
                break
            toks.append(tok)
        out.append(toks)
    return out


def _cuts_a_date(line: LayoutLine, first: Tok, language: str) -> bool:
    text, start = "", 0
    for tok in line.tokens:
        if tok is first:
            start = len(text)
        text += tok.text + " "
    return any(d.start < start < d.end for d in find_dates(text, language))


def _same_row(a: LayoutLine, b: LayoutLine) -> bool:
    """Whether two lines of a page overlap vertically by more than half the lower one."""
    # Each box once: a line's box is the union of its tokens' boxes, computed on every call.
    box_a, box_b = a.bbox, b.bbox
    overlap = min(box_a[3], box_b[3]) - max(box_a[1], box_b[1])
    return overlap > 0.5 * min(box_a[3] - box_a[1], box_b[3] - box_b[1])


def _below(
    vocab: LangVocab,
    lines: list[LayoutLine],
    line: LayoutLine,
    hit: LabelHit,
    hits: dict[int, list[LabelHit]],
    start_toks: list[Tok],
    above: bool = False,
) -> list[Tok]:
    """The words under the label, in its column: up to the next label to its right.

    `above`: the words over it instead, on forms that print a caption under each value's
    line ("Rosa M. Delgado-Ibarra" over "Patient full name")."""
    x0, x1 = hit.bbox_x(line)
    label = line.tokens[hit.start : hit.end]
    height = max(t.height for t in label)
    ly0, ly1 = min(t.bbox[1] for t in label), max(t.bbox[3] for t in label)
    right = [
        t.bbox[0]
        for t in start_toks
        if t.page_index == line.page_index
        and t.bbox[0] >= x1
        and t.bbox[1] < ly1
        and t.bbox[3] > ly0
    ]
    bound = min(right) if right else 1.0
    bottom = line.bbox[3]
    others = [o for o in lines if o.page_index == line.page_index and o.index != line.index]
    # nearest first: by how far each line ends over the label's top, or starts under it
    nearest = sorted(others, key=(lambda o: -o.bbox[3]) if above else (lambda o: o.bbox[1]))
    # boxes stay: "☐ M ☒ F" under "Sex" is a choice, not the letters "M F"
    boxes = {*vocab.tick_marks, *vocab.untick_marks}

    def kept(t: Tok) -> bool:
        return any(c.isalnum() for c in t.text) or t.text in boxes

    for first in nearest:
        # how far a value may stand, in heights of the label or of the value's words if
        # larger (up to twice the label's): a form's small captions sit a line of its larger
        # print away from their values
        words = sorted(t.height for t in first.tokens)
        reach = min(max(height, words[len(words) // 2]), 2 * height) * _MAX_BELOW_LINES
        if above:
            gap = line.bbox[1] - first.bbox[3]
            if gap < -height * 0.3 or gap > reach or _same_row(first, line):
                continue
        else:
            top = first.bbox[1]
            if top < bottom - height * 0.3 or top - bottom > reach:
                continue
        # readers split one visual row into several lines at wide gaps: take the whole row
        row = [o for o in nearest if _same_row(o, first)]
        toks = [
            t
            for o in sorted(row, key=lambda o: o.bbox[0])
            for t in o.tokens
            if x0 - 0.02 <= t.xc < bound
            and t.bbox[2] > x0 - 0.01
            and (kept(t) or t.text in ("-", "/"))
        ]
        while toks and not kept(toks[-1]):
            toks.pop()
        while toks and not kept(toks[0]):
            toks.pop(0)  # a hyphen OCR set apart stays only inside a value ("POL - 6603894")
        if not toks:
            continue  # nothing, or only OCR specks (":" ";" "-") under the label
        other = next(o for o in row if any(t is toks[0] for t in o.tokens))
        if not above and toks[0].bbox[0] > x1 + 0.02 and hits.get(other.index):
            continue  # another column's label, a little lower: the value is further down
        if toks[0].bbox[0] > x1 + 0.02 or toks[-1].bbox[2] < x0 - 0.02:
            return []  # the nearest line below has nothing under this label
        if toks[0] is not other.tokens[0] and _cuts_a_date(other, toks[0], vocab.language):
            return []  # the column edge falls inside a date printed under a wider label
        label_starts = {o.tokens[h.start].bbox[0] for o in row for h in hits.get(o.index, [])}
        if any(t.bbox[0] in label_starts for t in toks[:1]):
            return []  # the next row of labels: this form has no value under the label
        return toks
    return []


_ASIDE_NUMBER = re.compile(r"\(\w{1,3}\)")
"""A label's own number or code in parentheses ("Dependent (02)", "Box (3)")."""


def _names_another_field(tokens: list[Tok], field: str, vocab: LangVocab) -> bool:
    """Whether words read as a name or a text value begin with another field's label,
    exactly: then the label before them only qualified that one ("Facility" in "Facility
    NPI 1266083496", "Provider" in "Provider Phone (555) 010-2200")."""
    labels = _label_table(vocab)
    for size in range(1, min(labels.longest, len(tokens)) + 1):
        key = norm(" ".join(t.text for t in tokens[:size]))
        if not key:
            continue
        for name, label, score in _label_matches(labels, _fold(key)):
            if name != field and score >= 1.0 and norm(label) == key:
                return True
    return False


def _captions_under_values(
    vocab: LangVocab,
    lines: list[LayoutLine],
    hits: list[LabelHit],
    by_line: dict[int, list[LabelHit]],
    start_toks: list[Tok],
) -> set[int]:
    """Pages (indexes) of forms that print each label under its value's line.

    On such a form the line under a caption holds the next row's values, which can read
    as a value of the caption's kind too (a member ID under "Patient full name" is no
    name, but an address number under "Member ID" is an id). A page counts as one when
    twice as many of the document's labels read a valid value only over them as only under
    them, three at least: a signature line's caption alone ("Signature", "Date") makes no
    such form.
    """
    votes: dict[int, list[int]] = {}
    for hit in hits:
        fv = vocab.fields.get(hit.field)
        line = lines[hit.line]
        if fv is None or hit.end < len(line.tokens):
            continue  # a label with words after it has its value beside it, if anywhere
        over = _read_value(
            fv.kind, _below(vocab, lines, line, hit, by_line, start_toks, True), vocab
        )
        under = _read_value(fv.kind, _below(vocab, lines, line, hit, by_line, start_toks), vocab)
        if (over is None) != (under is None):
            count = votes.setdefault(line.page_index, [0, 0])
            count[0 if over is not None else 1] += 1
    return {page for page, (over, under) in votes.items() if over >= 3 and over >= 2 * under}


def _in_phrase(line: LayoutLine, hit: LabelHit, beside: list[Tok]) -> bool:
    label = line.tokens[hit.start : hit.end]
    if not beside or label[-1].text.endswith((":", "#", ".")):
        return False
    if len(beside) == 1 and _ASIDE_NUMBER.fullmatch(beside[0].text):
        return False
    return beside[0].bbox[0] - label[-1].bbox[2] < 1.5 * label[-1].height


def _next_prose_line(lines: list[LayoutLine], line: LayoutLine) -> list[Tok]:
    """The line a prose line wraps into, or [] when `line` is short (a title) or none follows."""
    if line.bbox[2] - line.bbox[0] < 0.4:
        return []
    height = max(t.height for t in line.tokens)
    nxt = [
        o
        for o in lines
        if o.page_index == line.page_index
        and 0 <= o.bbox[1] - line.bbox[3] < 1.2 * height
        and o.bbox[0] <= line.bbox[0] + 0.02
    ]
    return min(nxt, key=lambda o: o.bbox[1]).tokens if nxt else []


def _wrapped(lines: list[LayoutLine], line: LayoutLine, hit: LabelHit) -> list[Tok]:
    """In prose a label can end a line and its value start the next ("..., born / 1960-03-21")."""
    if hit.end != len(line.tokens):
        return []
    return _next_prose_line(lines, line)


def _table_header_lines(pages: list[Page], lines: list[LayoutLine], vocab: LangVocab) -> set[int]:
    """Lines holding a table header row: "Total" there names a column, not the total."""
    from pipeline.extract.line_items import find_header

    out: set[int] = set()
    for p_idx in range(len(pages)):
        toks = [t for line in lines if line.page_index == p_idx for t in line.tokens]
        for row in rows_of(toks):
            if find_header(row, vocab):
                out |= {t.line_index for t in row}
    return out


_PROSE_REACH = 8
"""Words after "admitted" in which its date may come ("admitted to Mercy Lakes Hospital on
January 12, 2025")."""


def _date_in_prose(
    name: str, lines: list[LayoutLine], words: list[str], lang: str
) -> _Candidate | None:
    """The first date a few words after one of `words` in running text (across a line
    break), read as a pattern: no label vouches for it."""
    keys = {norm(w) for w in words}
    toks = [t for line in lines for t in line.tokens]
    for i, tok in enumerate(toks):
        if tok.norm not in keys:
            continue
        after = toks[i + 1 : i + 1 + _PROSE_REACH]
        text, offsets = joined_text(after)
        for found in find_dates(text, lang)[:1]:
            used = [
                t
                for t, off in zip(after, offsets, strict=True)
                if off < found.end and off + len(t.text) > found.start
            ]
            return _Candidate(name, found.value.isoformat(), used, "pattern", None, 0.5)
    return None


def _provider_fallback(
    lines: list[LayoutLine], vocab: LangVocab, label_lines: set[int]
) -> _Candidate | None:
    """The letterhead: the first mostly-alphabetic line at the top of the first page."""
    titles = {norm(w) for w in vocab.title_words}

    def title_word(word: str) -> bool:
        # a title word, or one a letter off in a long word ("TEMIZED STATEMENT")
        return (
            not word
            or word in titles
            or (len(word) >= 6 and any(_within_edits(word, t, 1) is not None for t in titles))
        )

    for line in sorted(lines, key=lambda o: (o.page_index, o.bbox[1])):
        if line.page_index != 0 or line.bbox[1] > 0.2:
            continue
        if line.index in label_lines or line.tokens[0].text.isdigit():
            continue  # a label's line, or a street address ("0156 Michael Plaza, ...")
        if _POSTCODE_END.fullmatch(line.tokens[-1].text):
            continue  # the address's last line ("Columbus, OH 43201")
        tokens = list(line.tokens)
        while len(tokens) > 1 and (
            _is_logo_speck(tokens[0].text)
            or (
                tokens[0].conf < _LOGO_CONF
                and tokens[1].conf >= _PRINT_CONF
                and sum(c.isalpha() for c in tokens[0].text) <= 3
            )
        ):
            # a logo read as marks or letters before the name ("a= St. Brendan ...", "Mi
            # Lone Star Urgent Care"): unlike the name's print, OCR is unsure of it
            tokens.pop(0)
        text = " ".join(t.text for t in tokens)
        letters = sum(c.isalpha() for c in text)
        if letters < 4 or letters < 0.6 * len(text.replace(" ", "")):
            continue
        if all(title_word(t.norm) for t in tokens):
            continue
        value = normalize_name(text)
        if value:
            return _Candidate("provider_name", value, tokens, "pattern", None, 0.5)
    return None


_LOGO_CONF, _PRINT_CONF = 0.6, 0.9
"""OCR confidence under which a letterhead's first word of three letters at most is a logo,
when the next word's is at least the second."""

_POSTCODE_END = re.compile(r"\d{4,6}(-\d{4})?")
"""A line ending in a postcode (or a ZIP+4) is an address, not a name."""


def _is_logo_speck(text: str) -> bool:
    """A word of one letter at most and some mark that no name holds ("a=", "»", "|")."""
    letters = sum(c.isalpha() for c in text)
    return letters <= 1 and any(not c.isalnum() and c not in "&.,'" for c in text)


_CLOCK = re.compile(r"\d{1,2}:\d{2}(:\d{2})?([AaPp]\.?[Mm]\.?)?")
_LONE_DATE_TOP = 0.35
"""A receipt prints its date near its top, alone on a line or with the time of the sale."""


def _lone_date(lines: list[LayoutLine], label_lines: set[int], language: str) -> _Candidate | None:
    """The date a receipt prints without a label, on a line of its own or with the time
    ("02/10/2025          19:12"), in the top of its first page; None when several such
    dates stand there, or none."""
    found: list[_Candidate] = []
    for line in lines:
        if line.page_index != 0 or line.bbox[1] > _LONE_DATE_TOP or line.index in label_lines:
            continue
        text, _ = joined_text(line.tokens)
        dates = find_dates(text, language)
        if len(dates) != 1 or text[dates[0].start : dates[0].end].isdigit():
            continue  # none, several, or digits only ("012225" in a form's box: no receipt's)
        rest = (text[: dates[0].start] + " " + text[dates[0].end :]).split()
        # the rest of the row too: a bill's line prints its date in a column of its own
        rest += [
            t.text
            for other in lines
            if other.index != line.index
            and other.page_index == line.page_index
            and _same_row(other, line)
            for t in other.tokens
        ]
        if all(_CLOCK.fullmatch(word) or word.upper() in ("AM", "PM") for word in rest):
            used = [t for t in line.tokens if not _CLOCK.fullmatch(t.text)]
            found.append(
                _Candidate("invoice_date", dates[0].value.isoformat(), used, "pattern", None, 0.5)
            )
    return found[0] if len({c.value for c in found}) == 1 else None


def _npi_fallback(lines: list[LayoutLine]) -> _Candidate | None:
    for line in lines:
        for tok in line.tokens:
            digits = tok.text.strip(":#.,")
            if len(digits) == 10 and digits.isdigit() and npi_is_valid(digits):
                return _Candidate("provider_npi", digits, [tok], "pattern", None, 1.0)
    return None


_PHONE = re.compile(r"\(?\d{3}\)?[-. ]?\d{3}[-. ]\d{4}")


def _whole_line(kind: FieldKind, line: LayoutLine, vocab: LangVocab) -> _Candidate | None:
    """The line read as one value of `kind`, when that value is all the line holds."""
    read = _read_value(kind, line.tokens, vocab)
    if read is None or len(read[1]) != len(line.tokens):
        return None
    value, used, valid = read
    if isinstance(value, tuple):
        return None
    return _Candidate("", value, used, "pattern", None, valid * 0.5)


def _card_fallbacks(
    lines: list[LayoutLine], vocab: LangVocab, found: dict[str, list[_Candidate]]
) -> list[_Candidate]:
    """An ID card's name and member id where no label anchored them.

    Cards print their small labels faintly, and copies and photos lose them, while the
    values stay legible: the holder's name is the first line that is nothing but a name
    (not the insurer's, not the plan's), the member id the first line below it that is
    nothing but an id.
    """
    taken = {id(t) for cands in found.values() for c in cands for t in c.tokens}
    org = {norm(w) for w in vocab.organisation_words}
    out: list[_Candidate] = []
    ordered = sorted(lines, key=lambda o: (o.page_index, o.bbox[1], o.bbox[0]))
    name_line: LayoutLine | None = None
    if found.get("patient_name"):
        # the name a label gave: the member id is printed below it
        first = found["patient_name"][0].tokens[0]
        name_line = next((ln for ln in ordered if any(t is first for t in ln.tokens)), None)
    else:
        for line in ordered:
            if any(id(t) in taken for t in line.tokens) or any(t.norm in org for t in line.tokens):
                continue
            cand = _whole_line("name", line, vocab)
            if cand is not None:
                name_line = line
                cand.field = "patient_name"
                out.append(cand)
                break
    if found.get("member_id"):
        return out
    for line in ordered:
        if name_line is not None and (
            line.page_index != name_line.page_index
            # the name's own row is another column ("Rx BIN 004336" beside the name)
            or (line.bbox[1] + line.bbox[3]) / 2 <= name_line.bbox[3]
        ):
            continue
        if any(id(t) in taken for t in line.tokens) or not any(
            c.isdigit() for c in line.tokens[0].text
        ):
            continue  # "Grp 62729", "BIN 610014": an id after a word is that word's number
        if _PHONE.search(line.text) or sum(c.isdigit() for c in line.text) < 5:
            continue
        cand = _whole_line("id", line, vocab)
        if cand is not None:
            cand.field = "member_id"
            out.append(cand)
            break
    return out


_MARK_GAP = 0.06  # page widths between a checkbox and its option's word


_BOX_OUTLINE = frozenset("[](){}|!_lIiJjCcL1Oo0D")
"""What OCR prints for the strokes of an empty box it did not recognise ("[J", "Cl", "LJ",
"CO", "oO", "D")."""


def _is_mark_like(tok: Tok) -> bool:
    """A short token that is no word: what OCR makes of a box, a tick or a smudge ("Af", "M")."""
    return len(tok.text) <= 2 and not tok.text.isdigit()


def _speck_before(tokens: list[Tok], i: int) -> Tok | None:
    before = tokens[i - 1] if i else None
    if before is None or not _is_mark_like(before):
        return None
    return before if tokens[i].bbox[0] - before.bbox[2] <= _MARK_GAP else None


def _speck_state(text: str) -> bool | None:
    """An unrecognised box: False when only its outline was read, None when ink fills it."""
    return False if set(text) <= _BOX_OUTLINE else None


def _tick_before(tokens: list[Tok], i: int, vocab: LangVocab) -> bool | None:
    """True/False when a checkbox mark precedes token i (or is glued to it), None if no box.

    One short speck may sit between the box and the word ("☒ Uf Inpatient").
    """
    ticks = set(vocab.tick_marks)
    unticks = set(vocab.untick_marks)
    raw = tokens[i].text
    for mark in sorted(ticks | unticks, key=len, reverse=True):
        # a box glued to its word ("☒Accidental", "[X]Inpatient"); of one-letter marks only
        # the box glyphs, not an "X" or an "O" that may begin a word ("Outpatient")
        glyph = len(mark) > 1 or not mark.isascii()
        if glyph and raw.startswith(mark) and len(raw) > len(mark):
            return mark in ticks
    for skip in (0, 1):
        end = i - skip
        if skip and (end < 1 or not _is_mark_like(tokens[end])):
            break
        if skip and tokens[i].bbox[0] - tokens[end].bbox[2] > _MARK_GAP:
            break
        for n in (3, 2, 1):
            if end - n < 0:
                continue
            prev = tokens[end - n : end]
            if tokens[end].bbox[0] - prev[-1].bbox[2] > _MARK_GAP:
                continue
            joined = "".join(t.text for t in prev).strip(_RULE_SPECKS)
            state = _mark_state(joined, ticks, unticks)
            if state is not None:
                return state
    return None


_BOX_SIDES = "[](){}|"


def _mark_state(text: str, ticks: set[str], unticks: set[str]) -> bool | None:
    """Ticked, empty or no box: the vocabulary's marks, and an X between any mix of the
    bracket sides a scan reads for a box's edges ("{X]", "(X]"). Brackets around nothing are
    left unknown: read as an empty box they would make the one box left the ticked one."""
    if text in ticks:
        return True
    if text in unticks:
        return False
    inside = text.strip(_BOX_SIDES)
    if inside == text:
        return None
    if _X_IN_A_BOX.fullmatch(inside):
        return True  # "X" or "x", or with a box edge read as a letter ("IX]", "[KX]", "[Xl")
    return None


_X_IN_A_BOX = re.compile(r"[Il1K]?[Xx][Il1]?")


_RULE_SPECKS = "_"
"""A fill-in rule's end a reader glues to a box ("_[X]")."""
_PHRASE_WORDS = 5
"""How many words an option's phrase may run between its box and the claim type's word
("☒ Doctor's office / outpatient care")."""


def _box_of_phrase(
    tokens: list[Tok], i: int, vocab: LangVocab, ctype: str | None = None
) -> bool | None:
    """The state of the nearest box before token i, a few words back: an option's phrase
    runs from its box to the next box. None when no box is that close, when the word
    carries a box of its own ("(]critical"), or when another option's word comes first (a
    word of the same claim type's own phrases does not count: "☒ Hospital inpatient")."""
    if not tokens[i].text[:1].isalnum():
        return None
    ticks, unticks = set(vocab.tick_marks), set(vocab.untick_marks)
    options = {
        norm(phrase.split()[0])
        for kind, words in vocab.claim_types.items()
        if kind != ctype
        for phrase in words
    }
    for j in range(i - 1, max(-1, i - 1 - _PHRASE_WORDS), -1):
        text = tokens[j].text.strip(_RULE_SPECKS)
        if text in ticks:
            return True
        if text in unticks:
            return False
        word = tokens[j].norm
        if any(
            option and word.endswith(option) and len(word) - len(option) <= 2 for option in options
        ):
            return None  # another option's word, a mark glued on or not ("MAccident")
    return None


def _sex_word(tok: Tok, vocab: LangVocab) -> str | None:
    text = tok.text.strip(":;,.()[]|").casefold()
    return next(
        (sex for sex, words in vocab.sex_values.items() if text in {w.casefold() for w in words}),
        None,
    )


def _read_sex(tokens: list[Tok], vocab: LangVocab) -> tuple[str, list[Tok], float] | None:
    """ "F" or "M": a written value ("Male", "F") or the ticked one of a box pair ("[X] M [ ] F").

    Both options printed with no box ticked, or both ticked, is no answer (None).
    """
    options = [(i, sex) for i, tok in enumerate(tokens) if (sex := _sex_word(tok, vocab))]
    if not options:
        return None
    marks = [(i, sex, _tick_before(tokens, i, vocab)) for i, sex in options]
    ticked = [(i, sex) for i, sex, mark in marks if mark]
    if ticked:
        if len({sex for _, sex in ticked}) > 1:
            return None
        return ticked[0][1], [tokens[ticked[0][0]]], 1.0
    if any(mark is False for _, _, mark in marks):
        return None  # the boxes were read and none is ticked
    first, sex = options[0]
    if first > 1 or len({s for _, s in options}) > 1:
        return None  # not the value beside the label, or an unfilled "M / F" choice
    return sex, [tokens[first]], 1.0


@dataclass
class _Option:
    ctype: str
    tokens: list[Tok]
    ticked: bool | None
    marked: bool
    """something mark-like precedes it or is glued to it, though no known tick or box"""
    mark: str = ""
    """what OCR read for the option's box, when it read anything"""


def _claim_type_options(lines: list[LayoutLine], vocab: LangVocab) -> list[_Option]:
    found: list[_Option] = []
    for line in lines:
        norms = [t.norm for t in line.tokens]
        for ctype, words in vocab.claim_types.items():
            for phrase in words:
                key = norm(phrase)
                for i in range(len(norms)):
                    if not norms[i]:
                        continue  # a box or speck: the option's word follows it
                    for n in (1, 2):
                        joined = "".join(norms[i : i + n])
                        prefix = len(joined) - len(key)
                        glued = n == 1 and 0 < prefix <= 2 and _similar(joined[prefix:], key) >= 1
                        if _similar(joined, key) < FUZZY_THRESHOLD and not glued:
                            continue
                        toks = line.tokens[max(0, i - 1) : i + n]
                        if glued:  # "Xoutpatient", "Cloutpatient": a mark read into the word
                            head = line.tokens[i].text[:prefix]
                            ticked = True if head in ("X", "x") else _speck_state(head)
                            found.append(_Option(ctype, toks, ticked, ticked is None, head))
                            continue
                        ticked = _tick_before(line.tokens, i, vocab)
                        speck = _speck_before(line.tokens, i)
                        marked = False
                        if ticked is None and speck is not None:
                            ticked = _speck_state(speck.text)
                            marked = ticked is None
                        if ticked is None and speck is None:
                            ticked = _box_of_phrase(line.tokens, i, vocab, ctype)
                        mark = speck.text if speck is not None else ""
                        found.append(_Option(ctype, toks, ticked, marked, mark))
    return found


def _claim_type(lines: list[LayoutLine], vocab: LangVocab) -> list[_Candidate]:
    """The ticked claim type; failing a readable tick, the one option of a group whose box
    is not read as empty while the others' are (the tick itself read as a speck)."""
    options = _claim_type_options(lines, vocab)
    ticked = [o for o in options if o.ticked]
    if ticked:
        return [_Candidate("claim_type", o.ctype, o.tokens, "checkbox", None, 1.0) for o in ticked]
    empty = {o.ctype for o in options if o.ticked is False}
    rest = set(vocab.claim_types) - empty
    if len(rest) != 1:
        return _densest_mark(options)
    guess = [o for o in options if o.ctype in rest and o.marked]
    return [_Candidate("claim_type", o.ctype, o.tokens, "checkbox", None, 0.5) for o in guess[:1]]


_INKY = frozenset("MWXKNHw#&%@")
"""Letters OCR reads a ticked or crossed box as ("MW", "Wi", "wm"); an empty one reads as a
thin outline ("ia", "CO", "oO", "[J")."""


def _densest_mark(options: list[_Option]) -> list[_Candidate]:
    """The one option whose unrecognised box reads as ink-heavy while at least two other
    options' boxes were read and none of them does: the tick OCR did not know as one."""
    inky = [o for o in options if o.marked and _INKY.intersection(o.mark)]
    read = [o for o in options if o.ticked is False or (o.marked and o not in inky)]
    if len({o.ctype for o in inky}) != 1 or len({o.ctype for o in read} - {inky[0].ctype}) < 2:
        return []
    return [_Candidate("claim_type", inky[0].ctype, inky[0].tokens, "checkbox", None, 0.5)]


_NAME_PARTS = ("patient_first_name", "patient_middle_name", "patient_last_name")
"""A name printed in boxes of its own, in the order it is written out."""


def _name_from_parts(cands: dict[str, list[_Candidate]]) -> _Candidate | None:
    """The whole name from "First Name", "M.I." and "Last Name" boxes, when both the first
    and the last name were read; scored as the weaker of its parts."""
    parts = [_first_choice(cands.get(name, [])) for name in _NAME_PARTS]
    first, middle, last = parts
    if first is None or last is None:
        return None
    used = [p for p in parts if p is not None]
    weakest = min(used, key=lambda p: (p.validated, p.hit.score if p.hit else 0.0))
    return _Candidate(
        "patient_name",
        " ".join(str(p.value) for p in used),
        [t for p in used for t in p.tokens],
        weakest.method,
        weakest.hit,
        weakest.validated,
        max(p.rank for p in used),
    )


# below this mean word confidence (a calibrated probability that the word is right) a
# value is scanner noise more likely than print: any legible rival is taken first
_ILLEGIBLE = 0.25


def _illegible(option: _Candidate) -> bool:
    confs = [t.conf for t in option.tokens]
    return bool(confs) and sum(confs) / len(confs) < _ILLEGIBLE


def _runs_on(option: _Candidate, lines: list[LayoutLine]) -> bool:
    """A label word running on into its "value" as one phrase: no colon, one word space
    ("Patient Financial Services" in a letterhead). A value set apart after a colon or a
    gap ("Patient: Marcus T. Oyelaran") is the stronger reading. Only names and free text
    can be misread this way: a date or an amount is checked by its own form."""
    hit = option.hit
    if hit is None or option.method != "label_beside" or not option.tokens:
        return False
    tokens = lines[hit.line].tokens
    if _colon_after(tokens, hit.end) or hit.end >= len(tokens):
        return False
    label_end, first = tokens[hit.end - 1], option.tokens[0]
    if first is not tokens[hit.end]:
        return False
    return first.bbox[0] - label_end.bbox[2] < 1.5 * label_end.height


def _near_miss(option: _Candidate) -> bool:
    """Read at a word one letter off a label ("injured" for "Insured"): OCR's misreading of
    the label, or another word; a label printed exactly is the surer anchor."""
    return option.hit is not None and option.hit.score < 1.0


def _deferred(options: list[_Candidate], defer: list[str]) -> set[int]:
    """The options read at a `defer` label, when another label has a legible value beside it.

    A value below a heading ("Patient Address" over "Part B - Claim Type") is weaker
    evidence than the policyholder's own "Name of Insured: Laura Tucker", and so is a word
    one letter off a label ("injured" for "Insured"), so only a value beside a label
    printed exactly outranks a deferred one.
    """
    if not defer:
        return set()
    late = {i for i, o in enumerate(options) if o.hit is not None and o.hit.label in defer}
    rival = any(
        i not in late
        and o.method == "label_beside"
        and not _illegible(o)
        and o.hit is not None
        and o.hit.score >= 1.0  # printed as the vocabulary has it, not a near miss
        for i, o in enumerate(options)
    )
    return late if rival else set()


def _first_choice(options: list[_Candidate]) -> _Candidate | None:
    if not options:
        return None
    return min(options, key=lambda o: (o.rank, o.method != "label_beside"))


def extract_fields(
    doc_type: str,
    pages: list[Page],
    lines: list[LayoutLine],
    vocab: LangVocab,
    calibrator: Calibrator,
    skip_lines: set[int] | None = None,
) -> tuple[dict[str, ExtractedField], dict[str, ValueEvidence]]:
    """The doc_type's fields (missing ones as value=None) and the evidence of each found one.

    `skip_lines` are lines already read as table rows: their words are not labels.
    """
    wanted = vocab.doc_fields.get(doc_type)
    if wanted is None:
        from pipeline.errors import ConfigError

        raise ConfigError(
            f"unknown doc_type {doc_type!r} for field extraction; valid: {sorted(vocab.doc_fields)}"
        )
    skip = _table_header_lines(pages, lines, vocab) | (skip_lines or set())
    hits = [h for h in find_labels(lines, vocab) if h.line not in skip]
    start_toks = [lines[h.line].tokens[h.start] for h in hits]
    starts = {id(t) for t in start_toks}
    by_line: dict[int, list[LabelHit]] = {}
    for h in hits:
        by_line.setdefault(h.line, []).append(h)
    label_kinds: dict[str, set[int]] = {}
    for h in hits:
        if h.field in vocab.fields:
            label_kinds.setdefault(vocab.fields[h.field].kind, set()).add(h.line)
    captions_under = _captions_under_values(
        vocab, lines, [h for h in hits if h.field in wanted], by_line, start_toks
    )
    cands: dict[str, list[_Candidate]] = {}
    for hit in hits:
        target = hit.field
        if target == "service_dates":
            if "service_date_from" not in wanted and "visit_date" not in wanted:
                continue
        elif target not in wanted and not (target in _NAME_PARTS and "patient_name" in wanted):
            continue
        fv = vocab.fields[target]
        line = lines[hit.line]
        prefer = fv.prefer
        rank = prefer.index(hit.label) if hit.label in prefer else len(prefer)
        beside: list[Tok] = []
        under: tuple[tuple[str, str], ...] = (("label_below", "below"),)
        if lines[hit.line].page_index in captions_under:
            under = (("label_below", "above"), *under)
        for method, where in (
            ("label_beside", "beside"),
            ("label_beside", "offset"),
            *under,
            ("label_below", "wrapped"),
        ):
            if where == "beside":
                toks = _beside(lines, line, hit, starts)
                beside = toks
            elif where == "offset":
                rivals = [lines[i] for i in label_kinds.get(fv.kind, ())]
                offsets = _beside_offset(lines, line, hit, starts, rivals)
                if fv.kind == "text":
                    offsets = offsets[:1]  # free text reads from anything: the nearest only
                read_at = ((t, _read_value(fv.kind, t, vocab)) for t in offsets)
                toks = next((t for t, r in read_at if r is not None), [])
            elif _in_phrase(line, hit, beside):
                break  # "Patient Statement" is a title, not a label with its value elsewhere
            elif where in ("below", "above"):
                toks = _below(vocab, lines, line, hit, by_line, start_toks, where == "above")
            else:
                toks = _wrapped(lines, line, hit)
            read = _read_value(fv.kind, toks, vocab)
            if read is None:
                continue
            if fv.kind in ("text", "name") and _names_another_field(read[1], target, vocab):
                continue  # "Facility NPI 1266083496": the label qualified another's label
            if (
                fv.kind == "name"
                and where in ("beside", "offset")
                and toks
                and read[1][-1] is toks[-1]
            ):
                tail_line = lines[toks[-1].line_index]
                wrapped = []
                if tail_line.tokens[-1] is toks[-1]:
                    for tok in _next_prose_line(lines, tail_line):
                        if id(tok) in starts:
                            break
                        wrapped.append(tok)
                longer = _read_value(fv.kind, toks + wrapped, vocab) if wrapped else None
                if longer is not None and len(longer[1]) > len(read[1]):
                    read = longer  # "Patient: Heather J." / "Williams, born ..."
            value, used, valid = read
            if target == "service_dates" and isinstance(value, tuple):
                first, second = value
                spans = (
                    ("service_date_from", first),
                    ("service_date_to", second or first),
                    ("visit_date", first if second in (None, first) else None),
                )
                for name, v in spans:
                    if v is None or name not in wanted:
                        continue
                    cands.setdefault(name, []).append(
                        _Candidate(name, v, used, method, hit, valid, rank + 1)  # type: ignore[arg-type]
                    )
            elif not isinstance(value, tuple):
                cands.setdefault(target, []).append(
                    _Candidate(target, value, used, method, hit, valid, rank)  # type: ignore[arg-type]
                )
            break
    if "patient_name" in wanted and not cands.get("patient_name"):
        whole = _name_from_parts(cands)
        if whole is not None:
            cands["patient_name"] = [whole]
    if "claim_type" in wanted:
        cands["claim_type"] = _claim_type(lines, vocab)
    label_lines = set(by_line)
    if "provider_name" in wanted and not cands.get("provider_name"):
        fb = _provider_fallback(lines, vocab, label_lines)
        if fb:
            cands["provider_name"] = [fb]
    for name in wanted:
        prose = vocab.fields.get(name)
        if prose is not None and prose.in_prose and prose.kind == "date" and not cands.get(name):
            found = _date_in_prose(name, lines, prose.in_prose, vocab.language)
            if found is not None:
                cands[name] = [found]
    if "physician_name" in wanted and not cands.get("physician_name"):
        signed = _signature_name(lines, vocab)
        if signed is not None:
            cands["physician_name"] = [signed]
    if "invoice_date" in wanted and not cands.get("invoice_date"):
        lone = _lone_date(lines, label_lines, vocab.language)
        if lone is not None:
            cands["invoice_date"] = [lone]
    if "provider_npi" in wanted and not cands.get("provider_npi"):
        fb = _npi_fallback(lines)
        if fb:
            cands["provider_npi"] = [fb]
    if doc_type == "id_document" and vocab.organisation_words:
        for fb in _card_fallbacks(lines, vocab, cands):
            cands[fb.field] = [fb]

    fields: dict[str, ExtractedField] = {}
    evidence: dict[str, ValueEvidence] = {}
    for name in wanted:
        options = cands.get(name, [])
        if not options:
            fields[name] = ExtractedField.missing()
            continue
        if name == "total":
            # the lowest of equally ranked totals on the page: the last word of the bill;
            # but what is left to pay loses to a larger total of the charges (a payment came
            # off it), not to a smaller one (tax or fees were added to it)
            deferred = _deferred(options, vocab.fields[name].defer)
            billed = [float(options[j].value) for j in range(len(options)) if j not in deferred]
            deferred = {i for i in deferred if any(v > float(options[i].value) for v in billed)}
            order = sorted(
                range(len(options)),
                key=lambda i: (
                    options[i].rank,
                    i in deferred,
                    options[i].method != "label_beside",
                    -i,
                ),
            )
        elif name in vocab.fields and vocab.fields[name].kind == "npi":
            # an NPI that passes its check digit beats one that does not (misread, or made up)
            order = sorted(
                range(len(options)),
                key=lambda i: (
                    -options[i].validated,
                    options[i].rank,
                    options[i].method != "label_beside",
                    i,
                ),
            )
        else:
            ranked = vocab.fields.get(name)
            deferred = _deferred(options, ranked.defer if ranked else [])
            kind = ranked.kind if ranked else None
            order = sorted(
                range(len(options)),
                key=lambda i: (
                    _illegible(options[i]),
                    options[i].rank,
                    i in deferred,
                    kind in ("name", "text") and _runs_on(options[i], lines),
                    _near_miss(options[i]),
                    options[i].method != "label_beside",
                    i,
                ),
            )
        best = options[order[0]]
        others = {str(o.value) for o in options} - {str(best.value)}
        features = make_evidence(
            word_confidences=[t.conf for t in best.tokens],
            method=best.method,
            label_match=best.hit.score if best.hit else 0.0,
            validated=best.validated,
            competitors=len(others),
        )
        conf = calibrator.predict(features)
        if best.validated == 0.0:
            # a value that fails its own check (an NPI's check digit) is more likely misread
            # than right, however clearly it was printed: never past an adjuster
            conf = min(conf, FAILED_CHECK_CONFIDENCE)
        fields[name] = ExtractedField(
            value=best.value, confidence=conf, source=source_of(best.tokens, pages)
        )
        evidence[f"fields.{name}"] = ValueEvidence(
            method=best.method,
            label=best.hit.label if best.hit else None,
            features=features,
            confidence=conf,
        )
    return fields, evidence
