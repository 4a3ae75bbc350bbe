"""Each fraud feature on a hand-built claim, clean versus spoiled."""

from __future__ import annotations

import math

from pipeline.fraud.features import (
    CONTEXT_FEATURES,
    FEATURE_NAMES,
    FraudFeatures,
    compute_features,
    patient_sex,
)
from pipeline.fraud.history import InMemoryClaimHistory
from pipeline.schema import Claim, ExtractedField, Flag, LineItem
from tests.fraud.conftest import make_claim


def _with_lines(claim: Claim, *lines: LineItem) -> Claim:
    return claim.model_copy(update={"line_items": list(lines)})


def _line(code: str, quantity: float | None, unit: float | None, amount: float | None, **kw):
    return LineItem(
        document=1,
        service_date=kw.get("day", "2026-03-02"),
        code=code,
        quantity=quantity,
        unit_price=unit,
        amount=amount,
        confidence=kw.get("confidence", 0.9),
    )


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
    assert again.dup_any_seen == 1  # one earlier claim, however many keys found it
    other = _features(make_claim("third", invoice_number="INV-2", unit_price=99.0), history)
    assert other.dup_invoice_number_seen == 0 and other.dup_fingerprint_seen == 0


def test_features_identifiers_fold_the_letters_ocr_takes_for_digits() -> None:
    history = InMemoryClaimHistory([make_claim("first", invoice_number="INV-5100")])
    again = _features(make_claim("second", invoice_number="inv S1OO"), history)
    assert again.dup_invoice_number_seen == 1
    claim = make_claim(member_id="HDD516721784")
    invoice = claim.documents[1]
    fields = {**invoice.fields, "member_id": ExtractedField(value="HDDS16721784", confidence=0.9)}
    claim = claim.model_copy(
        update={"documents": [claim.documents[0], invoice.model_copy(update={"fields": fields})]}
    )
    assert _features(claim).identity_member_mismatch == 0
    pairs = (
        ("J82662247", "382662247", 0),  # one character misread
        ("V04159026", "04159026", 0),  # one dropped
        ("V04159026", "VW04I59026", 0),  # one added, I for 1
        ("J82662247", "33025", 1),  # another number altogether
    )
    for printed, read, mismatch in pairs:
        docs = [
            d.model_copy(
                update={
                    "fields": {**d.fields, "member_id": ExtractedField(value=v, confidence=0.9)}
                }
            )
            for d, v in zip(claim.documents, (printed, read), strict=True)
        ]
        other = claim.model_copy(update={"documents": docs})
        assert _features(other).identity_member_mismatch == mismatch, read


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
    assert feats.total_mismatch_abs == 100.0


def test_features_missing_total_is_unknown_not_a_mismatch() -> None:
    claim = make_claim()
    invoice = claim.documents[1]
    fields = {**invoice.fields, "total": ExtractedField.missing()}
    claim = claim.model_copy(
        update={
            "documents": [claim.documents[0], invoice.model_copy(update={"fields": fields})],
            "fields": claim.fields.model_copy(update={"total_billed": ExtractedField.missing()}),
        }
    )
    feats = _features(claim)
    assert feats.total_mismatch_rel is None and feats.total_mismatch_abs is None
    assert feats.total_billed_log is None


def test_features_service_before_policy_and_after_invoice() -> None:
    feats = _features(make_claim(effective="2026-03-12", invoice_date="2026-02-20"))
    assert feats.days_service_before_policy == 10
    assert feats.days_service_after_invoice == 10


def test_features_identity_mismatch_across_documents() -> None:
    clean = _features(make_claim(invoice_name="Smith, Mary"))
    assert clean.identity_name_mismatch == 0 and clean.identity_mismatch_confidence == 0
    feats = _features(make_claim(invoice_name="Maria Gonzalez", invoice_dob="1981-02-03"))
    assert feats.identity_name_mismatch == 1
    assert feats.identity_dob_mismatch == 1
    assert feats.identity_mismatch_confidence is not None
    assert math.isclose(feats.identity_mismatch_confidence, 0.95 * 0.95)


def test_features_identity_forgives_an_ocr_slip_but_not_another_name() -> None:
    slip = _features(make_claim(invoice_name="MaryJ. Smlth"))  # joined initial, i read as l
    assert slip.identity_name_mismatch == 0
    other_first = _features(make_claim(invoice_name="Karen J. Smith"))
    assert other_first.identity_name_mismatch == 1
    other_last = _features(make_claim(invoice_name="Mary J. Whitfield"))
    assert other_last.identity_name_mismatch == 1
    close_first = _features(make_claim(invoice_name="Marie J. Smith"))  # Mary is not Marie
    assert close_first.identity_name_mismatch == 1
    run_together = _features(make_claim(invoice_name="MaryJ.Smith"))
    assert run_together.identity_name_mismatch == 0


def test_features_implausible_units_per_code_per_day() -> None:
    feats = _features(make_claim(quantity=24))
    assert feats.units_ratio_max == 24
    assert feats.line_arithmetic_errors == 0


def test_features_room_and_board_units_count_against_the_stay() -> None:
    stay = make_claim()
    stay = stay.model_copy(
        update={
            "fields": stay.fields.model_copy(
                update={"service_date_to": ExtractedField(value="2026-03-07", confidence=0.9)}
            )
        }
    )
    five_nights = _line("0120", 5, 2100.0, 10500.0)  # one line, dated the admission day
    assert _features(_with_lines(stay, five_nights)).units_ratio_max == 1
    assert _features(_with_lines(make_claim(), five_nights)).units_ratio_max == 5  # one-day claim
    assert _features(_with_lines(stay, _line("0120", 9, 2100.0, 18900.0))).units_ratio_max == 9 / 5


def test_features_misread_line_is_not_believed() -> None:
    visit = _line("99213", 1, 135.0, 135.0)
    # "1" read as "31": quantity x price is not the amount, so neither counts
    misread = _line("99213", 31, 135.0, 135.0, day="2026-03-03")
    feats = _features(_with_lines(make_claim(), visit, misread))
    assert feats.units_ratio_max == 1 and feats.line_arithmetic_errors == 1
    assert feats.charge_ratio_max == 1
    # no unit price printed: amount / quantity must be a price the code could carry
    no_price = _line("99213", 7, None, 135.0)
    feats = _features(_with_lines(make_claim(), no_price))
    assert feats.units_ratio_max is None and feats.line_arithmetic_errors == 1
    many_visits = _line("99213", 20, None, 2700.0)  # 20 units at the usual price: believed
    assert _features(_with_lines(make_claim(), many_visits)).units_ratio_max == 20


def test_features_line_and_field_confidence_mean() -> None:
    lines = (_line("99213", 1, 135.0, 135.0, confidence=0.5), _line("85025", 1, 25.0, 25.0))
    assert math.isclose(_features(_with_lines(make_claim(), *lines)).line_confidence_mean, 0.7)
    assert _features(_with_lines(make_claim())).line_confidence_mean is None
    assert math.isclose(_features(make_claim()).field_confidence_mean, 0.95)  # every value 0.95
    assert _features(make_claim()).total_confidence == 0.95


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


def test_features_sex_as_extraction_writes_it_in_any_language() -> None:
    claim = make_claim(sex="M", diagnoses=("O80",)).model_copy(update={"language": "zh"})
    assert patient_sex(claim) == "M"
    assert _features(claim).dx_sex_implausible == 1


def test_features_sex_unknown_is_missing_not_guessed() -> None:
    claim = make_claim(diagnoses=("O80", "C61"))
    assert patient_sex(claim) is None
    feats = _features(claim)
    assert feats.dx_sex_implausible is None
    assert feats.dx_sex_conflict == 1


def test_features_same_patient_same_first_day_seen_before() -> None:
    earlier = make_claim("a", invoice_number="OTHER-9", npi="1245319599", unit_price=99.0)
    feats = _features(make_claim("b"), InMemoryClaimHistory([earlier]))
    assert feats.dup_patient_service_day_seen == 1 and feats.dup_invoice_number_seen == 0
    assert feats.dup_any_seen == 1
    later_day = make_claim("c", service_date="2026-03-09", invoice_date="2026-03-10")
    assert _features(later_day, InMemoryClaimHistory([earlier])).dup_patient_service_day_seen == 0
    assert _features(make_claim("d")).dup_patient_service_day_seen == 0


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
    assert CONTEXT_FEATURES.issubset(FEATURE_NAMES)


def test_features_every_feature_is_documented() -> None:
    from pathlib import Path

    from pipeline.fraud import features

    doc = (Path(features.__file__).parent / "FEATURES.md").read_text(encoding="utf-8")
    # first cell of each table row: "`price_ratio_max` / `price_ratio_mean`", "`x` (context)"
    cells = [line.split("|")[1] for line in doc.splitlines() if line.startswith("| `")]
    for name in FEATURE_NAMES:
        stem = name.rsplit("_", 1)[0] if name.endswith(("_30d", "_90d", "_mean")) else name
        cell = next((c for c in cells if f"`{name}`" in c or f"`{stem}" in c), None)
        assert cell is not None, f"{name} is not documented in FEATURES.md"
        assert ("(context)" in cell) == (name in CONTEXT_FEATURES), f"{name}: context marking"


def test_features_same_packet_bytes_seen_before() -> None:
    earlier = make_claim("a", invoice_number="OTHER-1", service_date="2026-01-02")
    again = make_claim("b").model_copy(
        update={"packet": earlier.packet.model_copy(update={"source": "resent.pdf"})}
    )
    feats = _features(again, InMemoryClaimHistory([earlier]))
    assert feats.dup_document_hash_seen == 1 and feats.dup_any_seen == 1
    assert _features(make_claim("c"), InMemoryClaimHistory([earlier])).dup_document_hash_seen == 0


def test_features_same_invoice_twice_inside_one_claim() -> None:
    claim = make_claim()
    invoice = claim.documents[1]
    twice = claim.model_copy(update={"documents": [*claim.documents, invoice]})
    assert _features(claim).dup_invoice_within_claim == 0
    assert _features(twice).dup_invoice_within_claim >= 1


def test_features_provider_windows_count_only_that_provider() -> None:
    same = make_claim("a", invoice_number="A", service_date="2026-01-10", invoice_date="2026-01-11")
    other = make_claim("b", invoice_number="B", npi="1245319599", member_id="ZZZ999999")
    feats = _features(make_claim("c"), InMemoryClaimHistory([same, other]))
    assert feats.provider_claims_30d == 0 and feats.provider_claims_90d == 1


def test_features_read_quality_flags_and_size_context() -> None:
    clean = _features(make_claim())
    assert clean.read_problem_flags == 0 and clean.low_confidence_flags == 0
    assert clean.n_line_items == 2
    assert clean.total_billed_log is not None and clean.total_billed_log > 0
    assert clean.price_ratio_mean is not None and clean.days_service_after_invoice == 0
    flags = [
        Flag(code="PAGE_READ_PROBLEM", severity="review", message="p.pdf page 1: faint"),
        Flag(code="TEXT_OCR_DISAGREEMENT", severity="review", message="p.pdf page 2"),
        Flag(code="LOW_CONFIDENCE", field="fields.member_id", severity="review", message="low"),
        Flag(code="CLAIM_TYPE_INFERRED", severity="info", message="not counted"),
    ]
    flagged = _features(make_claim().model_copy(update={"flags": flags}))
    assert flagged.read_problem_flags == 2 and flagged.low_confidence_flags == 1
    late = _features(make_claim(service_date="2026-03-09", invoice_date="2026-03-05"))
    assert late.days_service_after_invoice == 4
