from __future__ import annotations

import random

import pytest

from pipeline.calibration import (
    ValueCalibrator,
    fit_value_calibrator,
    group_key,
    load_value_calibrator,
)
from pipeline.errors import ConfigError, ModelNotFoundError


def _outcomes(seed: int, n: int = 4000) -> list[tuple[str, str, float, bool]]:
    """Raw scores that overstate: a value scored r is right with probability r**3."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        raw = rng.random()
        rows.append(("field", "ocr", raw, rng.random() < raw**3))
    return rows


def test_calibration_maps_overconfident_scores_to_observed_rates():
    calibrator = fit_value_calibrator(_outcomes(1), corpus="test")
    for raw in (0.5, 0.8, 0.95):
        assert calibrator.calibrate("field", "ocr", raw) == pytest.approx(raw**3, abs=0.07)
    # Held-out: among values it calls >= 0.9, about that share is right.
    held = _outcomes(2)
    sure = [
        (c, ok) for _, _, raw, ok in held if (c := calibrator.calibrate("field", "ocr", raw)) >= 0.9
    ]
    assert sure and sum(ok for _, ok in sure) / len(sure) >= 0.85


def test_calibration_all_right_group_gets_a_high_constant_and_other_groups_fall_back():
    rows = [("line_item", "text_layer", 0.7, True)] * 100 + _outcomes(3, 200)
    calibrator = fit_value_calibrator(rows, corpus="test")
    assert calibrator.calibrate("line_item", "text_layer", 0.1) == pytest.approx(
        101 / 102, abs=1e-3
    )
    assert "diagnosis:ocr" not in calibrator.curves
    assert calibrator.calibrate("diagnosis", "ocr", 0.42) == 0.42  # no data: the raw score stays


def test_calibration_round_trip_and_errors(tmp_path):
    calibrator = fit_value_calibrator(_outcomes(4, 500), corpus="test")
    path = tmp_path / "cal.json"
    path.write_text(calibrator.model_dump_json())
    assert load_value_calibrator(path) == calibrator
    with pytest.raises(ModelNotFoundError):
        load_value_calibrator(tmp_path / "missing.json")
    with pytest.raises(ConfigError):
        fit_value_calibrator([("field", "ocr", 0.5, True)], corpus="tiny")
    assert group_key("field", "none") == "field:ocr"
    assert isinstance(calibrator, ValueCalibrator)


def test_calibration_keeps_a_value_that_failed_its_check_doubtful():
    """A curve fitted on values that nearly all pass their checks maps every raw score high;
    an NPI failing its check digit stays at FAILED_CHECK_CONFIDENCE for an adjuster."""
    from pipeline.document import Line, Page, Word
    from pipeline.extract import build_nlp, extract_document
    from pipeline.extract.fields import FAILED_CHECK_CONFIDENCE
    from pipeline.process import calibrate_extraction

    calibrator = fit_value_calibrator([("field", "text_layer", 0.2, True)] * 50, corpus="test")

    def page(text: str) -> Page:
        words, x = [], 0.05
        for token in text.split():
            words.append(Word(text=token, confidence=0.99, bbox=(x, 0.1, x + 0.1, 0.12)))
            x += 0.12
        return Page(file="p.pdf", page=1, width=612, height=792, reader="text_layer",
                    lines=[Line.from_words(words)])  # fmt: skip

    nlp = build_nlp("en")
    for text, doubtful in (("NPI: 1467582931", True), ("NPI: 1598765430", False)):
        pages = [page(text)]
        calibrated = calibrate_extraction(
            extract_document("invoice", pages, nlp), pages, calibrator
        )
        confidence = calibrated.fields["provider_npi"].confidence
        assert (confidence <= FAILED_CHECK_CONFIDENCE) is doubtful, (text, confidence)
