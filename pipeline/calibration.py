"""Value calibration: make an emitted confidence of 0.95 mean "right 95 % of the time".

Extraction scores each value from its evidence (OCR confidence, how it was found, whether
it validated). That score orders values well but its scale is arbitrary. This module maps
it, per kind of value and per way the page was read, through an isotonic curve fitted on
a held-out synthetic run whose truth is known (`python -m pipeline.calibration`).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from pipeline.errors import ConfigError, ModelNotFoundError

__all__ = [
    "ValueKind",
    "Curve",
    "ValueCalibrator",
    "group_key",
    "fit_value_calibrator",
    "load_value_calibrator",
    "CALIBRATOR_FILE",
]

CALIBRATOR_FILE = "value_calibrator.json"
ValueKind = Literal["field", "diagnosis", "line_item"]
_MIN_GROUP = 40  # fewer outcomes than this: the group uses the pooled curve of its kind
_CEILING = 0.995  # no synthetic run proves more than this


def group_key(kind: str, reader: str) -> str:
    """`field:ocr`, `line_item:text_layer` … (reader "none" counts as OCR: it was a scan)."""
    return f"{kind}:{'text_layer' if reader == 'text_layer' else 'ocr'}"


class Curve(BaseModel):
    """A monotone piecewise-linear map from raw score to probability."""

    model_config = ConfigDict(extra="forbid")

    x: list[float]
    y: list[float]
    samples: int = Field(ge=0)

    def __call__(self, raw: float) -> float:
        return float(np.interp(raw, self.x, self.y))


class ValueCalibrator(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    fitted_at: str
    corpus: str
    curves: dict[str, Curve]
    metrics: dict[str, float] = Field(default_factory=dict)

    def calibrate(self, kind: str, reader: str, raw: float) -> float:
        curve = self.curves.get(group_key(kind, reader)) or self.curves.get(f"{kind}:*")
        if curve is None:
            return raw
        return round(min(_CEILING, max(0.0, curve(raw))), 4)


def _fit_curve(raw: np.ndarray, correct: np.ndarray) -> Curve:
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
    model.fit(raw, correct)
    return Curve(
        x=[float(v) for v in model.X_thresholds_],
        y=[float(v) for v in model.y_thresholds_],
        samples=int(len(raw)),
    )


def fit_value_calibrator(
    outcomes: Iterable[tuple[str, str, float, bool]], corpus: str
) -> ValueCalibrator:
    """Fit from (kind, reader, raw confidence, correct) tuples."""
    groups: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for kind, reader, raw, correct in outcomes:
        groups[group_key(kind, reader)].append((raw, correct))
        groups[f"{kind}:*"].append((raw, correct))
    curves: dict[str, Curve] = {}
    for key, values in sorted(groups.items()):
        if len(values) < _MIN_GROUP:
            continue
        scores = np.asarray([v for v, _ in values], dtype=float)
        right = np.asarray([float(c) for _, c in values], dtype=float)
        if len(set(right.tolist())) < 2:
            # All right (or all wrong): no curve to fit; the rule of succession says how sure.
            share = (float(right.sum()) + 1.0) / (len(right) + 2.0)
            curves[key] = Curve(x=[0.0, 1.0], y=[share, share], samples=len(values))
            continue
        curves[key] = _fit_curve(scores, right)
    if not curves:
        raise ConfigError(
            "not enough matched values to fit the calibrator "
            f"(need {_MIN_GROUP} per group with right and wrong values)"
        )
    now = datetime.now(UTC)
    return ValueCalibrator(
        version=now.strftime("%Y.%m.%d"),
        fitted_at=now.isoformat(timespec="seconds"),
        corpus=corpus,
        curves=curves,
    )


def load_value_calibrator(path: Path) -> ValueCalibrator:
    if not path.is_file():
        raise ModelNotFoundError(f"value calibrator {path} not found; run `make models`")
    return ValueCalibrator.model_validate_json(path.read_text())


def _outcomes_from_run(out: Path, truth_dir: Path) -> list[tuple[str, str, float, bool]]:
    """Match a run's values to truth; the page reader comes from each value's source."""
    from pipeline.eval.score import compare_claim
    from pipeline.schema import Claim
    from pipeline.truth import Truth

    truths = {
        t.packet: t
        for t in (Truth.model_validate_json(p.read_text()) for p in truth_dir.glob("*.json"))
    }
    kinds = {"document_field": "field", "diagnosis": "diagnosis", "line_item": "line_item"}
    tuples: list[tuple[str, str, float, bool]] = []
    for path in sorted((out / "claims").glob("*.json")):
        claim = Claim.model_validate_json(path.read_text())
        truth = truths.get(claim.packet.source)
        if truth is None:
            continue
        for outcome in compare_claim(claim, truth).outcomes:
            kind = kinds.get(outcome.kind)
            if kind is None or outcome.profile == "mixed":
                continue
            reader = "text_layer" if outcome.profile == "digital" else "ocr"
            tuples.append((kind, reader, outcome.confidence, outcome.correct))
    return tuples


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="fit the value calibrator from a run made with calibration switched off"
    )
    parser.add_argument("--out", type=Path, required=True, help="OUT of a run with raw confidences")
    parser.add_argument("--truth", type=Path, required=True)
    parser.add_argument("--models", type=Path, default=Path("models"))
    args = parser.parse_args(argv)
    tuples = _outcomes_from_run(args.out, args.truth)
    calibrator = fit_value_calibrator(tuples, corpus=str(args.truth.parent.name))
    right = sum(1 for *_, c in tuples if c)
    calibrator.metrics = {"values": float(len(tuples)), "right_share": right / max(1, len(tuples))}
    args.models.mkdir(parents=True, exist_ok=True)
    (args.models / CALIBRATOR_FILE).write_text(calibrator.model_dump_json(indent=2) + "\n")
    print(json.dumps({k: c.samples for k, c in calibrator.curves.items()}, indent=2))


if __name__ == "__main__":
    main()
