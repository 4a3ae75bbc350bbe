"""FraudModel follows the scikit-learn estimator contract and explains its scores."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from pipeline.errors import NotFittedError
from pipeline.fraud.features import FEATURE_NAMES, compute_features
from pipeline.fraud.history import InMemoryClaimHistory
from pipeline.fraud.model import FraudModel
from tests.fraud.conftest import make_claim


def _data(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows of claims: fraud ones have a high charge ratio, some features missing (NaN)."""
    rng = np.random.default_rng(seed)
    history = InMemoryClaimHistory()
    rows, labels = [], []
    for i in range(n):
        fraud = i % 4 == 0
        price = 135.0 * (rng.uniform(4, 8) if fraud else rng.uniform(0.8, 1.2))
        claim = make_claim(
            f"m{i}", invoice_number=f"N{i}", npi=f"{1000000000 + i}", unit_price=price
        )
        rows.append(compute_features(claim, history).to_vector())
        labels.append(int(fraud))
    return np.asarray(rows), np.asarray(labels)


def test_model_fit_returns_self_and_probabilities_are_calibrated_shape() -> None:
    X, y = _data()
    model = FraudModel(max_iter=30)
    assert model.fit(X, y) is model
    proba = model.predict_proba(X)
    assert proba.shape == (len(y), 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert proba[y == 1, 1].mean() > 0.8 > proba[y == 0, 1].mean()
    assert set(model.predict(X)) <= {0, 1}


def test_model_unfitted_predict_raises_not_fitted() -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        FraudModel().predict_proba(np.zeros((1, len(FEATURE_NAMES))))


def test_model_clone_and_params_round_trip() -> None:
    model = FraudModel(max_iter=17, calibration="sigmoid")
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    assert twin is not model
    twin.set_params(max_iter=5)
    assert twin.max_iter == 5 and model.max_iter == 17
    assert not hasattr(clone(FraudModel().fit(*_data(80))), "calibrated_")


def test_model_rejects_unknown_calibration_naming_options() -> None:
    with pytest.raises(ValueError, match="isotonic"):
        FraudModel(calibration="platt").fit(*_data(80))


def test_model_explain_names_the_driving_feature_without_patient_values() -> None:
    X, y = _data()
    model = FraudModel(max_iter=30).fit(X, y)
    claim = make_claim("x", invoice_number="X1", unit_price=135.0 * 7)
    reasons = model.explain(compute_features(claim, InMemoryClaimHistory()))
    assert reasons, "an inflated claim must have at least one reason"
    assert reasons[0].code.startswith("PRICE_")
    assert all(r.weight > 0 for r in reasons)
    assert not any("Smith" in r.detail or "1980" in r.detail for r in reasons)


def test_model_explain_with_the_score_given_is_the_same() -> None:
    X, y = _data()
    model = FraudModel(max_iter=30).fit(X, y)
    features = compute_features(
        make_claim("x", invoice_number="X1", unit_price=135.0 * 7), InMemoryClaimHistory()
    )
    score = float(model.predict_proba([features.to_vector()])[0, 1])
    assert model.explain(features, score=score) == model.explain(features)


def test_model_score_and_explain_agree_with_predict_and_explain() -> None:
    X, y = _data()
    model = FraudModel(max_iter=30).fit(X, y)
    for claim in (make_claim("x", invoice_number="X1", unit_price=135.0 * 7), make_claim("y")):
        features = compute_features(claim, InMemoryClaimHistory())
        score, reasons = model.score_and_explain(features)
        assert score == pytest.approx(float(model.predict_proba([features.to_vector()])[0, 1]))
        assert reasons == model.explain(features)
