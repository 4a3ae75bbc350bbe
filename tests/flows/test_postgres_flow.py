"""The batch flow and `claim-intake run` with a PostgreSQL ledger instead of OUT/ledger.sqlite."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from pipeline.ledger import Ledger
from tests.helpers import text_pdf


def _invoice_pdf(number: int) -> bytes:
    lines = [
        "Lakeside Family Medicine",
        "NPI: 1234567893",
        "ITEMIZED STATEMENT",
        f"Invoice No: INV-{55100 + number}            Invoice Date: 03/04/2026",
        "Patient: Dana K. Whitfield       Date of Birth: 07/19/1984",
        "Date        Code    Description                Units   Amount",
        f"03/02/2026  99213   Office visit, established  1       ${100 + number}.00",
        f"Total Charges                                          ${100 + number}.00",
    ]
    return text_pdf(lines)


def _inbox(folder: Path, packets: int, broken: bool = True) -> Path:
    folder.mkdir(parents=True)
    for number in range(packets):
        (folder / f"packet-{number}.pdf").write_bytes(_invoice_pdf(number))
    if broken:
        (folder / "broken.pdf").write_bytes(b"%PDF-1.7 truncated")
    return folder


def _states(url: str) -> dict[str, str]:
    with Ledger.open(url) as ledger, ledger.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT name, state FROM packets ORDER BY name").all()
    return {name: state for name, state in rows}


@pytest.mark.slow
def test_postgres_flow_end_to_end_with_the_ledger_url(
    prefect_harness, postgres_url: str, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client

    from flows.batch import batch_flow_for

    inbox = _inbox(tmp_path / "inbox", packets=2)
    out = tmp_path / "out"
    state = batch_flow_for(1)(
        inbox=inbox, out=out, workers=1, ledger_url=SecretStr(postgres_url), return_state=True
    )
    summary = state.result()
    assert summary.claims_written == 2 and summary.quarantined == 1
    assert not (out / "ledger.sqlite").exists(), "the PostgreSQL ledger replaces the file"
    assert _states(postgres_url) == {
        "broken.pdf": "quarantined",
        "packet-0.pdf": "done",
        "packet-1.pdf": "done",
    }
    with Ledger.open(postgres_url) as ledger:
        assert ledger.stats().claims == 2
        done = ledger.packet_history("packet-0.pdf")[0]
        assert (out / "claims" / f"{done.claim_id}.json").is_file()

    async def stored_parameters() -> dict[str, object]:
        async with get_client() as client:
            run = await client.read_flow_run(state.state_details.flow_run_id)
        return run.parameters

    assert stored_parameters_masked(asyncio.run(stored_parameters()), postgres_url)

    again = batch_flow_for(1)(inbox=inbox, out=out, workers=1, ledger_url=SecretStr(postgres_url))
    assert again.skipped == 2 and again.claims_written == 0 and again.quarantined == 1


def stored_parameters_masked(parameters: dict[str, object], url: str) -> bool:
    """Prefect keeps flow parameters in its database: the ledger URL must not be one of them."""
    return url not in json.dumps(parameters, default=str) and "ledger_url" in parameters


def test_postgres_cli_takes_the_ledger_url_from_option_or_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`claim-intake run --ledger URL` (or CLAIM_INTAKE_LEDGER_URL) reaches the flow, masked."""
    from typer.testing import CliRunner

    import flows.batch
    from flows.batch import BatchSummary
    from flows.cli import app

    calls: list[dict[str, object]] = []

    def fake_flow_for(_workers: int):  # noqa: ANN202 - stands in for the Prefect flow
        def run(**kwargs: object) -> BatchSummary:
            calls.append(kwargs)
            return BatchSummary(
                batch_id="b",
                packets=0,
                pages=0,
                claims_written=0,
                quarantined=0,
                skipped=0,
                needs_review=0,
                incomplete=0,
                ready=0,
                rejected=0,
                seconds=0.0,
                outcomes=[],
            )

        return run

    monkeypatch.setattr(flows.batch, "batch_flow_for", fake_flow_for)
    (tmp_path / "inbox").mkdir()
    url = "postgresql+psycopg://claims:hunter2@db.internal/claims"
    args = ["run", str(tmp_path / "inbox"), "--out", str(tmp_path / "out"), "--quiet"]
    runner = CliRunner()
    by_env = runner.invoke(app, args, env={"CLAIM_INTAKE_LEDGER_URL": url})
    by_option = runner.invoke(app, [*args, "--ledger", url + "2"], env={})
    default = runner.invoke(app, args, env={"CLAIM_INTAKE_LEDGER_URL": ""})
    assert [r.exit_code for r in (by_env, by_option, default)] == [0, 0, 0], by_env.output
    given = [call["ledger_url"] for call in calls]
    assert isinstance(given[0], SecretStr) and given[0].get_secret_value() == url
    assert isinstance(given[1], SecretStr) and given[1].get_secret_value() == url + "2"
    assert given[2] is None
    assert "hunter2" not in repr(given[0])
