"""`claim-intake review`: the typer command; register with `app.command("review")(review)`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["review"]


def review(
    out: Annotated[Path, typer.Option("--out", help="the run output whose claims are reviewed")],
    host: Annotated[str, typer.Option("--host", help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    inbox: Annotated[
        Path | None,
        typer.Option("--inbox", help="the inbox the run read; needed to show page images"),
    ] = None,
    ledger: Annotated[
        str | None,
        typer.Option(
            "--ledger",
            envvar="CLAIM_INTAKE_LEDGER_URL",
            show_envvar=True,
            help="the shared ledger the run used (its URL); default OUT/ledger.sqlite",
        ),
    ] = None,
) -> None:
    """Serve the adjusters' review app over OUT (127.0.0.1 by default)."""
    from flows.review.app import serve

    if not (out / "claims").is_dir():
        typer.echo(
            f"error: {out} has no claims/ folder; give the OUT of a `claim-intake run`", err=True
        )
        raise typer.Exit(2)
    if inbox is not None and not inbox.is_dir():
        typer.echo(f"error: inbox {inbox} is not a folder", err=True)
        raise typer.Exit(2)
    serve(out, host=host, port=port, inbox=inbox, ledger_url=ledger)
