"""`claim-intake fraud ...`: the fraud analyst's loop (train, evaluate, promote) and its Prefect flow.

The commands parse arguments, call `pipeline.fraud.registry` and turn library errors into
one clean line on stderr. `retrain_fraud_model` is the same train + evaluate as a Prefect
flow so it can be scheduled; Prefect is imported only when the flow is first touched, so
the CLI stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from pipeline.errors import ClaimIntakeError

if TYPE_CHECKING:
    from prefect import Flow

    from pipeline.fraud.registry import Metrics

# The same folder as pipeline.fraud.registry.DEFAULT_MODELS_DIR, without importing
# scikit-learn just to print `--help`.
DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[1] / "models" / "fraud"

__all__ = ["fraud_app", "retrain_fraud_model", "metrics_table"]  # noqa: F822 (lazy, see __getattr__)

fraud_app = typer.Typer(
    help="Train, evaluate and promote the fraud model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

LabelsOpt = Annotated[
    list[Path], typer.Option("--labels", help="claim_id,label CSV; repeat to combine, later wins")
]
ClaimsOpt = Annotated[
    list[Path], typer.Option("--claims", help="a run output OUT holding claims/; repeatable")
]
ModelsOpt = Annotated[Path, typer.Option("--models", help="the models/fraud folder")]


def metrics_table(title: str, columns: dict[str, Metrics | None]) -> Table:
    """One row per metric, one column per model."""
    table = Table(title=title)
    table.add_column("metric")
    for name in columns:
        table.add_column(name, justify="right")
    from pipeline.fraud.registry import Metrics

    for metric in Metrics.model_fields:
        cells = []
        for metrics in columns.values():
            value = None if metrics is None else getattr(metrics, metric)
            cells.append(
                "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)
            )
        table.add_row(metric, *cells)
    return table


def _fail(error: ClaimIntakeError) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {error}")
    return typer.Exit(2)


@fraud_app.command()
def train(
    labels: LabelsOpt,
    claims: ClaimsOpt,
    models: ModelsOpt = DEFAULT_MODELS_DIR,
    data_note: Annotated[
        str | None,
        typer.Option("--data-note", help="where the labelled claims came from, for the card"),
    ] = None,
    then_promote: Annotated[
        bool,
        typer.Option("--promote", help="promote the candidate unless it is worse than CURRENT"),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="with --promote: promote even if worse than CURRENT")
    ] = False,
) -> None:
    """Fit a candidate version, scored with CURRENT on the same held-out split (promoted only with --promote)."""
    try:
        from pipeline.fraud.registry import train_candidate

        if data_note:
            candidate = train_candidate(labels, claims, models_dir=models, training_data=data_note)
        else:
            candidate = train_candidate(labels, claims, models_dir=models)
    except ClaimIntakeError as error:
        raise _fail(error) from error
    card = candidate.card
    console.print(
        metrics_table(
            f"candidate {candidate.version} on the hold-out ({card.holdout_size} claims)",
            {
                candidate.version: card.metrics,
                f"CURRENT {card.compared_with}": card.current_metrics,
            },
        )
    )
    if card.comparison_note:
        console.print(f"CURRENT {card.compared_with}: {card.comparison_note}")
    if not then_promote:
        console.print(
            f"saved to {candidate.path}; promote with `claim-intake fraud promote {candidate.version}`"
        )
        return
    console.print(f"saved to {candidate.path}")
    promote_command(candidate.version, force=force, models=models)


@fraud_app.command("evaluate")
def evaluate_command(
    labels: LabelsOpt,
    claims: ClaimsOpt,
    version: Annotated[str | None, typer.Option("--version", help="default: CURRENT")] = None,
    models: ModelsOpt = DEFAULT_MODELS_DIR,
    record_as: Annotated[
        str | None,
        typer.Option(
            "--record-as", help="also write the metrics onto the model's card under this name"
        ),
    ] = None,
) -> None:
    """Score a version (default CURRENT) on every labelled claim."""
    try:
        from pipeline.fraud.registry import current_version, evaluate, record_evaluation

        name = version or current_version(models) or "CURRENT"
        metrics = evaluate(version, labels, claims, models_dir=models)
        if record_as:
            record_evaluation(name, record_as, metrics, models_dir=models)
    except ClaimIntakeError as error:
        raise _fail(error) from error
    console.print(metrics_table(f"fraud model {name}", {name: metrics}))
    if record_as:
        console.print(f"recorded on the card of {name} as {record_as!r}")


@fraud_app.command("promote")
def promote_command(
    version: Annotated[str, typer.Argument(help="the version folder name, e.g. v002")],
    force: Annotated[
        bool, typer.Option("--force", help="promote even if worse than CURRENT")
    ] = False,
    models: ModelsOpt = DEFAULT_MODELS_DIR,
) -> None:
    """Make VERSION the CURRENT model; refused when it is worse than CURRENT on ROC-AUC."""
    try:
        from pipeline.fraud.registry import promote, read_card

        before = len(read_card(version, models).forced_promotions) if force else 0
        previous = promote(version, models_dir=models, force=force)
        forced = read_card(version, models).forced_promotions[before:] if force else []
    except ClaimIntakeError as error:
        raise _fail(error) from error
    for note in forced:
        err_console.print(
            f"[bold yellow]warning:[/] promoted with force, noted on the card: {note}"
        )
    console.print(f"CURRENT is now {version} (was {previous or 'none'})")


def _build_flow() -> Flow[..., Metrics]:
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE

    from pipeline.fraud.registry import evaluate, promote, train_candidate

    train_task = task(name="train-fraud-candidate", cache_policy=NO_CACHE)(train_candidate)
    evaluate_task = task(name="evaluate-fraud-model", cache_policy=NO_CACHE)(evaluate)
    promote_task = task(name="promote-fraud-model", cache_policy=NO_CACHE)(promote)

    @flow(name="retrain-fraud-model", validate_parameters=False)
    def retrain_fraud_model(
        labels: list[Path],
        claims: list[Path],
        models_dir: Path = DEFAULT_MODELS_DIR,
        promote_if_not_worse: bool = False,
    ) -> Metrics:
        """Train a candidate on the labelled claims, evaluate it on all of them and, when asked,
        promote it; a candidate worse than CURRENT fails the run (never forced here)."""
        candidate = train_task(labels, claims, models_dir=models_dir)
        metrics = evaluate_task(candidate.version, labels, claims, models_dir=models_dir)
        if promote_if_not_worse:
            promote_task(candidate.version, models_dir=models_dir)
        return metrics

    return retrain_fraud_model


_flows: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    """`retrain_fraud_model` is built on first access, so importing the CLI skips Prefect."""
    if name == "retrain_fraud_model":
        if name not in _flows:
            _flows[name] = _build_flow()
        return _flows[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
