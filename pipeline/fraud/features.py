"""Fraud features of one claim against the claims processed before it.

Each feature is documented in `FEATURES.md`. A feature the claim cannot support (no
invoice number read, no sex on any document ...) is `None`, and `to_vector` turns it into
NaN, which the gradient-boosted model treats as its own branch instead of as zero.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from difflib import SequenceMatcher

from pydantic import BaseModel, ConfigDict

from pipeline.fraud.history import (
    ClaimHistory,
    claim_keys,
    claim_service_date,
    fold_identifier,
    normalize_name,
    parse_iso_date,
)
from pipeline.fraud.reference import FeeEntry, code_matches, load_dx_rules, load_fee_table
from pipeline.schema import Claim, ExtractedField, LineItem

__all__ = ["FEATURE_NAMES", "CONTEXT_FEATURES", "FraudFeatures", "compute_features", "patient_sex"]

READ_PROBLEM_FLAGS = frozenset({"PAGE_READ_PROBLEM", "TEXT_OCR_DISAGREEMENT", "BLANK_PAGE"})
LOW_CONFIDENCE_FLAGS = frozenset({"LOW_CONFIDENCE", "UNCERTAIN_DOCUMENT_TYPE"})
SEX_FIELDS = ("patient_sex", "sex")
NAME_TOKEN_SIMILARITY = 0.75
"""Two readings of a name are one person when each name of the shorter matches one of the
other at this letter similarity: OCR changes a letter or two ("Smlth", "LindaT."), another
person has another first or last name ("John" is not "Joseph": 0.6)."""
NAME_JOINED_SIMILARITY = 0.92
"""...or when all their letters agree this closely (OCR ran two names together)."""
MEMBER_ID_MIN_FUZZY = 6
"""Member ids this long are one when a single character differs, is dropped or added
("J82662247" read as "382662247"); another member's id differs in many places."""
ARITHMETIC_TOLERANCE = 0.01
"""Relative slack of quantity x unit price against the amount before a line counts as misread."""
DERIVED_PRICE_RANGE = (0.25, 25.0)
"""Bounds of amount / quantity over the typical charge for the quantity to be believed when
no unit price is printed; outside them the quantity or amount was misread."""


class FraudFeatures(BaseModel):
    """The fixed feature set; field order is the vector order the model was trained on."""

    model_config = ConfigDict(extra="forbid")

    dup_invoice_number_seen: float | None = None
    dup_fingerprint_seen: float | None = None
    dup_document_hash_seen: float = 0.0
    dup_invoice_within_claim: float = 0.0
    dup_patient_service_day_seen: float | None = None
    dup_any_seen: float = 0.0
    price_ratio_max: float | None = None
    price_ratio_mean: float | None = None
    price_ratio_spread: float | None = None
    charge_ratio_max: float | None = None
    total_mismatch_rel: float | None = None
    total_mismatch_abs: float | None = None
    days_service_before_policy: float | None = None
    days_service_after_invoice: float | None = None
    identity_name_mismatch: float | None = None
    identity_dob_mismatch: float | None = None
    identity_member_mismatch: float | None = None
    identity_mismatch_confidence: float | None = None
    units_ratio_max: float | None = None
    dx_sex_implausible: float | None = None
    dx_sex_conflict: float = 0.0
    dx_age_implausible: float | None = None
    patient_claims_30d: float | None = None
    patient_claims_90d: float | None = None
    provider_claims_30d: float | None = None
    provider_claims_90d: float | None = None
    read_problem_flags: float = 0.0
    low_confidence_flags: float = 0.0
    line_arithmetic_errors: float = 0.0
    line_confidence_mean: float | None = None
    field_confidence_mean: float | None = None
    total_confidence: float | None = None
    n_line_items: float = 0.0
    total_billed_log: float | None = None

    def to_vector(self) -> list[float]:
        return [math.nan if v is None else float(v) for v in self.model_dump().values()]


FEATURE_NAMES: tuple[str, ...] = tuple(FraudFeatures.model_fields)

CONTEXT_FEATURES = frozenset(
    {
        "provider_claims_30d",
        "provider_claims_90d",
        "read_problem_flags",
        "low_confidence_flags",
        "line_arithmetic_errors",
        "line_confidence_mean",
        "field_confidence_mean",
        "total_confidence",
        "n_line_items",
        "total_billed_log",
    }
)
"""Features that say how the claim was read or how big it is, not what is wrong with it: the
model uses them to weigh the others (a gap between lines and total on a bill read at 60 %
confidence is more likely a missed line than padding)."""


def _value(field: ExtractedField | None) -> object:
    return None if field is None else field.value


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _age_on(dob: dt.date, day: dt.date) -> int:
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


def patient_sex(claim: Claim) -> str | None:
    """ "F" or "M" when some document states it, else None; never guessed from the name."""
    rules = load_dx_rules()
    spellings = rules.sex_values.get(claim.language, {})
    seen: set[str] = set()
    for document in claim.documents:
        for name in SEX_FIELDS:
            value = _value(document.fields.get(name))
            if not isinstance(value, str):
                continue
            text = value.strip().casefold()
            if text in ("f", "m"):  # extraction writes the sex as F or M in every language
                seen.add(text.upper())
                continue
            for sex, words in spellings.items():
                if text in {w.casefold() for w in words}:
                    seen.add(sex)
    return seen.pop() if len(seen) == 1 else None


def _duplicates(claim: Claim, history: ClaimHistory) -> dict[str, float | None]:
    keys = claim_keys(claim)
    numbered = [
        (k.provider_npi, k.invoice_number)
        for k in keys.invoices
        if k.provider_npi and k.invoice_number
    ]
    printed = [tuple(k.fingerprints) for k in keys.invoices if k.fingerprints]
    by_number = {
        r.claim_id
        for npi, number in numbered
        for r in history.by_invoice_number(npi, number, claim.claim_id)
    }
    by_print = {
        r.claim_id
        for prints in printed
        for f in prints
        for r in history.by_fingerprint(f, claim.claim_id)
    }
    within = (len(numbered) - len(set(numbered))) + (len(printed) - len(set(printed)))
    by_day: set[str] = set()
    if keys.service_date is not None:
        by_day = {
            r.claim_id
            for k in keys.patient_keys
            for r in history.by_patient(k, claim.claim_id)
            if r.service_date == keys.service_date
        }
    by_hash = {r.claim_id for r in history.by_document_hash(keys.packet_sha256, claim.claim_id)}
    known_day = keys.service_date is not None and bool(keys.patient_keys)
    return {
        "dup_invoice_number_seen": float(len(by_number)) if numbered else None,
        "dup_fingerprint_seen": float(len(by_print)) if printed else None,
        "dup_document_hash_seen": float(len(by_hash)),
        "dup_invoice_within_claim": float(within),
        "dup_patient_service_day_seen": float(len(by_day)) if known_day else None,
        "dup_any_seen": float(len(by_number | by_print | by_day | by_hash)),
    }


def _line_reading(item: LineItem, entry: FeeEntry) -> tuple[float | None, float | None, bool]:
    """(unit price, quantity, misread) of a line, each None unless the line vouches for it.

    A line whose quantity x unit price is not its amount was misread somewhere, so neither
    is believed. Without a printed unit price, amount / quantity stands in for it only when
    it is a price the code could carry; a misread quantity ("1" as "7") makes it absurd.
    """
    quantity, unit, amount = item.quantity, item.unit_price, item.amount
    if quantity is not None and quantity <= 0:
        quantity = None
    if quantity is not None and unit is not None and amount is not None:
        if abs(quantity * unit - amount) > ARITHMETIC_TOLERANCE * max(abs(amount), 1.0):
            return None, None, True
        return unit, quantity, False
    if unit is None and quantity is not None and amount is not None:
        derived = amount / quantity
        low, high = DERIVED_PRICE_RANGE
        if low <= derived / entry.typical_charge <= high:
            return derived, quantity, False
        return None, None, True
    return (unit if unit is not None and unit > 0 else None), quantity, False


def _stay_days(claim: Claim) -> int:
    """Days from the first to the last day of service (at least 1): what a per-diem code may bill."""
    days = [parse_iso_date(li.service_date) for li in claim.line_items]
    days += [
        parse_iso_date(getattr(claim.fields, n).value)
        for n in ("service_date_from", "service_date_to")
    ]
    known = [d for d in days if d is not None]
    return max(1, (max(known) - min(known)).days) if known else 1


def _prices(claim: Claim) -> dict[str, float | None]:
    fees = load_fee_table()
    ratios: list[float] = []
    charges: list[float] = []
    units: dict[tuple[str, str], float] = defaultdict(float)
    limits: dict[tuple[str, str], float] = {}
    misread = 0
    stay = _stay_days(claim)
    for item in claim.line_items:
        code = (item.code or "").strip().upper()
        entry = fees.get(code)
        if entry is None:
            continue
        unit_price, quantity, bad = _line_reading(item, entry)
        misread += bad
        if unit_price is not None:
            ratios.append(unit_price / entry.national_amount)
            charges.append(unit_price / entry.typical_charge)
        if quantity is not None:
            # a per-diem code (room and board) may bill the whole stay on the admission day
            key = (code, "stay" if entry.per_diem else item.service_date or "?")
            units[key] += quantity
            limits[key] = entry.max_units_per_day * (stay if entry.per_diem else 1)
    spread = None
    if len(ratios) >= 2:
        spread = max(ratios) / max(statistics.median(ratios), 1e-6)
    return {
        "price_ratio_max": max(ratios) if ratios else None,
        "price_ratio_mean": statistics.fmean(ratios) if ratios else None,
        "price_ratio_spread": spread,
        "charge_ratio_max": max(charges) if charges else None,
        "units_ratio_max": max(total / limits[k] for k, total in units.items()) if units else None,
        "line_arithmetic_errors": float(misread),
    }


def _total_mismatch(claim: Claim) -> dict[str, float | None]:
    """Largest gap between a bill's printed total and the sum of its lines, relative and in money."""
    gaps: list[tuple[float, float]] = []
    for index, document in enumerate(claim.documents):
        if document.doc_type != "invoice":
            continue
        total = _number(_value(document.fields.get("total")))
        amounts = [li.amount for li in claim.line_items if li.document == index and li.amount]
        if total is not None and amounts:
            gap = abs(sum(amounts) - total)
            gaps.append((gap / max(abs(total), 1.0), gap))
    total_billed = _number(claim.fields.total_billed.value)
    all_amounts = [li.amount for li in claim.line_items if li.amount is not None]
    if total_billed is not None and all_amounts:
        gap = abs(sum(all_amounts) - total_billed)
        gaps.append((gap / max(abs(total_billed), 1.0), gap))
    return {
        "total_mismatch_rel": max(g[0] for g in gaps) if gaps else None,
        "total_mismatch_abs": round(max(g[1] for g in gaps), 2) if gaps else None,
    }


def _dates(claim: Claim) -> dict[str, float | None]:
    service_days = [d for d in (parse_iso_date(li.service_date) for li in claim.line_items) if d]
    for name in ("service_date_from", "service_date_to"):
        day = parse_iso_date(getattr(claim.fields, name).value)
        if day:
            service_days.append(day)
    effective = [
        d
        for d in (
            parse_iso_date(_value(doc.fields.get("policy_effective_date")))
            for doc in claim.documents
        )
        if d
    ]
    invoice_dates = [
        d
        for d in (
            parse_iso_date(_value(doc.fields.get("invoice_date")))
            for doc in claim.documents
            if doc.doc_type == "invoice"
        )
        if d
    ]
    before = after = None
    if service_days and effective:
        before = float(max(0, (max(effective) - min(service_days)).days))
    if service_days and invoice_dates:
        after = float(max(0, (max(service_days) - max(invoice_dates)).days))
    return {"days_service_before_policy": before, "days_service_after_invoice": after}


def _identity(claim: Claim) -> dict[str, float | None]:
    """How many documents name a different patient than the others do (name, DOB, member id).

    Readings are grouped by sameness (names by letter similarity, so an OCR slip is not
    another person); the documents outside the largest group are the mismatches. The
    confidence is that of the likeliest true disagreement: an odd reading's confidence times
    the main group's, i.e. how sure we are that both were read right.
    """
    out: dict[str, float | None] = {}
    checks = (
        ("identity_name_mismatch", "patient_name"),
        ("identity_dob_mismatch", "patient_dob"),
        ("identity_member_mismatch", "member_id"),
    )
    sureness: list[float] = []
    any_compared = False
    for feature, name in checks:
        readings: list[tuple[object, float]] = []
        for document in claim.documents:
            field = document.fields.get(name)
            if field is None or field.value is None:
                continue
            key = _identity_key(name, field.value)
            if key:
                readings.append((key, field.confidence))
        if len(readings) < 2:
            out[feature] = None
            continue
        any_compared = True
        groups: list[list[tuple[object, float]]] = []
        for reading in readings:
            home = next((g for g in groups if _same_identity(name, g[0][0], reading[0])), None)
            if home is None:
                groups.append([reading])
            else:
                home.append(reading)
        groups.sort(key=lambda g: (len(g), sum(c for _, c in g)), reverse=True)
        main, odd = groups[0], [r for g in groups[1:] for r in g]
        out[feature] = float(len(odd))
        if odd:
            sure_main = max(c for _, c in main)
            sureness.append(max(c for _, c in odd) * sure_main)
    out["identity_mismatch_confidence"] = max(sureness, default=0.0) if any_compared else None
    return out


def _identity_key(name: str, value: object) -> object:
    text = str(value).strip()
    if name == "patient_name":
        tokens = normalize_name(text)
        return tokens or None
    if name == "patient_dob":
        return parse_iso_date(text)
    return fold_identifier(text)


def _similar(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b).ratio()


def _one_edit_apart(a: str, b: str) -> bool:
    """One character replaced, dropped or added (OCR's slips on an identifier)."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    shorter, longer = sorted((a, b), key=len)
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


def _same_identity(name: str, a: object, b: object) -> bool:
    if a == b:
        return True
    if name == "member_id" and isinstance(a, str) and isinstance(b, str):
        return min(len(a), len(b)) >= MEMBER_ID_MIN_FUZZY and _one_edit_apart(a, b)
    if name != "patient_name" or not isinstance(a, tuple) or not isinstance(b, tuple):
        return False
    if _similar("".join(a), "".join(b)) >= NAME_JOINED_SIMILARITY:
        return True
    shorter, longer = sorted((list(a), list(b)), key=len)
    for token in shorter:
        best = max(longer, key=lambda other: _similar(token, other), default=None)
        if best is None or _similar(token, best) < NAME_TOKEN_SIMILARITY:
            return False
        longer.remove(best)
    return True


def _diagnoses(claim: Claim) -> dict[str, float | None]:
    rules = load_dx_rules()
    codes = [d.code for d in claim.diagnoses]
    specific = {
        sex: {c for c in codes if any(code_matches(c, s) for s in specs)}
        for sex, specs in rules.sex_specific.items()
    }
    conflict = float(bool(specific.get("F")) and bool(specific.get("M")))
    sex = patient_sex(claim)
    sex_bad = None
    if sex is not None:
        other = "M" if sex == "F" else "F"
        sex_bad = float(len(specific.get(other, set())))
    dob = parse_iso_date(claim.fields.patient_dob.value)
    day = claim_service_date(claim)
    age_bad = None
    if dob is not None and day is not None:
        age = _age_on(dob, day)
        age_bad = float(
            sum(
                1
                for c in codes
                for rule in rules.age_ranges
                if any(code_matches(c, s) for s in rule.codes)
                and not rule.min_age <= age <= rule.max_age
            )
        )
    return {
        "dx_sex_implausible": sex_bad,
        "dx_sex_conflict": conflict,
        "dx_age_implausible": age_bad,
    }


def _frequency(claim: Claim, history: ClaimHistory) -> dict[str, float | None]:
    keys = claim_keys(claim)
    day = keys.service_date
    out: dict[str, float | None] = {}
    groups = (
        ("patient", keys.patient_keys, history.by_patient),
        ("provider", keys.provider_npis, history.by_provider),
    )
    for label, lookup_keys, lookup in groups:
        if day is None or not lookup_keys:
            out[f"{label}_claims_30d"] = out[f"{label}_claims_90d"] = None
            continue
        records = {r.claim_id: r for k in lookup_keys for r in lookup(k, claim.claim_id)}
        gaps = [
            abs((r.service_date - day).days) for r in records.values() if r.service_date is not None
        ]
        out[f"{label}_claims_30d"] = float(sum(1 for g in gaps if g <= 30))
        out[f"{label}_claims_90d"] = float(sum(1 for g in gaps if g <= 90))
    return out


def compute_features(claim: Claim, history: ClaimHistory) -> FraudFeatures:
    """All features of `claim`; `history` holds the claims processed before it."""
    total = _number(claim.fields.total_billed.value)
    confidences = [li.confidence for li in claim.line_items]
    read = [f.confidence for d in claim.documents for f in d.fields.values() if f.value is not None]
    totals = [
        field.confidence
        for d in claim.documents
        if d.doc_type == "invoice" and (field := d.fields.get("total")) is not None
        if field.value is not None
    ]
    values: dict[str, float | None] = dict(
        **_duplicates(claim, history),
        **_prices(claim),
        **_total_mismatch(claim),
        **_dates(claim),
        **_identity(claim),
        **_diagnoses(claim),
        **_frequency(claim, history),
        read_problem_flags=float(sum(f.code in READ_PROBLEM_FLAGS for f in claim.flags)),
        low_confidence_flags=float(sum(f.code in LOW_CONFIDENCE_FLAGS for f in claim.flags)),
        line_confidence_mean=statistics.fmean(confidences) if confidences else None,
        field_confidence_mean=statistics.fmean(read) if read else None,
        total_confidence=min(totals) if totals else None,
        n_line_items=float(len(claim.line_items)),
        total_billed_log=math.log1p(max(total, 0.0)) if total is not None else None,
    )
    return FraudFeatures.model_validate(values)
