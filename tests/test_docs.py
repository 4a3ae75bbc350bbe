"""Every CLI command is documented in the README, as sqlite-utils checks its own docs."""

from __future__ import annotations

from pathlib import Path

from flows.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_docs_every_command_in_readme():
    import typer.main

    click_app = typer.main.get_command(app)
    names = sorted(click_app.commands)  # type: ignore[attr-defined]
    assert {"run", "schema", "synth", "eval"} <= set(names)
    for name in names:
        assert f"claim-intake {name}" in README, f"command {name!r} is not in README.md"


def test_docs_both_setup_commands_in_readme():
    assert "make run" in README and "make test" in README
