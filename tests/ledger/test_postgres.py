"""The ledger on a real PostgreSQL server: lifecycle, versions, leases, racing workers.

The server is a throw-away one started once per session (tests/postgres.py); every test
gets an empty database of its own. Skipped only when no PostgreSQL binaries are installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, inspect

from pipeline.errors import LeaseLostError, LedgerError
from pipeline.ledger import Claimed, Ledger, Skip
from pipeline.ledger.history import LedgerClaimHistory
from pipeline.schema import (
    Claim,
    ClaimDocument,
    ClaimFields,
    ExtractedField,
    Fraud,
    PacketInfo,
    PageRef,
)

REPO = Path(__file__).resolve().parents[2]
SHA_A = "a" * 64
SHA_B = "b" * 64
SHA_C = "c" * 64


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _statements(ledger: Ledger) -> list[str]:
    seen: list[str] = []

    @event.listens_for(ledger.engine, "before_cursor_execute")
    def _record(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        seen.append(statement)

    return seen


def test_postgres_packet_lifecycle_states_versions_and_quarantine(postgres_url: str) -> None:
    clock = FakeClock()
    with Ledger.open(postgres_url, clock=clock) as ledger:
        assert ledger.engine.dialect.name == "postgresql"
        assert ledger.engine.dialect.driver == "psycopg"
        sql = _statements(ledger)

        seen = ledger.discover_packet("p1", "p1.pdf", SHA_A)
        assert (seen.state, seen.version, seen.attempts) == ("discovered", 1, 0)
        assert ledger.discover_packet("p1", "p1.pdf", SHA_A).packet_id == seen.packet_id

        first = ledger.claim_packet("p1", "p1.pdf", SHA_A, "w1", 60)
        assert isinstance(first, Claimed) and first.version == 1 and first.attempt == 1
        assert not first.reclaimed and first.previous_claim_id is None
        busy = ledger.claim_packet("p1", "p1.pdf", SHA_A, "w2", 60)
        assert isinstance(busy, Skip) and busy.reason == "in_progress"
        clock.advance(2)
        ledger.mark_done(first, "claim-1", "claims/claim-1.json")
        again = ledger.claim_packet("p1", "p1.pdf", SHA_A, "w2", 60)
        assert isinstance(again, Skip) and again.reason == "done" and again.claim_id == "claim-1"

        changed = ledger.claim_packet("p1", "p1.pdf", SHA_B, "w2", 60)
        assert isinstance(changed, Claimed)
        assert changed.version == 2 and changed.previous_claim_id == "claim-1"
        ledger.mark_quarantined(changed, "encrypted PDF")
        kept = ledger.claim_packet("p1", "p1.pdf", SHA_B, "w3", 60, retry_quarantined=False)
        assert isinstance(kept, Skip) and kept.reason == "quarantined"
        retry = ledger.claim_packet("p1", "p1.pdf", SHA_B, "w3", 60)
        assert isinstance(retry, Claimed) and retry.attempt == 2 and not retry.reclaimed
        ledger.mark_done(retry, "claim-2")
        third = ledger.claim_packet("p1", "p1.pdf", SHA_C, "w3", 60)
        assert isinstance(third, Claimed) and third.version == 3
        assert third.previous_claim_id == "claim-2"

        history = ledger.packet_history("p1")
        assert [(r.version, r.state, r.claim_id) for r in history] == [
            (1, "done", "claim-1"),
            (2, "done", "claim-2"),
            (3, "processing", None),
        ]
        assert history[0].seconds == 2.0 and history[0].claim_path == "claims/claim-1.json"
        assert history[0].lease_expires_at is None and history[0].finished_at is not None
        assert history[1].error is None and history[1].attempts == 2
        assert history[2].worker_id == "w3" and history[2].pid == os.getpid()
        stats = ledger.stats()
        assert stats.packets == 3 and stats.packet_names == 1
        assert stats.by_state == {"done": 2, "processing": 1}

        # The lease of version 3 runs out: another worker takes it, the first one loses it.
        clock.advance(61)
        assert ledger.stats().stale_processing == 1
        taken = ledger.claim_packet("p1", "p1.pdf", SHA_C, "w4", 60)
        assert isinstance(taken, Claimed) and taken.reclaimed and taken.attempt == 2
        with pytest.raises(LeaseLostError, match="w3"):
            ledger.mark_done(third, "claim-3")
        with pytest.raises(LeaseLostError):
            ledger.renew_lease(third)
        taken = ledger.renew_lease(taken, 120)
        ledger.mark_done(taken, "claim-3")
        assert ledger.packet_history("p1")[2].worker_id == "w4"

        # The packet goes back to its first bytes: they are the newest version now.
        back = ledger.claim_packet("p1", "p1.pdf", SHA_A, "w5", 60)
        assert isinstance(back, Claimed) and back.version == 4 and back.attempt == 2
        assert back.previous_claim_id == "claim-3" and back.packet_id == first.packet_id
        ledger.mark_done(back, "claim-1")
        done = ledger.claim_packet("p1", "p1.pdf", SHA_A, "w5", 60)
        assert isinstance(done, Skip) and done.reason == "done" and done.version == 4
        assert [r.version for r in ledger.packet_history("p1")] == [2, 3, 4]

    assert sql, "statements were recorded"
    sqlite_only = ("PRAGMA", "BEGIN IMMEDIATE", "INSERT OR", "AUTOINCREMENT")
    leaked = [s for s in sql if any(word in s.upper() for word in sqlite_only)]
    assert not leaked


def test_postgres_heartbeat_keeps_a_long_packet_from_being_taken_over(postgres_url: str) -> None:
    with Ledger.open(postgres_url) as ledger:
        held = ledger.claim_packet("p1", "p1.pdf", SHA_A, "w1", 1.2)
        assert isinstance(held, Claimed)
        with ledger.keep_alive(held, 1.2):
            time.sleep(3.0)  # two and a half leases
            busy = ledger.claim_packet("p1", "p1.pdf", SHA_A, "w2", 60)
            assert isinstance(busy, Skip) and busy.reason == "in_progress"
        ledger.mark_done(held, "claim-1")
        other = ledger.claim_packet("p2", "p2.pdf", SHA_B, "w1", 0.3)
        assert isinstance(other, Claimed)
        time.sleep(0.5)  # no heartbeat: the lease runs out and another worker takes over
        taken = ledger.claim_packet("p2", "p2.pdf", SHA_B, "w2", 60)
        assert isinstance(taken, Claimed) and taken.reclaimed


def test_postgres_schema_and_secret_shared_by_every_opener(postgres_url: str) -> None:
    with Ledger.open(postgres_url) as one, Ledger.open(postgres_url) as two:
        assert one.patient_key_for("Jane Doe", "1980-02-29") == two.patient_key_for(
            "doe jane", "1980-02-29"
        )
        tables = set(inspect(one.engine).get_table_names())
        assert {"packets", "claims", "claim_invoices", "claim_keys", "ledger_meta"} <= tables
        columns = {c["name"]: c for c in inspect(one.engine).get_columns("packets")}
        assert not columns["lease_expires_at"]["type"].timezone  # naive UTC, as on SQLite


def _f(value: str | float | None) -> ExtractedField:
    return ExtractedField(value=value, confidence=0.9)


def _claim(claim_id: str, invoice: str, npi: str = "1234567893", member: str = "M1") -> Claim:
    return Claim(
        claim_id=claim_id,
        packet=PacketInfo(source=f"{claim_id}.pdf", sha256=SHA_A, files=["x.pdf"], page_count=1),
        documents=[
            ClaimDocument(
                doc_type="invoice",
                confidence=0.9,
                pages=[PageRef(file="x.pdf", page=1)],
                fields={
                    "invoice_number": _f(invoice),
                    "provider_npi": _f(npi),
                    "invoice_date": _f("2026-02-10"),
                    "total": _f(100.0),
                },
            )
        ],
        fields=ClaimFields(
            patient_name=_f("Jane Q Doe"),
            patient_dob=_f("1980-02-29"),
            member_id=_f(member),
            service_date_from=_f("2026-02-10"),
            service_date_to=_f("2026-02-12"),
            total_billed=_f(100.0),
        ),
        fraud=Fraud(score=0.2, band="low"),
        status="ready",
    )


def test_postgres_history_lookups_and_overlong_keys(postgres_url: str) -> None:
    """PostgreSQL enforces column widths SQLite ignores: an OCR'd invoice number of 300
    characters must still be stored and found, not fail the packet."""
    garbage = "INV" + "7" * 300
    with Ledger.open(postgres_url) as ledger:
        history = LedgerClaimHistory(ledger)
        history.add(_claim("c1", "INV-001"), packet_name="p1")
        history.add(_claim("c2", "inv 001"), packet_name="p2")
        history.add(_claim("c3", garbage, member="M" * 400), packet_name="p3")
        history.add(_claim("c4", garbage, member="M" * 400), packet_name="p4")
        assert [i.claim_id for i in ledger.invoices("1234567893", "INV001")] == ["c1", "c2"]
        assert [i.claim_id for i in ledger.invoices("1234567893", garbage, "c3")] == ["c4"]
        assert [h.claim_id for h in history.by_invoice_number("1234567893", garbage, "c4")] == [
            "c3"
        ]
        key = ledger.patient_key_for("doe, jane q.", "1980-02-29")
        assert [c.claim_id for c in ledger.claims_by_patient(key)] == ["c1", "c2", "c3", "c4"]
        window = ledger.claims_by_provider("1234567893", "2026-02-11", "2026-02-28")
        assert [c.claim_id for c in window] == ["c1", "c2", "c3", "c4"]
        first = ledger.claims_by_packet_sha256(SHA_A)[0]
        again = history.add(_claim("c1", "INV-002"), packet_name="p1")
        assert again.created_at == first.created_at
        assert ledger.stats().claims == 4 and ledger.stats().invoices == 4


def test_postgres_threads_race_for_leases_and_each_packet_is_won_once(postgres_url: str) -> None:
    """Round 1 races on new rows (insert), round 2 on expired leases (row lock + guarded update),
    round 3 finishes: only the holder of each packet may mark it done."""
    Ledger.open(postgres_url).close()
    clock = FakeClock()
    names = [f"packet-{i}" for i in range(20)]
    workers = 4
    barrier = threading.Barrier(workers + 1)
    won: list[dict[str, list[str]]] = [{name: [] for name in names} for _ in range(2)]
    finished: dict[str, list[str]] = {name: [] for name in names}
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(worker: str) -> None:
        try:
            with Ledger.open(postgres_url, clock=clock) as ledger:
                mine: list[Claimed] = []
                for round_ in range(2):
                    barrier.wait(timeout=30)
                    for name in names:
                        result = ledger.claim_packet(name, name, SHA_A, worker, 60)
                        if isinstance(result, Claimed):
                            assert result.reclaimed == (round_ == 1)
                            mine.append(result)
                            with lock:
                                won[round_][name].append(worker)
                    barrier.wait(timeout=30)
                barrier.wait(timeout=30)
                for claimed in mine:
                    try:
                        ledger.mark_done(claimed, f"claim-{claimed.name}")
                    except LeaseLostError:
                        continue
                    with lock:
                        finished[claimed.name].append(worker)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(workers)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=30)  # round 1 starts
    barrier.wait(timeout=30)  # round 1 done
    clock.advance(120)  # every lease has run out
    barrier.wait(timeout=30)  # round 2 starts
    barrier.wait(timeout=30)  # round 2 done
    barrier.wait(timeout=30)  # everyone marks done what they hold
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    for round_ in won:
        assert all(len(winners) == 1 for winners in round_.values()), round_
    assert finished == {name: won[1][name] for name in names}
    with Ledger.open(postgres_url) as ledger:
        assert ledger.stats().by_state == {"done": len(names)}


_RACER = textwrap.dedent(
    """
    import json, sys, time
    from pipeline.ledger import Claimed, Ledger
    url, worker, start, count = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    while time.time() < start:
        time.sleep(0.001)
    ledger = Ledger.open(url)  # on an empty database: the racers create the tables together
    won = []
    for i in range(count):
        result = ledger.claim_packet(f"packet-{i}", "inbox", "a" * 64, worker, 60)
        if isinstance(result, Claimed):
            won.append(result.name)
            ledger.mark_done(result, f"claim-{i}")
    print(json.dumps(won))
    """
)


def test_postgres_processes_on_an_empty_database_never_both_claim(postgres_url: str) -> None:
    count = 40
    start = str(time.time() + 2.5)  # all are imported by then; they open and race together
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, postgres_url, f"proc{i}", start, str(count)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        for i in range(3)
    ]
    results = []
    for racer in racers:
        stdout, stderr = racer.communicate(timeout=120)
        assert racer.returncode == 0, stderr
        results.append(set(json.loads(stdout)))
    assert sum(len(r) for r in results) == count
    assert set().union(*results) == {f"packet-{i}" for i in range(count)}
    with Ledger.open(postgres_url) as ledger:
        assert ledger.stats().by_state == {"done": count}
        assert all(len(ledger.packet_history(f"packet-{i}")) == 1 for i in range(count))


def test_postgres_url_errors_never_show_the_password(postgres_server, tmp_path: Path) -> None:
    missing = tmp_path / "no-server-here"
    missing.mkdir()
    with pytest.raises(LedgerError) as caught:
        Ledger.open(f"postgresql+psycopg://claims:hunter2@/claims?host={missing}")
    assert "hunter2" not in str(caught.value) and "***" in str(caught.value)
    with pytest.raises(LedgerError, match="supported: sqlite, postgresql"):
        Ledger.open("mysql://claims:hunter2@localhost/claims")
    # A plain postgresql:// URL gets the installed psycopg driver, not psycopg2.
    plain = postgres_server.create_database("t_plain_url").replace(
        "postgresql+psycopg://", "postgresql://"
    )
    with Ledger.open(plain) as ledger:
        assert ledger.engine.dialect.driver == "psycopg"
        assert isinstance(ledger.claim_packet("p1", "p1.pdf", SHA_A, "w1", 60), Claimed)
