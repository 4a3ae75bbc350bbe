"""Ranking and calibration metrics over plain lists, so they can be tested on tiny cases."""

from __future__ import annotations

import math

from pipeline.eval.report import CalibrationBin, CalibrationScores, FraudScores, ValueOutcome

__all__ = ["fraud_scores", "calibration_scores"]

HIGH_CONFIDENCE = 0.9


def fraud_scores(scores: list[float | None], labels: list[int]) -> FraudScores:
    """ROC-AUC, PR-AUC (average precision) and precision in the top 10 % of scores.

    Claims without a score are left out and counted; with no scored claim or only one
    class among the scored, the ranking metrics are n/a and `note` says why.
    """
    pairs = [(s, y) for s, y in zip(scores, labels, strict=True) if s is not None]
    result = FraudScores(
        scored=len(pairs),
        unscored=len(scores) - len(pairs),
        positives=sum(y for _, y in pairs),
    )
    if not pairs:
        result.note = "n/a: no claim has a fraud score"
        return result
    ranked = sorted(pairs, key=lambda p: -p[0])
    top = ranked[: max(1, math.ceil(0.1 * len(ranked)))]
    result.precision_top10 = sum(y for _, y in top) / len(top)
    if result.positives in (0, len(pairs)):
        result.note = "n/a: ROC-AUC and PR-AUC need both fraud and non-fraud claims"
        return result
    from sklearn.metrics import average_precision_score, roc_auc_score

    y_true = [y for _, y in pairs]
    y_score = [s for s, _ in pairs]
    result.roc_auc = float(roc_auc_score(y_true, y_score))
    result.pr_auc = float(average_precision_score(y_true, y_score))
    return result


def calibration_scores(outcomes: list[ValueOutcome], bins: int = 10) -> CalibrationScores:
    """Error rate above 0.9 confidence and expected calibration error over equal-width bins."""
    result = CalibrationScores(count=len(outcomes))
    if not outcomes:
        return result
    high = [o for o in outcomes if o.confidence >= HIGH_CONFIDENCE]
    result.high_confidence_count = len(high)
    if high:
        result.high_confidence_error_rate = sum(not o.correct for o in high) / len(high)
    ece = 0.0
    for index in range(bins):
        lower, upper = index / bins, (index + 1) / bins
        members = [
            o
            for o in outcomes
            if lower <= o.confidence < upper or (index == bins - 1 and o.confidence >= upper)
        ]
        if members:
            confidence = sum(o.confidence for o in members) / len(members)
            accuracy = sum(o.correct for o in members) / len(members)
            ece += len(members) / len(outcomes) * abs(accuracy - confidence)
        else:
            confidence = accuracy = None  # type: ignore[assignment]
        result.bins.append(
            CalibrationBin(
                lower=lower,
                upper=upper,
                count=len(members),
                mean_confidence=confidence,
                accuracy=accuracy,
            )
        )
    result.ece = ece
    return result
