"""`claim-intake fraud train|evaluate|promote` and the Prefect retraining flow."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.fraud import fraud_app
from pipeline.fraud.registry import current_version
from tests.fraud.conftest import labelled_run

runner = CliRunner()


def test_cli_train_evaluate_promote(tmp_path: Path) -> None:
    labels = labelled_run(tmp_path / "run", n=60)
    models = tmp_path / "models"
    common = ["--labels", str(labels), "--claims", str(tmp_path / "run"), "--models", str(models)]
    trained = runner.invoke(fraud_app, ["train", *common])
    assert trained.exit_code == 0, trained.output
    assert "v001" in trained.output and "roc_auc" in trained.output
    promoted = runner.invoke(fraud_app, ["promote", "v001", "--models", str(models)])
    assert promoted.exit_code == 0 and current_version(models) == "v001"
    evaluated = runner.invoke(fraud_app, ["evaluate", *common])
    assert evaluated.exit_code == 0 and "precision_at_10pct" in evaluated.output


def test_cli_promote_unknown_version_is_a_clean_error(tmp_path: Path) -> None:
    result = runner.invoke(fraud_app, ["promote", "v404", "--models", str(tmp_path)])
    assert result.exit_code == 2
    assert "v404" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_cli_retrain_flow_trains_and_evaluates(tmp_path: Path) -> None:
    from flows.fraud import retrain_fraud_model

    labels = labelled_run(tmp_path / "run", n=60)
    # .fn runs the flow body without a Prefect server; the tasks run in-process.
    metrics = retrain_fraud_model.fn([labels], [tmp_path / "run"], tmp_path / "models")
    assert metrics.n == 60 and metrics.roc_auc is not None
    assert (tmp_path / "models" / "v001" / "card.json").is_file()


def test_cli_train_promote_and_record_an_evaluation(tmp_path: Path) -> None:
    labels = labelled_run(tmp_path / "run", n=60)
    fresh = labelled_run(tmp_path / "fresh", n=40, seed=3)
    models = tmp_path / "models"
    trained = runner.invoke(
        fraud_app,
        [
            "train",
            *("--labels", str(labels), "--claims", str(tmp_path / "run")),
            *("--models", str(models), "--data-note", "sixty hand-made claims", "--promote"),
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert current_version(models) == "v001" and "CURRENT is now v001" in trained.output
    assert "sixty hand-made claims" in (models / "v001" / "card.md").read_text()
    evaluated = runner.invoke(
        fraud_app,
        [
            "evaluate",
            *("--labels", str(fresh), "--claims", str(tmp_path / "fresh")),
            *("--models", str(models), "--record-as", "fresh seed 3"),
        ],
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert "On fresh seed 3: ROC-AUC" in (models / "v001" / "card.md").read_text()


def test_cli_forced_promotion_is_announced_and_kept_on_the_card(tmp_path: Path) -> None:
    from pipeline.fraud.model import FraudModel
    from pipeline.fraud.registry import promote, train_candidate

    labels = labelled_run(tmp_path / "run", n=60)
    models = tmp_path / "models"
    first = train_candidate([labels], [tmp_path / "run"], models_dir=models)
    promote(first.version, models_dir=models)
    blind = FraudModel(max_iter=5, min_samples_leaf=1000)  # cannot split: ROC-AUC 0.5
    worse = train_candidate([labels], [tmp_path / "run"], models_dir=models, estimator=blind)
    refused = runner.invoke(fraud_app, ["promote", worse.version, "--models", str(models)])
    assert refused.exit_code == 2 and current_version(models) == first.version
    forced = runner.invoke(
        fraud_app, ["promote", worse.version, "--force", "--models", str(models)]
    )
    assert forced.exit_code == 0 and current_version(models) == worse.version
    assert "promoted with force" in forced.output and "v001" in forced.output


@pytest.mark.slow
def test_cli_retrain_flow_promotes_but_never_over_a_refusal(tmp_path: Path) -> None:
    import json

    from flows.fraud import retrain_fraud_model
    from pipeline.errors import PromotionRefusedError

    labels = labelled_run(tmp_path / "run", n=60)
    models = tmp_path / "models"
    retrain_fraud_model.fn([labels], [tmp_path / "run"], models, promote_if_not_worse=True)
    assert current_version(models) == "v001"
    card_path = models / "v001" / "card.json"
    card = json.loads(card_path.read_text())
    card["feature_names"] = ["an_old_feature"]  # CURRENT can no longer be compared
    card_path.write_text(json.dumps(card))
    with pytest.raises(PromotionRefusedError, match="not comparable"):
        retrain_fraud_model.fn([labels], [tmp_path / "run"], models, promote_if_not_worse=True)
    assert current_version(models) == "v001" and (models / "v002" / "card.json").is_file()
