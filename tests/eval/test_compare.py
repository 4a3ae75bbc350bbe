"""values_equal: the normalisation every field metric rests on."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.eval import values_equal
from pipeline.eval.metrics import calibration_scores, fraud_scores
from pipeline.eval.report import ValueOutcome


@given(st.text(min_size=1).filter(lambda s: s.strip()))
def test_compare_value_equals_itself_with_any_case(text):
    assert values_equal("member_id", text, text)
    assert values_equal("member_id", f"  {text.upper()} ", text.upper())


@given(st.floats(min_value=0, max_value=1e7, allow_nan=False), st.floats(-0.004, 0.004))
def test_compare_money_within_half_a_cent(amount, delta):
    assert values_equal("total_billed", round(amount, 2) + delta, round(amount, 2))
    assert not values_equal("total_billed", round(amount, 2) + 0.02, round(amount, 2))


def test_compare_nulls_and_kinds():
    assert values_equal("member_id", None, None)
    assert values_equal("member_id", "", None)
    assert not values_equal("member_id", "A1", None)
    assert not values_equal("member_id", None, "A1")
    assert values_equal("patient_name", "o'brien, j.", "O'Brien J")
    assert not values_equal("member_id", "A.1", "A1")  # punctuation only ignored in names
    # a name printed family name first is the same name turned round, not another one
    assert values_equal("patient_name", "DENISE M HOLLOWAY", "HOLLOWAY, DENISE M")
    assert values_equal("patient_name", "Holloway, Denise M.", "Denise M Holloway")
    assert not values_equal("patient_name", "DENISE M HOLLOWAY", "HOLLOWAY, DENISE")
    assert not values_equal("physician_name", "MD Helena Voss", "Helena Voss, MD")
    assert values_equal("total", "$1,234.50", 1234.5)
    assert not values_equal("total", "twelve", 12.0)
    assert not values_equal("invoice_date", "2026-03-02 ", "2026-03-20")
    assert values_equal("invoice_date", "2026-03-02", "2026-03-02")


def _outcome(confidence: float, correct: bool) -> ValueOutcome:
    return ValueOutcome(
        kind="claim_field", name="x", confidence=confidence, correct=correct, profile="digital"
    )


def test_compare_calibration_hand_values():
    outcomes = [_outcome(0.95, True), _outcome(0.95, False), _outcome(0.25, False)]
    scores = calibration_scores(outcomes)
    assert scores.count == 3 and scores.high_confidence_count == 2
    assert scores.high_confidence_error_rate == 0.5
    # bin 0.9-1.0: conf 0.95, acc 0.5 -> 2/3 * 0.45; bin 0.2-0.3: conf 0.25, acc 0 -> 1/3 * 0.25
    assert abs(scores.ece - (2 / 3 * 0.45 + 1 / 3 * 0.25)) < 1e-9
    assert calibration_scores([]).ece is None


def test_compare_fraud_hand_values():
    scores = [0.9, 0.8, 0.3, 0.1, None]
    labels = [1, 0, 1, 0, 1]
    result = fraud_scores(scores, labels)
    assert result.scored == 4 and result.unscored == 1 and result.positives == 2
    assert result.roc_auc == 0.75
    assert result.precision_top10 == 1.0  # top 1 of 4 is the 0.9 fraud
    assert abs(result.pr_auc - (0.5 * 1.0 + 0.5 * 2 / 3)) < 1e-9
