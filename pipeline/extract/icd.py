"""ICD-10 diagnoses found anywhere on a document's pages, validated against ICD-10-CM.

Code-shaped tokens are read with and without the dot. A code printed without a dot,
or one needing an OCR repair of its first character, is only believed next to a
diagnosis label: otherwise zip codes, HCPCS codes (J1100) and ids would become diagnoses.
"""

from __future__ import annotations

import re

import simple_icd_10_cm as icd

from pipeline.document import Page
from pipeline.extract.confidence import Calibrator, ValueEvidence, make_evidence
from pipeline.extract.layout import LayoutLine, norm, source_of
from pipeline.extract.normalize import icd10_is_billable, normalize_icd10
from pipeline.extract.vocab import LangVocab
from pipeline.schema import Diagnosis

__all__ = ["extract_diagnoses", "merge_diagnoses"]

_CODE_LIKE = re.compile(r"^[A-Z0-9][0-9OILSBZ][0-9A-Z](?:\.[0-9A-Z]{1,4}|[0-9A-Z]{1,4})?$")
_DOTTED = re.compile(r"^[A-Z0-9][0-9OILSBZ][0-9A-Z]\.[0-9A-Z]{1,4}$")
_HCPCS = re.compile(r"^[A-V]\d{4}$")


def _context_lines(lines: list[LayoutLine], vocab: LangVocab) -> set[int]:
    """Lines that carry a diagnosis label, and the few lines under each (a diagnosis block)."""
    keys = {norm(w) for w in vocab.diagnosis_context}
    marked: set[int] = set()
    for line in lines:
        if any(t.norm in keys or t.norm.rstrip("s") in keys for t in line.tokens):
            marked.update(range(line.index, line.index + 6))
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
    seen: dict[str, int] = {}
    out: list[Diagnosis] = []
    evidence: list[ValueEvidence] = []
    for line in lines:
        in_context = line.index in context
        for tok in line.tokens:
            if (tok.page_index, tok.line_index, tok.bbox[0]) in exclude:
                continue
            raw = tok.text.strip(".,;:()[]*").upper()
            if not _CODE_LIKE.match(raw):
                continue
            dotted = bool(_DOTTED.match(raw))
            if not dotted and (not in_context or not raw[0].isalpha()):
                continue
            if not dotted and _HCPCS.match(raw) and not in_context:
                continue
            # a leading digit is only repaired in a dotted code beside a label: "1951," is a year
            code = normalize_icd10(raw, repair_first=in_context and dotted)
            valid = code is not None
            if code is None:
                if not (dotted and in_context and raw[0].isalpha()):
                    continue
                code = raw  # printed like a code beside a diagnosis label: flag it, don't drop it
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
