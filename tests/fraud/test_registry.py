"""Train -> evaluate -> promote in temporary folders; untrusted files and worse models refused."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from pipeline.errors import (
    FeatureSetMismatchError,
    LabelsError,
    PromotionRefusedError,
    UntrustedModelError,
)
from pipeline.fraud.history import InMemoryClaimHistory
from pipeline.fraud.model import FraudModel
from pipeline.fraud.reference import Bands
from pipeline.fraud.registry import (
    current_version,
    evaluate,
    load_model,
    promote,
    read_card,
    read_claims,
    read_labels,
    score_claim,
    train_candidate,
)
from pipeline.schema import ExtractedField
from tests.fraud.conftest import labelled_run, make_claim


def _fast() -> FraudModel:
    return FraudModel(max_iter=25)


def test_registry_train_evaluate_promote_round_trip(tmp_path: Path) -> None:
    models = tmp_path / "models"
    labels = labelled_run(tmp_path / "run")
    first = train_candidate([labels], [tmp_path / "run"], models_dir=models, estimator=_fast())
    assert first.version == "v001"
    assert (first.path / "model.skops").is_file() and (first.path / "card.md").is_file()
    assert first.card.metrics.roc_auc is not None and first.card.metrics.roc_auc > 0.95
    assert first.card.current_metrics is None
    assert promote(first.version, models_dir=models) is None
    assert current_version(models) == "v001"

    metrics = evaluate(None, [labels], [tmp_path / "run"], models_dir=models)
    assert metrics.n == 80 and metrics.n_fraud == 27
    assert metrics.precision_at_10pct == 1.0

    second = train_candidate([labels], [tmp_path / "run"], models_dir=models, estimator=_fast())
    assert second.version == "v002" and second.card.compared_with == "v001"
    # Same labels, same claim files: the same data and feature hashes on the card.
    assert second.card.data_sha256 == first.card.data_sha256
    assert second.card.features_sha256 == first.card.features_sha256
    assert len(first.card.features_sha256 or "") == 64
    assert f"features sha256 `{first.card.features_sha256}`" in (first.path / "card.md").read_text()
    assert second.card.current_metrics is not None
    assert promote("v002", models_dir=models) == "v001"

    model = load_model(models_dir=models)
    fraud = score_claim(make_claim("new", unit_price=900.0), InMemoryClaimHistory(), model)
    assert fraud.model_version == "v002" and fraud.band == "high" and fraud.reasons
    clean = score_claim(make_claim("ok"), InMemoryClaimHistory(), model)
    assert clean.band == "low" and clean.score is not None and clean.score < fraud.score  # type: ignore[operator]


def test_registry_refuses_worse_candidate_unless_forced(tmp_path: Path) -> None:
    models = tmp_path / "models"
    good = labelled_run(tmp_path / "good")
    first = train_candidate([good], [tmp_path / "good"], models_dir=models, estimator=_fast())
    promote(first.version, models_dir=models)
    # a candidate that cannot split (every leaf would need more claims than it has) ranks
    # nothing: worse than CURRENT on the same hold-out whatever the random draws
    blind = FraudModel(max_iter=5, min_samples_leaf=1000)
    worse = train_candidate([good], [tmp_path / "good"], models_dir=models, estimator=blind)
    assert worse.card.metrics.roc_auc == 0.5
    with pytest.raises(PromotionRefusedError, match="ROC-AUC") as refused:
        promote(worse.version, models_dir=models)
    assert "v001" in str(refused.value) and worse.version in str(refused.value)
    assert current_version(models) == "v001"
    promote(worse.version, models_dir=models, force=True)
    assert current_version(models) == worse.version
    notes = read_card(worse.version, models).forced_promotions
    assert len(notes) == 1 and "over CURRENT v001" in notes[0] and "ROC-AUC" in notes[0]
    assert "Promoted with force" in (worse.path / "card.md").read_text()
    assert read_card(first.version, models).forced_promotions == []


def test_registry_current_on_another_feature_set_is_noted_and_needs_force(tmp_path: Path) -> None:
    models = tmp_path / "models"
    labels = labelled_run(tmp_path / "run")
    first = train_candidate([labels], [tmp_path / "run"], models_dir=models, estimator=_fast())
    promote(first.version, models_dir=models)
    card = json.loads((first.path / "card.json").read_text())
    card["feature_names"] = ["an_old_feature"]  # as if saved before the feature list changed
    (first.path / "card.json").write_text(json.dumps(card))
    with pytest.raises(FeatureSetMismatchError, match=r"no longer computed: \['an_old_feature'\]"):
        load_model(models_dir=models)
    second = train_candidate([labels], [tmp_path / "run"], models_dir=models, estimator=_fast())
    assert second.card.compared_with == "v001" and second.card.current_metrics is None
    assert second.card.comparison_note and "not comparable" in second.card.comparison_note
    assert "not comparable" in (second.path / "card.md").read_text()
    with pytest.raises(PromotionRefusedError, match="not comparable"):
        promote(second.version, models_dir=models)
    assert promote(second.version, models_dir=models, force=True) == "v001"


def test_registry_refuses_pickle_renamed_skops(tmp_path: Path) -> None:
    models = tmp_path / "models"
    labels = labelled_run(tmp_path / "run")
    candidate = train_candidate([labels], [tmp_path / "run"], models_dir=models, estimator=_fast())
    path = candidate.path / "model.skops"
    path.write_bytes(pickle.dumps({"not": "a model"}))
    with pytest.raises(UntrustedModelError, match="not a skops file"):
        load_model(candidate.version, models_dir=models)


def test_registry_labels_later_file_overrides(tmp_path: Path) -> None:
    one, two = tmp_path / "a.csv", tmp_path / "b.csv"
    one.write_text("claim_id,label\nx,1\ny,0\n")
    two.write_text("claim_id,label\nx,0\n")
    assert read_labels([one, two]) == {"x": 0, "y": 0}
    bad = tmp_path / "bad.csv"
    bad.write_text("claim_id,label\nx,yes\n")
    with pytest.raises(LabelsError, match="'yes'"):
        read_labels([bad])


def test_registry_bands_from_cut_offs() -> None:
    bands = Bands(medium_from=0.3, high_from=0.7)
    assert [bands.band(s) for s in (0.0, 0.29, 0.3, 0.69, 0.7, 1.0)] == [
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
    ]
    with pytest.raises(ValueError, match="must not exceed"):
        Bands(medium_from=0.8, high_from=0.7)


def test_registry_shipped_current_model_loads_and_scores() -> None:
    model = load_model()  # models/fraud/CURRENT, through the skops allow-list
    assert model.card.feature_names and model.card.metrics.roc_auc is not None
    history = InMemoryClaimHistory()
    inflated = score_claim(
        make_claim("s1", unit_price=135.0 * 7, read_confidence=0.99), history, model
    )
    clean = score_claim(make_claim("s2", read_confidence=0.99), history, model)
    assert inflated.score is not None and clean.score is not None
    assert inflated.score > clean.score
    assert inflated.model_version == model.version
    assert inflated.band == "high" and clean.band == "low"
    assert inflated.reasons and inflated.reasons[0].code.startswith("PRICE_")
    # Read from a scan (values 90 % sure) the same prices may be a misread: still flagged.
    scanned = score_claim(make_claim("s3", unit_price=135.0 * 7), history, model)
    assert scanned.band != "low"


def test_registry_shipped_model_does_not_take_a_missing_total_for_fraud() -> None:
    """A total nobody could read is unknown, not suspicious: the clean claim stays low."""
    model = load_model()
    claim = make_claim("s3")
    invoice = claim.documents[1]
    unread = {**invoice.fields, "total": ExtractedField.missing()}
    claim = claim.model_copy(
        update={
            "documents": [claim.documents[0], invoice.model_copy(update={"fields": unread})],
            "fields": claim.fields.model_copy(update={"total_billed": ExtractedField.missing()}),
        }
    )
    fraud = score_claim(claim, InMemoryClaimHistory(), model)
    assert fraud.band == "low", fraud
    no_lines = score_claim(
        claim.model_copy(update={"line_items": []}), InMemoryClaimHistory(), model
    )
    assert no_lines.band == "low", no_lines


def test_registry_read_claims_replays_the_recorded_order(tmp_path: Path) -> None:
    """Batch by batch, inbox order inside a batch: the history each claim was scored against."""
    out = tmp_path / "out"
    (out / "claims").mkdir(parents=True)
    # b finished reading first (earlier processed_at) but a comes first in the inbox
    times = {"a": "2026-01-02T10:00:09+00:00", "b": "2026-01-02T10:00:01+00:00"}
    times["c"] = "2026-01-02T11:00:00+00:00"
    for name, when in times.items():
        claim = make_claim(name).model_copy(update={"processed_at": when})
        (out / "claims" / f"{name}.json").write_text(claim.model_dump_json())
    first = out / "batches" / "20260102T100000-aaaaaa"
    second = out / "batches" / "20260102T110000-bbbbbb"
    for folder, outcomes in (
        (first, [("b.pdf", "b"), ("a.pdf", "a")]),
        (second, [("a.pdf", "a"), ("c.pdf", "c")]),
    ):
        folder.mkdir(parents=True)
        rows = [
            {"packet": packet, "claim_id": cid, "skipped": cid == "a" and folder == second}
            for packet, cid in outcomes
        ]
        (folder / "summary.json").write_text(json.dumps({"outcomes": rows}))
    assert [c.claim_id for c in read_claims([out])] == ["a", "b", "c"]
    # without summaries: processed_at, then source
    for folder in (first, second):
        (folder / "summary.json").unlink()
    assert [c.claim_id for c in read_claims([out])] == ["b", "a", "c"]
