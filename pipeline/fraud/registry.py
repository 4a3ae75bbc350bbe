"""Versioned fraud models under `models/fraud/<version>/`: train, evaluate, promote, score.

A version holds `model.skops` (loaded only through skops with an explicit allow-list of
trusted types, never pickle), `card.json` and `card.md`. `models/fraud/CURRENT` names the
promoted version. Promotion compares candidate and current on the same held-out split and
refuses a candidate that is worse on ROC-AUC unless forced.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sklearn
import skops.io as sio
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import train_test_split

from pipeline.errors import (
    FeatureSetMismatchError,
    LabelsError,
    ModelNotFoundError,
    PromotionRefusedError,
    UntrustedModelError,
)
from pipeline.fraud.features import FEATURE_NAMES, compute_features
from pipeline.fraud.history import ClaimHistory, InMemoryClaimHistory
from pipeline.fraud.model import FraudModel
from pipeline.fraud.reference import Bands, load_bands
from pipeline.schema import Claim, Fraud

__all__ = [
    "DEFAULT_MODELS_DIR",
    "TRUSTED_TYPES",
    "AUC_TOLERANCE",
    "Metrics",
    "ModelCard",
    "Candidate",
    "RegisteredModel",
    "read_labels",
    "read_claims",
    "feature_matrix",
    "compute_metrics",
    "card_markdown",
    "save_model",
    "load_model",
    "current_version",
    "train_candidate",
    "evaluate",
    "read_card",
    "record_evaluation",
    "promote",
    "score_claim",
]

log = logging.getLogger(__name__)

DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[2] / "models" / "fraud"
AUC_TOLERANCE = 0.01
TRUSTED_TYPES: tuple[str, ...] = (
    "pipeline.fraud.model.FraudModel",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.Interval",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.model_selection._split.StratifiedKFold",
)
_ZIP_MAGIC = b"PK\x03\x04"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Metrics(_Strict):
    """Ranking and calibration of fraud scores on one labelled set."""

    n: int
    n_fraud: int
    roc_auc: float | None
    pr_auc: float | None
    precision_at_5pct: float | None
    precision_at_10pct: float | None
    brier: float | None
    ece: float | None


class ModelCard(_Strict):
    version: str
    created: str
    sklearn_version: str
    data_sha256: str = Field(description="sha256 over the sorted (claim_id, label) pairs used")
    features_sha256: str | None = Field(
        default=None,
        description="sha256 over the feature rows in claim-id order (float64): two trainings "
        "on the same labels but other claim files differ here (absent on older cards)",
    )
    training_data: str = Field(description="where the labelled claims came from, in words")
    label_counts: dict[str, int]
    train_size: int
    holdout_size: int
    split_seed: int
    feature_names: list[str]
    params: dict[str, str | int | float]
    metrics: Metrics
    compared_with: str | None = Field(default=None, description="CURRENT version at training time")
    current_metrics: Metrics | None = Field(
        default=None, description="CURRENT on the same hold-out"
    )
    comparison_note: str | None = Field(
        default=None, description="why CURRENT could not be scored on the hold-out"
    )
    external_metrics: dict[str, Metrics] = Field(
        default_factory=dict, description="evaluations on other labelled sets, by name"
    )
    forced_promotions: list[str] = Field(
        default_factory=list,
        description="each time this version was made CURRENT over a refusal: when, over what, why",
    )


@dataclass(frozen=True)
class RegisteredModel:
    """A loaded model with the version and card it was saved with."""

    version: str
    estimator: FraudModel
    card: ModelCard


@dataclass(frozen=True)
class Candidate:
    version: str
    path: Path
    card: ModelCard


# ---------------------------------------------------------------- inputs


def read_labels(paths: list[Path]) -> dict[str, int]:
    """`claim_id,label` CSVs; a later file overrides an earlier one on the same claim_id."""
    labels: dict[str, int] = {}
    for path in paths:
        try:
            with path.open(encoding="utf-8", newline="") as handle:
                reader = csv.DictReader(handle)
                if reader.fieldnames is None or not {"claim_id", "label"} <= set(reader.fieldnames):
                    raise LabelsError(
                        f"{path}: header must hold claim_id,label, got {reader.fieldnames}"
                    )
                for number, row in enumerate(reader, start=2):
                    label = (row["label"] or "").strip()
                    if label not in ("0", "1"):
                        raise LabelsError(
                            f"{path} line {number}: label must be 0 or 1, got {label!r}"
                        )
                    labels[row["claim_id"].strip()] = int(label)
        except OSError as error:
            raise LabelsError(f"cannot read labels file {path}: {error}") from error
    return labels


def _recorded_order(out: Path) -> dict[str, tuple[str, int]]:
    """claim_id -> (batch start, rank in the batch) from `OUT/batches/*/summary.json`.

    The batch flow records claims one batch after another and, inside a batch, in inbox
    order; replaying that order gives every claim the history it was scored against.
    """
    order: dict[str, tuple[str, int]] = {}
    for summary in sorted((out / "batches").glob("*/summary.json")):
        try:
            data = json.loads(summary.read_bytes())
            started = dt.datetime.strptime(summary.parent.name[:15], "%Y%m%dT%H%M%S")
        except (OSError, ValueError):
            log.warning("batch summary %s is unreadable; its claims keep file time order", summary)
            continue
        when = started.replace(tzinfo=dt.UTC).isoformat(timespec="seconds")
        outcomes = [o for o in data.get("outcomes", []) if isinstance(o, dict)]
        for rank, outcome in enumerate(sorted(outcomes, key=lambda o: str(o.get("packet")))):
            claim_id = outcome.get("claim_id")
            if isinstance(claim_id, str) and not outcome.get("skipped"):
                order.setdefault(claim_id, (when, rank))
    return order


def read_claims(claims_dirs: list[Path]) -> list[Claim]:
    """Claims of one or more run outputs (`<OUT>/claims/*.json`), in the order they were recorded.

    That is batch by batch and inbox order inside a batch (the batch summaries say which);
    claims no summary lists (hand-made runs) are placed by `processed_at`, then source.
    """
    claims: dict[str, Claim] = {}
    keys: dict[str, tuple[str, int, str]] = {}
    for out in claims_dirs:
        folder = out / "claims" if (out / "claims").is_dir() else out
        if not folder.is_dir():
            raise LabelsError(f"no claims folder at {out}/claims (expected a run output OUT)")
        recorded = _recorded_order(folder.parent if folder.name == "claims" else out)
        for path in sorted(folder.glob("*.json")):
            try:
                claim = Claim.model_validate_json(path.read_bytes())
            except ValidationError as error:
                raise LabelsError(f"{path} is not a claim file: {error}") from error
            claims[claim.claim_id] = claim
            when, rank = recorded.get(claim.claim_id, (claim.processed_at or "", 0))
            keys[claim.claim_id] = (when, rank, claim.packet.source)
    return sorted(claims.values(), key=lambda c: keys[c.claim_id])


def feature_matrix(claims: list[Claim], history: ClaimHistory | None = None) -> NDArray[np.float64]:
    """Feature rows of `claims`; without a history each sees only the claims before it."""
    rows = []
    running = InMemoryClaimHistory() if history is None else None
    for claim in claims:
        rows.append(compute_features(claim, history or running).to_vector())  # type: ignore[arg-type]
        if running is not None:
            running.add(claim)
    return np.asarray(rows, dtype=float).reshape(len(claims), len(FEATURE_NAMES))


def _labelled(
    labels: list[Path], claims_dirs: list[Path], history: ClaimHistory | None
) -> tuple[list[str], NDArray[np.float64], NDArray[np.int64]]:
    label_map = read_labels(labels)
    claims = read_claims(claims_dirs)
    matrix = feature_matrix(claims, history)
    keep = [i for i, c in enumerate(claims) if c.claim_id in label_map]
    if not keep:
        raise LabelsError(
            f"none of the {len(label_map)} labelled claim_ids is among the {len(claims)} claims read"
        )
    ids = [claims[i].claim_id for i in keep]
    return ids, matrix[keep], np.asarray([label_map[i] for i in ids], dtype=int)


# ---------------------------------------------------------------- metrics


def _precision_at(y: NDArray[np.int64], p: NDArray[np.float64], share: float) -> float | None:
    if len(y) == 0:
        return None
    k = max(1, int(round(len(y) * share)))
    top = np.argsort(-p, kind="stable")[:k]
    return float(y[top].mean())


def _ece(y: NDArray[np.int64], p: NDArray[np.float64], bins: int = 10) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(float(p[mask].mean()) - float(y[mask].mean()))
    return total


def compute_metrics(y: NDArray[np.int64], p: NDArray[np.float64]) -> Metrics:
    both = len(set(y.tolist())) == 2
    return Metrics(
        n=len(y),
        n_fraud=int(y.sum()),
        roc_auc=float(roc_auc_score(y, p)) if both else None,
        pr_auc=float(average_precision_score(y, p)) if both else None,
        precision_at_5pct=_precision_at(y, p, 0.05),
        precision_at_10pct=_precision_at(y, p, 0.10),
        brier=float(brier_score_loss(y, p)) if len(y) else None,
        ece=_ece(y, p) if len(y) else None,
    )


# ---------------------------------------------------------------- storage


def current_version(models_dir: Path = DEFAULT_MODELS_DIR) -> str | None:
    pointer = models_dir / "CURRENT"
    if not pointer.is_file():
        return None
    return pointer.read_text(encoding="utf-8").strip() or None


def _next_version(models_dir: Path) -> str:
    numbers = [
        int(p.name[1:]) for p in models_dir.glob("v*") if p.is_dir() and p.name[1:].isdigit()
    ]
    return f"v{max(numbers, default=0) + 1:03d}"


def card_markdown(card: ModelCard) -> str:
    rows = "\n".join(f"| {name} | {value} |" for name, value in card.metrics.model_dump().items())
    current = (
        f"\nCompared on the same hold-out with `{card.compared_with}`: "
        f"ROC-AUC {card.current_metrics.roc_auc}, PR-AUC {card.current_metrics.pr_auc}.\n"
        if card.current_metrics is not None
        else f"\nCURRENT at training time was `{card.compared_with}`, {card.comparison_note}.\n"
        if card.comparison_note
        else "\nNo promoted model to compare with at training time.\n"
    )
    external = "".join(
        f"\nOn {name}: ROC-AUC {m.roc_auc}, PR-AUC {m.pr_auc}, precision at top 10% "
        f"{m.precision_at_10pct}, at top 5% {m.precision_at_5pct}, Brier {m.brier}, ECE {m.ece} "
        f"({m.n} claims, {m.n_fraud} fraud).\n"
        for name, m in card.external_metrics.items()
    )
    forced = "".join(f"\nPromoted with force: {note}\n" for note in card.forced_promotions)
    return (
        f"# Fraud model {card.version}\n\n"
        f"Created {card.created} with scikit-learn {card.sklearn_version}.\n\n"
        f"## Data\n\n{card.training_data}\n\n"
        f"Labels: {card.label_counts}; train {card.train_size}, hold-out {card.holdout_size} "
        f"(stratified, seed {card.split_seed}); data sha256 `{card.data_sha256}`"
        + (f", features sha256 `{card.features_sha256}`" if card.features_sha256 else "")
        + ".\n\n"
        f"## Hold-out metrics\n\n| metric | value |\n| --- | --- |\n{rows}\n{current}{external}{forced}\n"
        f"## Model\n\nHistGradientBoostingClassifier inside CalibratedClassifierCV; "
        f"params {card.params}.\n\n"
        f"## Features\n\n" + "\n".join(f"- `{n}`" for n in card.feature_names) + "\n\n"
        "See `pipeline/fraud/FEATURES.md`. Scores rank claims for review; they are not a "
        "finding of fraud.\n"
    )


def save_model(estimator: FraudModel, card: ModelCard, models_dir: Path) -> Path:
    folder = models_dir / card.version
    folder.mkdir(parents=True, exist_ok=False)
    sio.dump(estimator, folder / "model.skops")
    (folder / "card.json").write_text(card.model_dump_json(indent=2) + "\n", encoding="utf-8")
    (folder / "card.md").write_text(card_markdown(card), encoding="utf-8")
    return folder


def load_model(
    version: str | None = None, models_dir: Path = DEFAULT_MODELS_DIR
) -> RegisteredModel:
    """Load `version` (default: CURRENT) through skops with the trusted-type allow-list."""
    version = version or current_version(models_dir)
    if version is None:
        raise ModelNotFoundError(
            f"no CURRENT fraud model in {models_dir}; run `claim-intake fraud train` then promote"
        )
    folder = models_dir / version
    path = folder / "model.skops"
    if not path.is_file():
        known = (
            sorted(p.name for p in models_dir.iterdir() if (p / "model.skops").is_file())
            if models_dir.is_dir()
            else []
        )
        raise ModelNotFoundError(
            f"fraud model {version!r} not found in {models_dir}; known: {known}"
        )
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != _ZIP_MAGIC or not zipfile.is_zipfile(path):
        raise UntrustedModelError(
            f"{path} is not a skops file (starts with {magic!r}); refusing to load it"
        )
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError, json.JSONDecodeError) as error:
        raise UntrustedModelError(f"{path} is not a readable skops file: {error}") from error
    unknown = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unknown:
        raise UntrustedModelError(
            f"{path} holds types outside the trusted list: {unknown}; trusted: {list(TRUSTED_TYPES)}"
        )
    estimator = sio.load(path, trusted=list(untrusted))
    if not isinstance(estimator, FraudModel):
        raise UntrustedModelError(f"{path} holds a {type(estimator).__name__}, not a FraudModel")
    try:
        card = ModelCard.model_validate_json((folder / "card.json").read_bytes())
    except (OSError, ValidationError) as error:
        raise ModelNotFoundError(
            f"model card of {version!r} is missing or invalid: {error}"
        ) from error
    if card.feature_names != list(FEATURE_NAMES):
        new = [n for n in FEATURE_NAMES if n not in card.feature_names]
        gone = [n for n in card.feature_names if n not in FEATURE_NAMES]
        raise FeatureSetMismatchError(
            f"model {version!r} was trained on {len(card.feature_names)} features, this code "
            f"computes {len(FEATURE_NAMES)} (new: {new}, no longer computed: {gone}, "
            "or another order); retrain it"
        )
    return RegisteredModel(version=version, estimator=estimator, card=card)


# ---------------------------------------------------------------- the loop


def train_candidate(
    labels: list[Path],
    claims_dirs: list[Path],
    history: ClaimHistory | None = None,
    models_dir: Path = DEFAULT_MODELS_DIR,
    estimator: FraudModel | None = None,
    holdout: float = 0.25,
    split_seed: int = 0,
    training_data: str = "labelled claim files of run outputs",
) -> Candidate:
    """Fit a new version on the labelled claims, score it and CURRENT on one held-out split."""
    ids, X, y = _labelled(labels, claims_dirs, history)
    counts = {"0": int((y == 0).sum()), "1": int((y == 1).sum())}
    if min(counts.values()) < 4:
        raise LabelsError(f"need at least 4 claims of each label to train, got {counts}")
    index = np.arange(len(y))
    train, test = train_test_split(index, test_size=holdout, stratify=y, random_state=split_seed)
    model = estimator if estimator is not None else FraudModel()
    model.fit(X[train], y[train])
    metrics = compute_metrics(y[test], model.predict_proba(X[test])[:, 1])
    compared_with = current_version(models_dir)
    current_metrics = None
    comparison_note = None
    if compared_with is not None:
        try:
            current = load_model(compared_with, models_dir)
        except FeatureSetMismatchError as error:
            comparison_note = f"not comparable: {error}"
            log.warning("CURRENT %s cannot score this hold-out: %s", compared_with, error)
        else:
            current_metrics = compute_metrics(
                y[test], current.estimator.predict_proba(X[test])[:, 1]
            )
    digest = hashlib.sha256(
        "\n".join(f"{i},{label}" for i, label in sorted(zip(ids, y.tolist(), strict=True))).encode()
    ).hexdigest()
    order = np.argsort(np.asarray(ids, dtype=object))
    features_digest = hashlib.sha256(
        np.ascontiguousarray(X[order], dtype=np.float64).tobytes()
    ).hexdigest()
    models_dir.mkdir(parents=True, exist_ok=True)
    card = ModelCard(
        version=_next_version(models_dir),
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        sklearn_version=sklearn.__version__,
        data_sha256=digest,
        features_sha256=features_digest,
        training_data=training_data,
        label_counts=counts,
        train_size=len(train),
        holdout_size=len(test),
        split_seed=split_seed,
        feature_names=list(FEATURE_NAMES),
        params={k: v for k, v in model.get_params().items() if isinstance(v, str | int | float)},
        metrics=metrics,
        compared_with=compared_with,
        current_metrics=current_metrics,
        comparison_note=comparison_note,
    )
    path = save_model(model, card, models_dir)
    log.info("trained fraud model %s on %d labelled claims", card.version, len(y))
    return Candidate(version=card.version, path=path, card=card)


def evaluate(
    version: str | None,
    labels: list[Path],
    claims_dirs: list[Path],
    history: ClaimHistory | None = None,
    models_dir: Path = DEFAULT_MODELS_DIR,
) -> Metrics:
    """Metrics of `version` (None: CURRENT) on every labelled claim of `claims_dirs`."""
    model = load_model(version, models_dir)
    _, X, y = _labelled(labels, claims_dirs, history)
    return compute_metrics(y, model.estimator.predict_proba(X)[:, 1])


def read_card(version: str, models_dir: Path = DEFAULT_MODELS_DIR) -> ModelCard:
    """The card of `version` (without loading its model)."""
    try:
        return ModelCard.model_validate_json((models_dir / version / "card.json").read_bytes())
    except (OSError, ValidationError) as error:
        raise ModelNotFoundError(
            f"model card of {version!r} is missing or invalid: {error}"
        ) from error


def record_evaluation(
    version: str, name: str, metrics: Metrics, models_dir: Path = DEFAULT_MODELS_DIR
) -> ModelCard:
    """Add `metrics` on the labelled set `name` to the card of `version` (card.json and card.md)."""
    folder = models_dir / version
    card = read_card(version, models_dir)
    card = card.model_copy(update={"external_metrics": {**card.external_metrics, name: metrics}})
    _write_card(folder, card)
    return card


def _refusal(card: ModelCard, previous: str, tolerance: float) -> str | None:
    """Why `card`'s version may not replace CURRENT `previous` (None: it may)."""
    if card.compared_with != previous or card.current_metrics is None:
        why = card.comparison_note or f"it was compared with {card.compared_with!r}"
        return (
            f"{card.version} has no comparison with CURRENT {previous!r} on its hold-out "
            f"({why}); retrain to compare on the same hold-out, or promote with force"
        )
    new_auc, old_auc = card.metrics.roc_auc, card.current_metrics.roc_auc
    if new_auc is None or (old_auc is not None and new_auc < old_auc - tolerance):
        return (
            f"{card.version} ROC-AUC {new_auc} is worse than CURRENT {previous} ROC-AUC "
            f"{old_auc} on the same hold-out (tolerance {tolerance}); promote with force to "
            "override"
        )
    return None


def _write_card(folder: Path, card: ModelCard) -> None:
    (folder / "card.json").write_text(card.model_dump_json(indent=2) + "\n", encoding="utf-8")
    (folder / "card.md").write_text(card_markdown(card), encoding="utf-8")


def promote(
    version: str,
    models_dir: Path = DEFAULT_MODELS_DIR,
    force: bool = False,
    tolerance: float = AUC_TOLERANCE,
) -> str | None:
    """Point CURRENT at `version`; returns the version it replaced.

    Refuses when the candidate's hold-out ROC-AUC is below CURRENT's on the same split by
    more than `tolerance`, or when the card holds no comparison with today's CURRENT. With
    `force` it promotes anyway and writes the overridden refusal on the candidate's card.
    """
    candidate = load_model(version, models_dir)
    previous = current_version(models_dir)
    refusal = (
        _refusal(candidate.card, previous, tolerance)
        if previous is not None and previous != version
        else None
    )
    if refusal is not None and not force:
        raise PromotionRefusedError(refusal)
    if refusal is not None:
        # forced: the override is written on the candidate's card, never silent
        when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        note = f"{when} over CURRENT {previous}, which would have refused it: {refusal}"
        card = candidate.card.model_copy(
            update={"forced_promotions": [*candidate.card.forced_promotions, note]}
        )
        _write_card(models_dir / version, card)
        log.warning("fraud model %s promoted with force over %s: %s", version, previous, refusal)
    pointer = models_dir / "CURRENT"
    temp = pointer.with_suffix(".tmp")
    temp.write_text(version + "\n", encoding="utf-8")
    temp.replace(pointer)
    log.info("promoted fraud model %s (was %s)", version, previous)
    return previous


def score_claim(
    claim: Claim, history: ClaimHistory, model: RegisteredModel, bands: Bands | None = None
) -> Fraud:
    """The claim file's `fraud` block: calibrated score, band, model version, reasons."""
    features = compute_features(claim, history)
    score, reasons = model.estimator.score_and_explain(features)
    return Fraud(
        score=round(score, 4),
        band=(bands or load_bands()).band(score),  # type: ignore[arg-type]
        model_version=model.version,
        reasons=reasons,
    )
