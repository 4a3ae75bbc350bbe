"""The fraud estimator: gradient boosting wrapped in calibration, following the sklearn contract.

`predict_proba` is a calibrated probability (isotonic or sigmoid over cross-validated
folds), so a score of 0.8 means about 80 % of such claims were fraud in training.
`explain` names the features that moved this claim's score, by putting one feature at a
time back to its training median and measuring how far the probability falls.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import ThreadpoolController

from pipeline.errors import ConfigError, NotFittedError
from pipeline.fraud.features import CONTEXT_FEATURES, FEATURE_NAMES, FraudFeatures
from pipeline.schema import FraudReason

__all__ = ["FraudModel", "REASON_TEXT", "CALIBRATION_METHODS"]

CALIBRATION_METHODS = ("isotonic", "sigmoid")

SINGLE_THREAD_ROWS = 256
"""Up to this many rows (a claim and its explanation trials) are predicted on one OpenMP
thread: the gradient-boosting predictor starts its threads once per tree, and for a few rows
that costs far more than it saves (330 ms against 7 ms a claim on a busy two-core machine
without OMP_THREAD_LIMIT). The batch's parallelism is across packets, not inside a claim."""


@functools.cache
def _threadpools() -> ThreadpoolController:
    """The process's thread pools, found once: finding them costs more than a prediction."""
    return ThreadpoolController()


REASON_TEXT: dict[str, tuple[str, str]] = {
    "dup_invoice_number_seen": (
        "DUPLICATE_INVOICE",
        "same provider and invoice number seen on {value:.0f} earlier claim(s)",
    ),
    "dup_fingerprint_seen": (
        "DUPLICATE_INVOICE",
        "an invoice with the same provider, date and amounts is on {value:.0f} earlier claim(s)",
    ),
    "dup_document_hash_seen": (
        "DUPLICATE_PACKET",
        "identical packet bytes submitted on {value:.0f} earlier claim(s)",
    ),
    "dup_invoice_within_claim": (
        "DUPLICATE_INVOICE",
        "{value:.0f} invoice(s) appear twice in this packet",
    ),
    "dup_patient_service_day_seen": (
        "DUPLICATE_SERVICE",
        "{value:.0f} earlier claim(s) for the same patient and the same first day of service",
    ),
    "dup_any_seen": (
        "DUPLICATE_CLAIM",
        "{value:.0f} earlier claim(s) match this one by invoice, amounts, file or patient and day",
    ),
    "price_ratio_max": (
        "PRICE_ABOVE_REFERENCE",
        "highest unit price is {value:.1f}x the reference fee",
    ),
    "price_ratio_mean": (
        "PRICE_ABOVE_REFERENCE",
        "unit prices average {value:.1f}x the reference fee",
    ),
    "price_ratio_spread": (
        "PRICE_OUTLIER_LINE",
        "one line is priced {value:.1f}x the bill's median price ratio",
    ),
    "charge_ratio_max": (
        "PRICE_ABOVE_TYPICAL_CHARGE",
        "highest unit price is {value:.1f}x the typical billed charge for its code",
    ),
    "total_mismatch_rel": (
        "TOTAL_MISMATCH",
        "line items and printed total differ by {value:.1%} of the total",
    ),
    "total_mismatch_abs": (
        "TOTAL_MISMATCH",
        "line items and printed total differ by {value:.2f}",
    ),
    "days_service_before_policy": (
        "SERVICE_BEFORE_POLICY",
        "service began {value:.0f} day(s) before the policy effective date",
    ),
    "days_service_after_invoice": (
        "SERVICE_AFTER_INVOICE",
        "service dated {value:.0f} day(s) after the invoice date",
    ),
    "identity_name_mismatch": (
        "IDENTITY_MISMATCH",
        "{value:.0f} document(s) name a different patient",
    ),
    "identity_dob_mismatch": (
        "IDENTITY_MISMATCH",
        "{value:.0f} document(s) give a different date of birth",
    ),
    "identity_member_mismatch": (
        "IDENTITY_MISMATCH",
        "{value:.0f} document(s) give a different member id",
    ),
    "identity_mismatch_confidence": (
        "IDENTITY_MISMATCH",
        "documents disagree on who the patient is (both readings {value:.0%} sure)",
    ),
    "units_ratio_max": (
        "IMPLAUSIBLE_UNITS",
        "units billed for one code on one day are {value:.1f}x the plausible daily limit",
    ),
    "dx_sex_implausible": (
        "DIAGNOSIS_IMPLAUSIBLE",
        "{value:.0f} diagnosis code(s) do not fit the patient's stated sex",
    ),
    "dx_sex_conflict": (
        "DIAGNOSIS_IMPLAUSIBLE",
        "diagnoses specific to both sexes on one claim",
    ),
    "dx_age_implausible": (
        "DIAGNOSIS_IMPLAUSIBLE",
        "{value:.0f} diagnosis code(s) do not fit the patient's age",
    ),
    "patient_claims_30d": (
        "FREQUENT_PATIENT",
        "{value:.0f} other claim(s) for this patient within 30 days",
    ),
    "patient_claims_90d": (
        "FREQUENT_PATIENT",
        "{value:.0f} other claim(s) for this patient within 90 days",
    ),
    "provider_claims_30d": (
        "FREQUENT_PROVIDER",
        "{value:.0f} other claim(s) from this provider within 30 days",
    ),
    "provider_claims_90d": (
        "FREQUENT_PROVIDER",
        "{value:.0f} other claim(s) from this provider within 90 days",
    ),
    "read_problem_flags": ("READ_PROBLEM", "{value:.0f} page(s) with reading problems"),
    "low_confidence_flags": ("LOW_CONFIDENCE", "{value:.0f} low-confidence value(s)"),
    "line_arithmetic_errors": (
        "READ_PROBLEM",
        "{value:.0f} line(s) whose quantity x price is not their amount (misread?)",
    ),
    "line_confidence_mean": ("LOW_CONFIDENCE", "line items read with {value:.0%} confidence"),
    "field_confidence_mean": ("LOW_CONFIDENCE", "document values read with {value:.0%} confidence"),
    "total_confidence": ("LOW_CONFIDENCE", "invoice total read with {value:.0%} confidence"),
    "n_line_items": ("LINE_ITEM_COUNT", "{value:.0f} line item(s)"),
    "total_billed_log": ("AMOUNT_BILLED", "billed amount unusual for the training data"),
}


class FraudModel(ClassifierMixin, BaseEstimator):
    """Calibrated fraud probability over `FraudFeatures.to_vector()` rows."""

    def __init__(
        self,
        max_iter: int = 200,
        learning_rate: float = 0.08,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 5,
        l2_regularization: float = 0.1,
        calibration: str = "isotonic",
        cv: int = 3,
        random_state: int = 0,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.calibration = calibration
        self.cv = cv
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: ArrayLike) -> FraudModel:
        if self.calibration not in CALIBRATION_METHODS:
            raise ConfigError(
                f"calibration must be one of {CALIBRATION_METHODS}, got {self.calibration!r}"
            )
        features = np.asarray(X, dtype=float)
        labels = np.asarray(y, dtype=int)
        if features.ndim != 2 or features.shape[0] != labels.shape[0]:
            raise ValueError(
                f"X must be 2-D with one row per label, got X{features.shape} and y{labels.shape}"
            )
        classes = np.unique(labels)
        if not np.array_equal(classes, [0, 1]):
            raise ValueError(f"y must hold both labels 0 and 1, got {classes.tolist()}")
        booster = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            random_state=self.random_state,
        )
        self.calibrated_ = CalibratedClassifierCV(booster, method=self.calibration, cv=self.cv)
        self.calibrated_.fit(features, labels)
        self.classes_ = classes
        self.n_features_in_ = features.shape[1]
        self.medians_ = np.array(
            [
                float(np.nanmedian(col)) if np.any(~np.isnan(col)) else float("nan")
                for col in features.T
            ]
        )
        return self

    def _check(self, X: ArrayLike) -> NDArray[np.float64]:
        if not hasattr(self, "calibrated_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet; call fit(X, y) before predicting"
            )
        features = np.asarray(X, dtype=float)
        if features.ndim != 2 or features.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X must have {self.n_features_in_} columns, got shape {features.shape}"
            )
        return features

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        features = self._check(X)
        if len(features) > SINGLE_THREAD_ROWS:
            return np.asarray(self.calibrated_.predict_proba(features), dtype=float)
        with _threadpools().limit(limits=1, user_api="openmp"):
            return np.asarray(self.calibrated_.predict_proba(features), dtype=float)

    def predict(self, X: ArrayLike) -> NDArray[np.int64]:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def explain(
        self,
        features: FraudFeatures,
        top: int = 5,
        min_weight: float = 0.01,
        score: float | None = None,
    ) -> list[FraudReason]:
        """The signals that raised this claim's score most, strongest first, with readable detail.

        `score`: the claim's `predict_proba` score when the caller has it (scoring a claim
        computes it just before); otherwise it is predicted here.

        Only what is wrong with the claim is a reason: a signal feature (every one of which
        grows with suspicion) above its training median. Context features (how well the claim
        was read, how big it is) weigh the signals but are not reasons themselves: "read with
        94 % confidence" tells an analyst nothing to investigate.
        """
        return self._explain(features, top, min_weight, score)[1]

    def score_and_explain(
        self, features: FraudFeatures, top: int = 5, min_weight: float = 0.01
    ) -> tuple[float, list[FraudReason]]:
        """The claim's score and its reasons (`explain`) from one `predict_proba` call."""
        return self._explain(features, top, min_weight, None)

    def _explain(
        self, features: FraudFeatures, top: int, min_weight: float, score: float | None
    ) -> tuple[float, list[FraudReason]]:
        row = np.asarray([features.to_vector()], dtype=float)
        eligible = [
            index
            for index, name in enumerate(FEATURE_NAMES)
            if name not in CONTEXT_FEATURES and row[0, index] > self.medians_[index]
        ]
        trials = np.repeat(row, len(eligible), axis=0)
        for trial, index in enumerate(eligible):
            trials[trial, index] = self.medians_[index]
        if score is None:
            # the claim and its trials in one call: each call costs ~6 ms of fixed overhead
            probabilities = self.predict_proba(np.vstack([row, trials]))[:, 1]
            base, drops = float(probabilities[0]), float(probabilities[0]) - probabilities[1:]
        else:
            base = score
            drops = base - self.predict_proba(trials)[:, 1] if eligible else np.empty(0)
        reasons: list[FraudReason] = []
        for trial in np.argsort(-drops):
            weight = float(drops[trial])
            if weight < min_weight or len(reasons) >= top:
                break
            name = FEATURE_NAMES[eligible[trial]]
            value = row[0, eligible[trial]]
            code, template = REASON_TEXT[name]
            reasons.append(
                FraudReason(code=code, detail=template.format(value=value), weight=round(weight, 4))
            )
        return base, reasons

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
