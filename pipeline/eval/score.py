"""Scoring one claim against its truth: the per-value outcomes every metric is built from.

Documents are paired with truth documents by doc_type and page overlap; line items by
(code, amount) as a multiset, and a matched item's other columns are then checked one by
one; diagnoses by code as a set. A value's profile (digital or scanned) is that of the
truth pages it was read from, so the split says where we fail.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.eval.compare import code_key, values_equal
from pipeline.eval.report import ProfileName, ValueOutcome
from pipeline.schema import CLAIM_FIELD_NAMES, Claim, ClaimDocument, Source
from pipeline.truth import Truth, TruthDocument, TruthLineItem

__all__ = ["LINE_ITEM_COLUMNS", "ClaimComparison", "FieldCheck", "compare_claim", "value_outcomes"]

PageKey = tuple[str, int]
LineKey = tuple[str | None, int | None]

LINE_ITEM_COLUMNS = ("service_date", "quantity", "unit_price", "description")
"""A line item's columns checked once its code and amount have matched it to the truth's."""


@dataclass(frozen=True)
class FieldCheck:
    """One scored field: `emitted` means the prediction is non-null."""

    kind: str
    name: str
    profile: ProfileName
    correct: bool
    emitted: bool
    confidence: float


@dataclass
class ClaimComparison:
    pages: list[tuple[bool, ProfileName]] = field(default_factory=list)
    fields: list[FieldCheck] = field(default_factory=list)
    diagnosis_counts: tuple[int, int, int] = (0, 0, 0)
    line_item_counts: dict[str, Counter[str]] = field(default_factory=dict)
    line_item_columns: list[tuple[str, bool, ProfileName]] = field(default_factory=list)
    """(column, right, profile) for each column of each line item matched by code and amount."""
    outcomes: list[ValueOutcome] = field(default_factory=list)


def _page_key(file: str, page: int) -> PageKey:
    return (file.replace("\\", "/").lstrip("./"), int(page))


def _merge_profiles(profiles: Sequence[str], fallback: ProfileName) -> ProfileName:
    distinct = set(profiles)
    if len(distinct) == 1:
        only = distinct.pop()
        if only in ("digital", "scanned"):
            return only  # type: ignore[return-value]
    if len(distinct) > 1:
        return "mixed"
    return fallback


class _Profiles:
    """Looks up the profile of truth pages, truth documents and predicted documents."""

    def __init__(self, truth: Truth) -> None:
        self.packet: ProfileName = truth.profile
        self.by_page: dict[PageKey, str] = {
            _page_key(p.file, p.page): p.profile for p in truth.pages if not p.separator
        }
        self.by_document: dict[int, ProfileName] = {}
        for index, document in enumerate(truth.documents):
            listed: list[str] = [
                p.profile for p in truth.pages if p.document == index and not p.separator
            ]
            if not listed:
                listed = [
                    self.by_page[key] for key in (_truth_doc_pages(document)) if key in self.by_page
                ]
            self.by_document[index] = _merge_profiles(listed, self.packet)

    def of_pages(self, keys: list[PageKey]) -> ProfileName:
        return _merge_profiles([self.by_page[k] for k in keys if k in self.by_page], self.packet)

    def of_source(self, source: Source | None) -> ProfileName:
        if source is None:
            return self.packet
        return self.of_pages([_page_key(source.file, source.page)])

    def of_prediction(self, document: ClaimDocument) -> ProfileName:
        return self.of_pages([_page_key(p.file, p.page) for p in document.pages])


def _truth_doc_pages(document: TruthDocument) -> list[PageKey]:
    keys: list[PageKey] = []
    for ref in document.pages:
        file, page = ref.get("file"), ref.get("page")
        if isinstance(file, str) and isinstance(page, int | str) and str(page).isdigit():
            keys.append(_page_key(file, int(page)))
    return keys


def _pair_documents(claim: Claim, truth: Truth) -> dict[int, int]:
    """truth document index -> claim document index, greedy by largest page overlap."""
    used: set[int] = set()
    pairs: dict[int, int] = {}
    predicted_pages = [{_page_key(p.file, p.page) for p in d.pages} for d in claim.documents]
    for t_index, t_doc in enumerate(truth.documents):
        t_pages = set(_truth_doc_pages(t_doc))
        best, best_overlap = -1, 0
        for c_index, c_doc in enumerate(claim.documents):
            if c_index in used or c_doc.doc_type != t_doc.doc_type:
                continue
            overlap = len(t_pages & predicted_pages[c_index])
            if overlap > best_overlap:
                best, best_overlap = c_index, overlap
        if best >= 0:
            used.add(best)
            pairs[t_index] = best
    return pairs


def _claim_field_profile(name: str, truth: Truth, profiles: _Profiles) -> ProfileName:
    """The profile of the document the claim-level value is printed on.

    A document holding the same field name wins (claim form first), then any document
    field with the same value (`total_billed` is the invoice's `total`), then a line item
    with that service date; failing all, the packet's profile.
    """
    value = truth.fields.get(name)
    if value is None:
        return profiles.packet
    documents = sorted(
        range(len(truth.documents)), key=lambda i: truth.documents[i].doc_type != "claim_form"
    )
    for i in documents:
        held = truth.documents[i].fields.get(name)
        if held is not None and values_equal(name, held, value):
            return profiles.by_document[i]
    for i in documents:
        for held in truth.documents[i].fields.values():
            if held is not None and type(held) is type(value) and values_equal(name, held, value):
                return profiles.by_document[i]
    for item in truth.line_items:
        if item.service_date is not None and item.service_date == value:
            return profiles.by_document.get(item.document, profiles.packet)
    return profiles.packet


def _score_pages(claim: Claim, truth: Truth, result: ClaimComparison) -> None:
    predicted: dict[PageKey, str] = {}
    for document in claim.documents:
        for ref in document.pages:
            predicted.setdefault(_page_key(ref.file, ref.page), document.doc_type)
    for page in truth.pages:
        if page.separator:
            continue
        guess = predicted.get(_page_key(page.file, page.page))
        result.pages.append((guess == page.doc_type, page.profile))


def _score_fields(claim: Claim, truth: Truth, profiles: _Profiles, result: ClaimComparison) -> None:
    for name in CLAIM_FIELD_NAMES:
        predicted = getattr(claim.fields, name)
        truth_value = truth.fields.get(name)
        correct = values_equal(name, predicted.value, truth_value)
        result.fields.append(
            FieldCheck(
                "claim_field",
                name,
                _claim_field_profile(name, truth, profiles),
                correct,
                predicted.value is not None,
                predicted.confidence,
            )
        )
    pairs = _pair_documents(claim, truth)
    for t_index, t_doc in enumerate(truth.documents):
        c_doc = claim.documents[pairs[t_index]] if t_index in pairs else None
        for name, truth_value in t_doc.fields.items():
            got = c_doc.fields.get(name) if c_doc is not None else None
            value = got.value if got is not None else None
            result.fields.append(
                FieldCheck(
                    "document_field",
                    f"{t_doc.doc_type}.{name}",
                    profiles.by_document[t_index],
                    values_equal(name, value, truth_value),
                    value is not None,
                    got.confidence if got is not None else 0.0,
                )
            )


def _score_diagnoses(
    claim: Claim, truth: Truth, profiles: _Profiles, result: ClaimComparison
) -> None:
    truth_codes = {k for k in (code_key(d.code) for d in truth.diagnoses) if k}
    predicted_codes = {k for k in (code_key(d.code) for d in claim.diagnoses) if k}
    tp = len(truth_codes & predicted_codes)
    result.diagnosis_counts = (tp, len(predicted_codes) - tp, len(truth_codes) - tp)
    for diagnosis in claim.diagnoses:
        key = code_key(diagnosis.code) or ""
        result.outcomes.append(
            ValueOutcome(
                kind="diagnosis",
                name=key,
                confidence=diagnosis.confidence,
                correct=key in truth_codes,
                profile=profiles.of_source(diagnosis.source),
            )
        )


def _line_key(code: str | None, amount: float | None) -> LineKey:
    cents = round(amount * 100) if amount is not None and math.isfinite(amount) else None
    return (code_key(code), cents)


def _score_line_items(
    claim: Claim, truth: Truth, profiles: _Profiles, result: ClaimComparison
) -> None:
    pool: dict[LineKey, list[tuple[ProfileName, TruthLineItem]]] = {}
    for truth_item in truth.line_items:
        profile = profiles.by_document.get(truth_item.document, profiles.packet)
        key = _line_key(truth_item.code, truth_item.amount)
        pool.setdefault(key, []).append((profile, truth_item))
    counts: dict[str, Counter[str]] = {p: Counter() for p in ("overall", "digital", "scanned")}

    def count(outcome: str, profile: str) -> None:
        counts["overall"][outcome] += 1
        if profile in counts:
            counts[profile][outcome] += 1

    for item in claim.line_items:
        waiting = pool.get(_line_key(item.code, item.amount))
        if waiting:
            profile, matched = waiting.pop(0)
            count("tp", profile)
            correct = True
            for column in LINE_ITEM_COLUMNS:
                right = values_equal(column, getattr(item, column), getattr(matched, column))
                result.line_item_columns.append((column, right, profile))
        else:
            valid = 0 <= item.document < len(claim.documents)
            profile = (
                profiles.of_prediction(claim.documents[item.document])
                if valid
                else profiles.of_source(item.source)
            )
            count("fp", profile)
            correct = False
        result.outcomes.append(
            ValueOutcome(
                kind="line_item",
                name=item.code or "",
                confidence=item.confidence,
                correct=correct,
                profile=profile,
            )
        )
    for left in pool.values():
        for profile, _ in left:
            count("fn", profile)
    result.line_item_counts = counts


def compare_claim(claim: Claim, truth: Truth) -> ClaimComparison:
    """Every scored unit of `claim` against `truth`; the metrics in `evaluate` add these up."""
    profiles = _Profiles(truth)
    result = ClaimComparison()
    _score_pages(claim, truth, result)
    _score_fields(claim, truth, profiles, result)
    field_outcomes = [
        ValueOutcome(
            kind=check.kind,  # type: ignore[arg-type]
            name=check.name,
            confidence=check.confidence,
            correct=check.correct,
            profile=check.profile,
        )
        for check in result.fields
        if check.emitted
    ]
    _score_diagnoses(claim, truth, profiles, result)
    _score_line_items(claim, truth, profiles, result)
    result.outcomes = field_outcomes + result.outcomes
    return result


def value_outcomes(claim: Claim, truth: Truth) -> list[ValueOutcome]:
    """Each emitted value (non-null field, diagnosis, line item) with whether it is right.

    Fields of predicted documents with no truth document of the same type and pages are
    not included: they have no truth counterpart.
    """
    return compare_claim(claim, truth).outcomes
