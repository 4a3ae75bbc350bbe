"""Confidence of extracted values: a feature vector per value and a calibrator over it.

Until fitted on matched outputs (value right or wrong), the calibrator is a transparent,
monotone hand-weighted score; after `fit` it is a logistic regression saved as plain JSON,
so the claim file's "0.95" can be made to mean 95 % right.
"""

from __future__ import annotations

import json
import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from pipeline.errors import ConfigError, NotFittedError

__all__ = [
    "Method",
    "METHODS",
    "FEATURE_NAMES",
    "ValueEvidence",
    "make_evidence",
    "Calibrator",
]

Method = Literal["label_beside", "label_below", "pattern", "table", "checkbox"]
METHODS: tuple[str, ...] = ("label_beside", "label_below", "pattern", "table", "checkbox")
FEATURE_NAMES: tuple[str, ...] = (
    "ocr_min",
    "ocr_mean",
    "label_match",
    *(f"method_{m}" for m in METHODS),
    "validated",
    "consistent",
    "competitors",
)
# How much each feature moves the default score (log-odds); monotone: more is better,
# except competing candidates for the same field, which lower it.
_DEFAULT_WEIGHTS: dict[str, float] = {
    "ocr_min": 2.0,
    "ocr_mean": 2.0,
    "label_match": 1.5,
    "method_label_beside": 0.8,
    "method_label_below": 0.3,
    "method_pattern": -0.6,
    "method_table": 0.4,
    "method_checkbox": 0.4,
    "validated": 3.0,
    "consistent": 0.8,
    "competitors": -0.7,
}
_DEFAULT_BIAS = -3.0


class ValueEvidence(BaseModel):
    """Why a value was emitted: its features, the raw score and the calibrated confidence."""

    model_config = ConfigDict(extra="forbid")

    method: Method
    label: str | None = Field(default=None, description="the vocabulary label that anchored it")
    features: list[float] = Field(description="in the order of FEATURE_NAMES")
    confidence: float = Field(ge=0.0, le=1.0)


def make_evidence(
    *,
    word_confidences: list[float],
    method: Method,
    label_match: float = 0.0,
    validated: float = 0.5,
    consistent: float = 0.5,
    competitors: int = 0,
) -> list[float]:
    """The feature vector of one value; 0.5 means "not applicable / unknown" for checks."""
    confs = word_confidences or [0.0]
    return [
        min(confs),
        sum(confs) / len(confs),
        label_match,
        *(1.0 if method == m else 0.0 for m in METHODS),
        validated,
        consistent,
        float(min(competitors, 3)),
    ]


def _check(features: np.ndarray) -> np.ndarray:
    arr = np.atleast_2d(np.asarray(features, dtype=float))
    if arr.shape[1] != len(FEATURE_NAMES):
        raise ConfigError(
            f"feature vectors must have {len(FEATURE_NAMES)} values {FEATURE_NAMES}, "
            f"got {arr.shape[1]}"
        )
    return arr


class Calibrator:
    """Maps feature vectors to a probability that the value is right.

    Fitted: logistic regression (sklearn) on (features, correct). Unfitted: the same
    functional form with hand-set weights, so behaviour before and after is comparable.
    """

    def __init__(self, c: float = 1.0) -> None:
        self.c = c

    @property
    def fitted(self) -> bool:
        return hasattr(self, "coef_")

    def fit(
        self, features: list[list[float]] | np.ndarray, correct: list[bool] | np.ndarray
    ) -> Calibrator:
        from sklearn.linear_model import LogisticRegression

        x = _check(np.asarray(features, dtype=float))
        y = np.asarray(correct, dtype=int)
        if len(set(y.tolist())) < 2:
            raise ConfigError(
                f"fitting needs both right and wrong values, got only {sorted(set(y.tolist()))}"
            )
        model = LogisticRegression(C=self.c, max_iter=1000).fit(x, y)
        self.coef_ = model.coef_[0].astype(float)
        self.intercept_ = float(model.intercept_[0])
        return self

    def _weights(self) -> tuple[np.ndarray, float]:
        if self.fitted:
            return self.coef_, self.intercept_
        return np.array([_DEFAULT_WEIGHTS[n] for n in FEATURE_NAMES]), _DEFAULT_BIAS

    def predict_many(self, features: list[list[float]] | np.ndarray) -> np.ndarray:
        x = _check(np.asarray(features, dtype=float))
        w, b = self._weights()
        z = x @ w + b
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    def predict(self, features: list[float]) -> float:
        """The probability for one value, rounded to 4 places for stable output files."""
        z = float(self.predict_many([features])[0])
        return round(min(1.0, max(0.0, z)), 4) if math.isfinite(z) else 0.0

    def to_json(self) -> str:
        if not self.fitted:
            raise NotFittedError("Calibrator.to_json needs a fitted calibrator; call fit first")
        return json.dumps(
            {
                "kind": "logistic",
                "features": list(FEATURE_NAMES),
                "coef": [float(v) for v in self.coef_],
                "intercept": self.intercept_,
                "c": self.c,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Calibrator:
        data = json.loads(text)
        if data.get("features") != list(FEATURE_NAMES):
            raise ConfigError(
                f"calibrator was fitted on features {data.get('features')}, "
                f"this code uses {list(FEATURE_NAMES)}; refit it"
            )
        cal = cls(c=float(data.get("c", 1.0)))
        cal.coef_ = np.asarray(data["coef"], dtype=float)
        cal.intercept_ = float(data["intercept"])
        return cal
