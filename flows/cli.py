"""`claim-intake`: the command line. It parses arguments, calls the library or a flow, and
turns library errors into one clean line on stderr with a non-zero exit.

Heavy imports (Prefect, spaCy, OpenCV) happen inside the commands, so `schema` stays fast
and Prefect's settings come from the environment when a flow starts.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.console import Console

from pipeline.errors import ClaimIntakeError

__all__ = ["app", "main"]

app = typer.Typer(
    name="claim-intake",
    help="Medical claim intake: packets in, explained claim files out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def _prefect_environment() -> None:
    """Prefect reads these when the flow starts; the user's own values win."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_LOG_PRINTS", "false")
    # Prefect gives its temporary local server 20 s to start; on a busy mailroom machine
    # it took longer, and the whole batch failed before reading a page.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


@app.command()
def run(
    inbox: Annotated[
        Path, typer.Argument(help="the mailroom inbox: one folder or file per packet")
    ],
    out: Annotated[Path, typer.Option("--out", help="where claim files are written")],
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="packets and OCR pages in parallel")
    ] = max(1, os.cpu_count() or 1),
    config: Annotated[
        Path | None, typer.Option("--config", help="settings TOML overriding the defaults")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
    ledger: Annotated[
        str | None,
        typer.Option(
            "--ledger",
            envvar="CLAIM_INTAKE_LEDGER_URL",
            show_envvar=True,
            help="SQLAlchemy URL of a shared ledger, e.g. postgresql+psycopg://user@host/db "
            "(password from PGPASSWORD or ~/.pgpass); default OUT/ledger.sqlite",
        ),
    ] = None,
) -> None:
    """Process every packet in INBOX into one claim file in OUT/claims (or OUT/quarantine)."""
    if not inbox.is_dir():
        raise _fail(f"inbox {inbox} is not a folder; give the folder that holds the packets")
    config = config or (
        Path(os.environ["CLAIM_INTAKE_CONFIG"]) if os.environ.get("CLAIM_INTAKE_CONFIG") else None
    )
    _prefect_environment()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from pydantic import SecretStr

    from flows.startup import start_temporary_api

    api = start_temporary_api()
    from flows.batch import batch_flow_for, preload_resources, summary_table
    from pipeline.config import load_settings

    try:
        settings = load_settings(config)
    except ClaimIntakeError as exc:
        raise _fail(str(exc)) from exc
    # The temporary server takes seconds to answer: the models load meanwhile.
    preload_resources(settings)
    if api is not None:
        try:
            api.wait()
        except RuntimeError as exc:
            raise _fail(f"{exc}; or point PREFECT_API_URL at a running Prefect server") from exc

    try:
        with api.settings() if api is not None else nullcontext():
            summary = batch_flow_for(workers)(
                inbox=inbox.resolve(),
                out=out.resolve(),
                workers=workers,
                config=config,
                show_progress=not quiet,
                ledger_url=SecretStr(ledger) if ledger else None,
            )
    except ClaimIntakeError as exc:
        raise _fail(str(exc)) from exc
    console.print(summary_table(summary))
    for outcome in summary.outcomes:
        if outcome.quarantined:
            console.print(f"[yellow]quarantined[/] {outcome.packet}: {outcome.reason}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of the claim file."""
    from pipeline.schema import claim_json_schema

    sys.stdout.write(json.dumps(claim_json_schema(), indent=2) + "\n")


@app.command()
def synth(
    directory: Annotated[Path, typer.Argument(help="writes DIR/inbox and DIR/truth")],
    packets: Annotated[int, typer.Option("--packets", min=1)] = 10,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    profile: Annotated[str, typer.Option("--profile", help="digital, scanned or mixed")] = "mixed",
    workers: Annotated[int, typer.Option("--workers", min=1)] = max(1, os.cpu_count() or 1),
) -> None:
    """Write N synthetic claim packets and their ground truth."""
    if profile not in ("digital", "scanned", "mixed"):
        raise _fail(f"--profile {profile!r} is not one of digital, scanned, mixed")
    from pipeline.synth import CorpusProfile, generate_corpus

    try:
        truths = generate_corpus(
            directory,
            packets=packets,
            seed=seed,
            profile=cast(CorpusProfile, profile),
            workers=workers,
        )
    except ClaimIntakeError as exc:
        raise _fail(str(exc)) from exc
    pages = sum(len(t.pages) for t in truths)
    console.print(f"wrote {len(truths)} packets ({pages} pages) to {directory / 'inbox'}")


@app.command(name="eval")
def evaluate(
    out: Annotated[Path, typer.Argument(help="a run's OUT folder")],
    truth: Annotated[Path, typer.Argument(help="the TRUTH folder of a synth corpus")],
    json_file: Annotated[
        Path | None, typer.Option("--json", help="also write the metrics as JSON")
    ] = None,
) -> None:
    """Score a run's claim files against ground truth."""
    from pipeline.eval import evaluate as run_eval
    from pipeline.eval import render_table
    from pipeline.io.emit import atomic_write_text

    if not truth.is_dir():
        raise _fail(f"truth folder {truth} does not exist")
    report = run_eval(out, truth)
    Console(width=max(console.width, 132)).print(render_table(report))
    if json_file is not None:
        atomic_write_text(json_file, report.model_dump_json(indent=2) + "\n")


def _register_subcommands() -> None:
    from flows.fraud import fraud_app
    from flows.review import review
    from flows.users import users_app

    app.add_typer(
        fraud_app, name="fraud", help="the fraud analyst's loop: train, evaluate, promote"
    )
    app.command("review")(review)
    app.add_typer(users_app, name="users", help="users of the review app")


_register_subcommands()


def main() -> None:
    try:
        app()
    except ClaimIntakeError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
