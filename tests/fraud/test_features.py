"""Each fraud feature on a hand-built claim, clean versus spoiled."""

from __future__ import annotations

import math

from pipeline.fraud.features import FEATURE_NAMES, FraudFeatures, compute_features, patient_sex
from pipeline.fraud.history import InMemoryClaimHistory
from tests.fraud.conftest import make_claim


def _features(claim, history=None) -> FraudFeatures:
    return compute_features(claim, history or InMemoryClaimHistory())


def test_features_clean_claim_has_no_signals() -> None:
    feats = _features(make_claim(sex="F"))
    assert feats.dup_invoice_number_seen == 0
    assert feats.total_mismatch_rel == 0
    assert feats.days_service_before_policy == 0
    assert feats.identity_name_mismatch == 0 and feats.identity_dob_mismatch == 0
    assert feats.units_ratio_max == 1
    assert feats.dx_sex_implausible == 0 and feats.dx_age_implausible == 0
    assert feats.charge_ratio_max is not None and 0.9 < feats.charge_ratio_max < 1.1


def test_features_duplicate_invoice_seen_in_history() -> None:
    history = InMemoryClaimHistory([make_claim("first")])
    again = _features(make_claim("second"), history)
    assert again.dup_invoice_number_seen == 1
    assert again.dup_fingerprint_seen == 1
    other = _features(make_claim("third", invoice_number="INV-2", unit_price=99.0), history)
    assert other.dup_invoice_number_seen == 0 and other.dup_fingerprint_seen == 0


def test_features_duplicate_found_by_fingerprint_when_number_is_misread() -> None:
    history = InMemoryClaimHistory([make_claim("first")])
    feats = _features(make_claim("second", invoice_number="INV-1007"), history)
    assert feats.dup_invoice_number_seen == 0
    assert feats.dup_fingerprint_seen == 1


def test_features_history_never_counts_the_claim_itself() -> None:
    claim = make_claim("same")
    feats = _features(claim, InMemoryClaimHistory([claim]))
    assert feats.dup_invoice_number_seen == 0 and feats.dup_document_hash_seen == 0
    assert feats.patient_claims_30d == 0


def test_features_inflated_price_against_reference_fee() -> None:
    feats = _features(make_claim(unit_price=135.0 * 6))
    assert feats.charge_ratio_max is not None and feats.charge_ratio_max > 5
    assert feats.price_ratio_max is not None and feats.price_ratio_max > 8  # 99213 fee ~ 91
    # two lines: the median is their mean, so the spread stays below 2
    assert feats.price_ratio_spread is not None and feats.price_ratio_spread > 1.4


def test_features_total_mismatch_relative_difference() -> None:
    feats = _features(make_claim(total=260.0))  # lines sum to 160
    assert feats.total_mismatch_rel is not None
    assert math.isclose(feats.total_mismatch_rel, 100 / 260, rel_tol=1e-6)


def test_features_service_before_policy_and_after_invoice() -> None:
    feats = _features(make_claim(effective="2026-03-12", invoice_date="2026-02-20"))
    assert feats.days_service_before_policy == 10
    assert feats.days_service_after_invoice == 10


def test_features_identity_mismatch_across_documents() -> None:
    assert _features(make_claim(invoice_name="Smith, Mary")).identity_name_mismatch == 0
    feats = _features(make_claim(invoice_name="Maria Gonzalez", invoice_dob="1981-02-03"))
    assert feats.identity_name_mismatch == 1
    assert feats.identity_dob_mismatch == 1


def test_features_implausible_units_per_code_per_day() -> None:
    feats = _features(make_claim(quantity=24))
    assert feats.units_ratio_max == 24


def test_features_diagnosis_implausible_for_sex_and_age() -> None:
    male_pregnant = _features(make_claim(sex="Male", diagnoses=("J18.9", "O80")))
    assert male_pregnant.dx_sex_implausible == 1
    female_prostate = _features(make_claim(sex="F", diagnoses=("N40.0",)))
    assert female_prostate.dx_sex_implausible == 1
    assert _features(make_claim(sex="F", diagnoses=("O80",))).dx_sex_implausible == 0
    adult_newborn = _features(make_claim(diagnoses=("P22.0",)))
    assert adult_newborn.dx_age_implausible == 1
    old_pregnancy = _features(
        make_claim(dob="1950-01-01", invoice_dob="1950-01-01", diagnoses=("O80",))
    )
    assert old_pregnancy.dx_age_implausible == 1


def test_features_sex_unknown_is_missing_not_guessed() -> None:
    claim = make_claim(diagnoses=("O80", "C61"))
    assert patient_sex(claim) is None
    feats = _features(claim)
    assert feats.dx_sex_implausible is None
    assert feats.dx_sex_conflict == 1


def test_features_frequency_windows_from_history() -> None:
    earlier = [
        make_claim("a", invoice_number="A", service_date="2026-02-25", invoice_date="2026-02-26"),
        make_claim("b", invoice_number="B", service_date="2025-12-20", invoice_date="2025-12-21"),
    ]
    feats = _features(make_claim("c"), InMemoryClaimHistory(earlier))
    assert feats.patient_claims_30d == 1 and feats.patient_claims_90d == 2
    assert feats.provider_claims_30d == 1


def test_features_vector_has_fixed_names_and_nan_for_missing() -> None:
    claim = make_claim()
    vector = _features(claim).to_vector()
    assert len(vector) == len(FEATURE_NAMES)
    assert math.isnan(vector[FEATURE_NAMES.index("dx_sex_implausible")])
