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

from pydantic import BaseModel, ConfigDict

from pipeline.fraud.history import (
    ClaimHistory,
    claim_keys,
    claim_service_date,
    normalize_name,
    parse_iso_date,
)
from pipeline.fraud.reference import code_matches, load_dx_rules, load_fee_table
from pipeline.schema import Claim, ExtractedField

__all__ = ["FEATURE_NAMES", "FraudFeatures", "compute_features", "patient_sex"]

READ_PROBLEM_FLAGS = frozenset({"PAGE_READ_PROBLEM", "TEXT_OCR_DISAGREEMENT", "BLANK_PAGE"})
LOW_CONFIDENCE_FLAGS = frozenset({"LOW_CONFIDENCE", "UNCERTAIN_DOCUMENT_TYPE"})
SEX_FIELDS = ("patient_sex", "sex")


class FraudFeatures(BaseModel):
    """The fixed feature set; field order is the vector order the model was trained on."""

    model_config = ConfigDict(extra="forbid")

    dup_invoice_number_seen: float | None = None
    dup_fingerprint_seen: float | None = None
    dup_document_hash_seen: float = 0.0
    dup_invoice_within_claim: float = 0.0
    price_ratio_max: float | None = None
    price_ratio_mean: float | None = None
    price_ratio_spread: float | None = None
    charge_ratio_max: float | None = None
    total_mismatch_rel: float | None = None
    days_service_before_policy: float | None = None
    days_service_after_invoice: float | None = None
    identity_name_mismatch: float | None = None
    identity_dob_mismatch: float | None = None
    identity_member_mismatch: float | None = None
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
    n_line_items: float = 0.0
    total_billed_log: float | None = None

    def to_vector(self) -> list[float]:
        return [math.nan if v is None else float(v) for v in self.model_dump().values()]


FEATURE_NAMES: tuple[str, ...] = tuple(FraudFeatures.model_fields)


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
    return {
        "dup_invoice_number_seen": float(len(by_number)) if numbered else None,
        "dup_fingerprint_seen": float(len(by_print)) if printed else None,
        "dup_document_hash_seen": float(
            len(history.by_document_hash(keys.packet_sha256, claim.claim_id))
        ),
        "dup_invoice_within_claim": float(within),
    }


def _prices(claim: Claim) -> dict[str, float | None]:
    fees = load_fee_table()
    ratios: list[float] = []
    charges: list[float] = []
    units: dict[tuple[str, str], float] = defaultdict(float)
    unit_limits: dict[str, float] = {}
    for item in claim.line_items:
        code = (item.code or "").strip().upper()
        entry = fees.get(code)
        if entry is None:
            continue
        unit_price = item.unit_price
        if unit_price is None and item.amount is not None and item.quantity:
            unit_price = item.amount / item.quantity
        if unit_price is not None and unit_price > 0:
            ratios.append(unit_price / entry.national_amount)
            charges.append(unit_price / entry.typical_charge)
        if item.quantity is not None:
            units[(code, item.service_date or "?")] += item.quantity
            unit_limits[code] = entry.max_units_per_day
    spread = None
    if len(ratios) >= 2:
        spread = max(ratios) / max(statistics.median(ratios), 1e-6)
    return {
        "price_ratio_max": max(ratios) if ratios else None,
        "price_ratio_mean": statistics.fmean(ratios) if ratios else None,
        "price_ratio_spread": spread,
        "charge_ratio_max": max(charges) if charges else None,
        "units_ratio_max": (
            max(total / unit_limits[code] for (code, _), total in units.items()) if units else None
        ),
    }


def _total_mismatch(claim: Claim) -> float | None:
    """Largest relative gap between a bill's printed total and the sum of its lines."""
    gaps: list[float] = []
    for index, document in enumerate(claim.documents):
        if document.doc_type != "invoice":
            continue
        total = _number(_value(document.fields.get("total")))
        amounts = [li.amount for li in claim.line_items if li.document == index and li.amount]
        if total is not None and amounts:
            gaps.append(abs(sum(amounts) - total) / max(abs(total), 1.0))
    total_billed = _number(claim.fields.total_billed.value)
    all_amounts = [li.amount for li in claim.line_items if li.amount is not None]
    if total_billed is not None and all_amounts:
        gaps.append(abs(sum(all_amounts) - total_billed) / max(abs(total_billed), 1.0))
    return max(gaps) if gaps else None


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
    """How many documents name a different patient than the claim does (name, DOB, member id)."""
    out: dict[str, float | None] = {}
    checks = (
        ("identity_name_mismatch", "patient_name"),
        ("identity_dob_mismatch", "patient_dob"),
        ("identity_member_mismatch", "member_id"),
    )
    for feature, name in checks:
        values: list[object] = [
            v for v in (_value(doc.fields.get(name)) for doc in claim.documents) if v is not None
        ]
        claim_value = getattr(claim.fields, name).value
        if claim_value is not None:
            values.append(claim_value)
        normalised = [_identity_key(name, v) for v in values]
        normalised = [v for v in normalised if v]
        if len(normalised) < 2:
            out[feature] = None
            continue
        counts: dict[object, int] = defaultdict(int)
        for v in normalised:
            counts[v] += 1
        out[feature] = float(len(normalised) - max(counts.values()))
    return out


def _identity_key(name: str, value: object) -> object:
    text = str(value).strip()
    if name == "patient_name":
        tokens = normalize_name(text)
        return tokens or None
    if name == "patient_dob":
        return parse_iso_date(text)
    return "".join(c for c in text.upper() if c.isalnum()) or None


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
    values: dict[str, float | None] = dict(
        **_duplicates(claim, history),
        **_prices(claim),
        total_mismatch_rel=_total_mismatch(claim),
        **_dates(claim),
        **_identity(claim),
        **_diagnoses(claim),
        **_frequency(claim, history),
        read_problem_flags=float(sum(f.code in READ_PROBLEM_FLAGS for f in claim.flags)),
        low_confidence_flags=float(sum(f.code in LOW_CONFIDENCE_FLAGS for f in claim.flags)),
        n_line_items=float(len(claim.line_items)),
        total_billed_log=math.log1p(max(total, 0.0)) if total is not None else None,
    )
    return FraudFeatures.model_validate(values)
