"""`claim-intake users`: manage the people who may use the review app over one OUT.

The password is read from standard input (one line; hidden prompt on a terminal), never
from an argument, so it does not end up in shell history or the process list.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipeline.errors import ReviewError
from pipeline.review.store import ROLES, open_store

__all__ = ["users_app", "add", "list_users"]

users_app = typer.Typer(
    name="users",
    help="users of the review app: adjuster, analyst, admin",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            raise ReviewError("the two passwords differ; nothing was changed")
        return first
    return sys.stdin.readline().rstrip("\r\n")


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="the user's sign-in name")],
    role: Annotated[str, typer.Option("--role", help=f"one of {', '.join(ROLES)}")],
    out: Annotated[Path, typer.Option("--out", help="the run output the review app serves")],
) -> None:
    """Add a user (or reset their role and password); the password is read from stdin."""
    if role not in ROLES:
        err_console.print(
            f"[bold red]error:[/] unknown role {role!r}; valid roles: {', '.join(ROLES)}"
        )
        raise typer.Exit(2)
    try:
        password = _read_password()
        user = open_store(out).add_user(name, role, password)
    except ReviewError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"user {user.name} ({user.role}) saved in {out / 'review.sqlite'}")


@users_app.command("list")
def list_users(
    out: Annotated[Path, typer.Option("--out", help="the run output the review app serves")],
) -> None:
    """List the users of the review app over OUT."""
    for user in open_store(out).users():
        console.print(f"{user.name}\t{user.role}")
