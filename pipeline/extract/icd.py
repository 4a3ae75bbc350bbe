"""ICD-10 diagnoses found anywhere on a document's pages, validated against ICD-10-CM.

Code-shaped tokens are read with and without the dot. A code printed without a dot,
or one needing an OCR repair of its first character, is only believed next to a
diagnosis label: otherwise zip codes, HCPCS codes (J1100) and ids would become diagnoses.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from pipeline.document import Page
from pipeline.extract import icd10cm as icd
from pipeline.extract.confidence import Calibrator, ValueEvidence, make_evidence
from pipeline.extract.layout import LayoutLine, norm, source_of
from pipeline.extract.normalize import icd10_is_billable, normalize_icd10
from pipeline.extract.vocab import LangVocab
from pipeline.schema import Diagnosis

__all__ = ["extract_diagnoses", "merge_diagnoses"]

_CODE_LIKE = re.compile(r"^[A-Z0-9][0-9OILSBZ][0-9A-Z](?:\.[0-9A-Z]{1,4}|[0-9A-Z]{1,4})?$")
_DOTTED = re.compile(r"^[A-Z0-9][0-9OILSBZ][0-9A-Z]\.[0-9A-Z]{1,4}$")
_HCPCS = re.compile(r"^[A-V]\d{4}$")
_EDGES = ".,;:()[]{}*|"
_DOLLAR_S = re.compile(r"^\$\d[0-9A-Z]\.(?!\d{2}$)[0-9A-Z]{1,4}$")  # $82.101A, never $82.10
_ICD_MARKER = re.compile(r"^icd(?:9|10)?(?:cm)?$")
_TAIL = re.compile(r"^[0-9A-Z]{1,4}$")
_COMMA_DOT = re.compile(r"^[A-Z][0-9OILSBZ][0-9A-Z],[0-9A-Z]{1,4}$")
_VALID_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
_FIT_KEEP = 0.75
"""a code whose official description the line prints this fully is not second-guessed"""
_FIT_SWITCH = 0.9


def _raw_code(text: str) -> str:
    """The token as a code candidate: edges stripped, upper case, a leading "$" read as S
    where the rest cannot be money, a comma read for the dot ("W10,9XXA"), and lower-case
    letters clinging to its end dropped when the rest is a code: codes are printed in
    capitals, "(S93.401Aj)" is a closing parenthesis read as "j"."""
    stripped = text.strip(_EDGES)
    tail = len(stripped) - len(stripped.rstrip("abcdefghijklmnopqrstuvwxyz"))
    if 0 < tail < len(stripped) - 2 and stripped[0].isupper():
        cut = _raw_code(stripped[:-tail])
        if normalize_icd10(cut, repair_first=False) is not None:
            return cut
    raw = stripped.upper()
    if raw[:1].isalpha() and _COMMA_DOT.match(raw):
        raw = raw.replace(",", ".")
    return "S" + raw[1:] if _DOLLAR_S.match(raw) else raw


def _words_of(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 1 or w.isdigit()}


def _description_fit(code: str, words: set[str]) -> float:
    """Share of the official description's words printed on the code's line."""
    official = _words_of(icd.get_description(code))
    return len(official & words) / len(official) if official else 0.0


def _one_edit_codes(code: str) -> set[str]:
    """Valid codes one misread character away: one character replaced, or one extra dropped."""
    compact = code.replace(".", "")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    spellings = {compact[:i] + compact[i + 1 :] for i in range(len(compact))}
    spellings |= {compact[:i] + c + compact[i + 1 :] for i in range(len(compact)) for c in alphabet}
    found = set()
    for spelling in spellings:
        dotted = spelling if len(spelling) <= 3 else f"{spelling[:3]}.{spelling[3:]}"
        if dotted != code and _VALID_SHAPE.match(dotted) and icd.is_valid_item(dotted):
            found.add(dotted)
    return found


def _fit_description(code: str, line: LayoutLine, index: int) -> str:
    """The code the printed description names, when OCR misread one character of it.

    A code printed beside its description ("E13.9 Type 2 diabetes mellitus without
    complications") is checked against the official descriptions: a valid code one
    misread character away whose description the line prints (nearly) whole wins over one
    whose description it mostly does not. Without a description on the line, the code stands.
    """
    words = _words_of(" ".join(t.text for i, t in enumerate(line.tokens) if i != index))
    if len(words) < 3:
        return code
    current = _description_fit(code, words)
    if current >= _FIT_KEEP:
        return code
    best, best_fit = code, current
    for other in sorted(_one_edit_codes(code)):
        fit = _description_fit(other, words)
        if fit > best_fit:
            best, best_fit = other, fit
    return best if best_fit >= _FIT_SWITCH and best_fit - current >= 0.25 else code


def _starts_with_code(line: LayoutLine, boxes: Collection[str] = ()) -> bool:
    first = next((t for t in line.tokens if t.text not in boxes), None)
    if first is None:
        return False
    raw = _raw_code(first.text)
    return raw[:1].isalpha() and normalize_icd10(raw, repair_first=False) is not None


def _marked(lines: list[LayoutLine], line: LayoutLine, index: int) -> bool:
    """Printed as a code, not as a number: "ICD-10-CM: 110", "(110)" closing a description,
    or a cell of a column of codes ("110  Essential hypertension" under "A41.9  Sepsis")."""
    tok = line.tokens[index]
    after = line.tokens[index + 1 : index + 2]
    text = tok.text.rstrip(".,;:}")
    if text.startswith("(") and text.endswith(")"):
        return not after or not after[0].text[:1].isdigit()  # "(816) 643-8761" is a phone
    before = [t.norm for t in line.tokens[max(0, index - 2) : index] if t.norm]
    if before and _ICD_MARKER.match(before[-1]):
        return True
    if index != 0 or not after or sum(c.isalpha() for c in after[0].text) < 3:
        return False
    column = [
        o
        for o in lines[max(0, line.index - 1) : line.index + 2]
        if o is not line
        and o.page_index == line.page_index
        and abs(o.tokens[0].bbox[0] - tok.bbox[0]) < 2 * max(tok.height, 0.005)
    ]
    return any(_starts_with_code(o) for o in column)


def _joined_tail(line: LayoutLine, index: int, code: str) -> tuple[str, int] | None:
    """A billable code the reader cut at a space ("R51 9" is R51.9, not the category R51)."""
    if icd10_is_billable(code) or index + 1 >= len(line.tokens):
        return None
    tok, nxt = line.tokens[index], line.tokens[index + 1]
    tail = nxt.text.strip(_EDGES).upper()
    if not _TAIL.match(tail) or nxt.bbox[0] - tok.bbox[2] > 1.5 * max(tok.height, 0.004):
        return None
    joined = normalize_icd10(code.replace(".", "") + tail, repair_first=False)
    if joined is None or not icd10_is_billable(joined):
        return None
    return joined, index + 1


def _context_lines(lines: list[LayoutLine], vocab: LangVocab) -> set[int]:
    """Lines that carry a diagnosis label, and the few lines under each (a diagnosis block).

    A block runs on past those while its lines start with a code: a list or a table of
    codes is one block however long ("R07.89 ... / I48.0 ... / I10 Essential hypertension"),
    boxes before the codes allowed ("☐ I10  Essential hypertension")."""
    keys = {norm(w) for w in vocab.diagnosis_context}
    boxes = {*vocab.tick_marks, *vocab.untick_marks}
    marked: set[int] = set()
    for line in lines:
        if any(t.norm in keys or t.norm.rstrip("s") in keys for t in line.tokens):
            marked.update(range(line.index, line.index + 6))
        elif (
            {line.index - 1, line.index - 2} & marked
            and line.index not in marked
            and _starts_with_code(line, boxes)
        ):
            marked.update(range(line.index, line.index + 2))  # the code and its description
    return marked


def extract_diagnoses(
    pages: list[Page],
    lines: list[LayoutLine],
    vocab: LangVocab,
    calibrator: Calibrator,
    exclude: set[tuple[int, int, float]] | None = None,
) -> tuple[list[Diagnosis], list[ValueEvidence]]:
    """Distinct diagnoses in page order; `exclude` holds tokens already read as line-item codes."""
    exclude = exclude or set()
    context = _context_lines(lines, vocab)
    # empty boxes, but not a lone "[", "(" or "O" that may belong to the code's own print
    unticked = {m for m in vocab.untick_marks if not (len(m) == 1 and m.isascii())}
    seen: dict[str, int] = {}
    out: list[Diagnosis] = []
    evidence: list[ValueEvidence] = []
    for line in lines:
        in_context = line.index in context
        skip_to = -1
        for index, tok in enumerate(line.tokens):
            if index <= skip_to or (tok.page_index, tok.line_index, tok.bbox[0]) in exclude:
                continue
            raw = _raw_code(tok.text)
            if not _CODE_LIKE.match(raw) or not any(c.isdigit() for c in raw):
                continue  # no digit at all: a word ("MILLS" is not M11.15 repaired)
            if index and line.tokens[index - 1].text in unticked:
                continue  # an option of a checklist nobody ticked ("☐ J02.9 Acute pharyngitis")
            dotted = bool(_DOTTED.match(raw))
            marked = in_context and _marked(lines, line, index)
            if not dotted and (not in_context or not (raw[0].isalpha() or marked)):
                continue
            if not dotted and _HCPCS.match(raw) and not in_context:
                continue
            # a leading digit is only repaired in a dotted code beside a label, or one printed
            # as a code ("(110)", "ICD-10-CM 110"): "1951," is a year
            code = normalize_icd10(raw, repair_first=in_context and (dotted or marked))
            valid = code is not None
            if code is None:
                if not (dotted and in_context and raw[0].isalpha()):
                    continue
                code = raw  # printed like a code beside a diagnosis label: flag it, don't drop it
            elif in_context and (tail := _joined_tail(line, index, code)) is not None:
                code, skip_to = tail
            if valid:
                code = _fit_description(code, line, index)
            if code in seen:
                continue
            seen[code] = len(out)
            evidence_features = make_evidence(
                word_confidences=[tok.conf],
                method="pattern" if not in_context else "label_beside",
                label_match=1.0 if in_context else 0.0,
                validated=(1.0 if icd10_is_billable(code) else 0.7) if valid else 0.0,
            )
            conf = calibrator.predict(evidence_features)
            out.append(
                Diagnosis(
                    code=code,
                    description=icd.get_description(code) if valid else None,
                    valid=valid,
                    confidence=conf,
                    source=source_of([tok], pages),
                )
            )
            evidence.append(
                ValueEvidence(
                    method="label_beside" if in_context else "pattern",
                    label=None,
                    features=evidence_features,
                    confidence=conf,
                )
            )
    return out, evidence


def merge_diagnoses(per_document: list[list[Diagnosis]]) -> list[Diagnosis]:
    """One entry per code across documents, first seen order, keeping the most confident read."""
    best: dict[str, Diagnosis] = {}
    for diagnoses in per_document:
        for dx in diagnoses:
            kept = best.get(dx.code)
            if kept is None or dx.confidence > kept.confidence:
                best[dx.code] = dx
    order: list[str] = []
    for diagnoses in per_document:
        for dx in diagnoses:
            if dx.code not in order:
                order.append(dx.code)
    return [best[c] for c in order]
