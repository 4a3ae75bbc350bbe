"""Ledger: skip, versions, racing claimers (threads and processes), leases, history lookups."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.errors import LeaseLostError, LedgerError
from pipeline.ledger import Claimed, Ledger, Skip
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


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_core_skips_done_and_versions_changed_bytes(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        first = ledger.claim_packet("p1", "p1.pdf", SHA_A, "w1", 60)
        assert isinstance(first, Claimed) and first.version == 1 and first.attempt == 1
        busy = ledger.claim_packet("p1", "p1.pdf", SHA_A, "w2", 60)
        assert isinstance(busy, Skip) and busy.reason == "in_progress"
        ledger.mark_done(first, "claim-1", "claims/claim-1.json", seconds=1.5)
        again = ledger.claim_packet("p1", "p1.pdf", SHA_A, "w2", 60)
        assert isinstance(again, Skip) and again.reason == "done" and again.claim_id == "claim-1"
        changed = ledger.claim_packet("p1", "p1.pdf", SHA_B, "w2", 60)
        assert isinstance(changed, Claimed)
        assert changed.version == 2 and changed.previous_claim_id == "claim-1"
        history = ledger.packet_history("p1")
        assert [(r.version, r.state) for r in history] == [(1, "done"), (2, "processing")]
        assert history[0].seconds == 1.5 and history[0].claim_path == "claims/claim-1.json"
        stats = ledger.stats()
        assert stats.packets == 2 and stats.packet_names == 1
        assert stats.by_state == {"done": 1, "processing": 1}


def test_core_released_packet_is_taken_at_once_by_the_next_run(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        first = ledger.claim_packet("p1", "p1.pdf", SHA_A, "w1", 600)
        assert isinstance(first, Claimed)
        assert isinstance(ledger.claim_packet("p1", "p1.pdf", SHA_A, "w2", 600), Skip)
        ledger.release(first)
        again = ledger.claim_packet("p1", "p1.pdf", SHA_A, "w2", 600)
        assert isinstance(again, Claimed) and again.attempt == 2
        ledger.release(first)  # a stale release is a no-op: w2 keeps its lease
        assert isinstance(ledger.claim_packet("p1", "p1.pdf", SHA_A, "w3", 600), Skip)


def test_core_bytes_that_come_back_are_processed_again_as_newest_version(tmp_path: Path) -> None:
    """A, then B, then A again: B's run retired A's claim file, so A must be processed again."""
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        first = ledger.claim_packet("p1", "p1.pdf", SHA_A, "w1", 60)
        assert isinstance(first, Claimed)
        ledger.mark_done(first, "claim-a")
        second = ledger.claim_packet("p1", "p1.pdf", SHA_B, "w1", 60)
        assert isinstance(second, Claimed) and second.previous_claim_id == "claim-a"
        ledger.mark_done(second, "claim-b")
        back = ledger.claim_packet("p1", "p1.pdf", SHA_A, "w2", 60)
        assert isinstance(back, Claimed)
        assert (back.version, back.attempt, back.previous_claim_id) == (3, 2, "claim-b")
        assert isinstance(ledger.claim_packet("p1", "p1.pdf", SHA_A, "w3", 60), Skip)
        ledger.mark_done(back, "claim-a")
        again = ledger.claim_packet("p1", "p1.pdf", SHA_A, "w3", 60)
        assert isinstance(again, Skip) and again.reason == "done" and again.version == 3
        history = ledger.packet_history("p1")
        assert [(r.version, r.sha256, r.claim_id) for r in history] == [
            (2, SHA_B, "claim-b"),
            (3, SHA_A, "claim-a"),
        ]


def test_core_quarantined_retried_unless_asked_not_to(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        first = ledger.claim_packet("p1", "p1.pdf", SHA_A, "w1", 60)
        assert isinstance(first, Claimed)
        ledger.mark_quarantined(first, "encrypted PDF")
        assert ledger.packet_history("p1")[0].error == "encrypted PDF"
        kept = ledger.claim_packet("p1", "p1.pdf", SHA_A, "w2", 60, retry_quarantined=False)
        assert isinstance(kept, Skip) and kept.reason == "quarantined"
        retry = ledger.claim_packet("p1", "p1.pdf", SHA_A, "w2", 60)
        assert isinstance(retry, Claimed) and retry.attempt == 2 and not retry.reclaimed
        assert ledger.discover_packet("p2", "p2/", SHA_B).state == "discovered"
        assert isinstance(ledger.claim_packet("p2", "p2/", SHA_B, "w2", 60), Claimed)


def test_core_expired_lease_is_reclaimed_and_old_worker_loses(tmp_path: Path) -> None:
    clock = FakeClock()
    with Ledger.open(tmp_path / "ledger.sqlite", clock=clock) as ledger:
        first = ledger.claim_packet("p1", "p1.pdf", SHA_A, "w1", 60)
        assert isinstance(first, Claimed)
        clock.advance(30)
        assert isinstance(ledger.claim_packet("p1", "p1.pdf", SHA_A, "w2", 60), Skip)
        first = ledger.renew_lease(first, 60)  # heartbeat: now held until +90
        clock.advance(45)
        assert isinstance(ledger.claim_packet("p1", "p1.pdf", SHA_A, "w2", 60), Skip)
        clock.advance(20)
        assert ledger.stats().stale_processing == 1
        second = ledger.claim_packet("p1", "p1.pdf", SHA_A, "w2", 60)
        assert isinstance(second, Claimed) and second.reclaimed and second.attempt == 2
        with pytest.raises(LeaseLostError, match="w1"):
            ledger.mark_done(first, "claim-1")
        with pytest.raises(LeaseLostError):
            ledger.renew_lease(first)
        ledger.mark_done(second, "claim-1")
        assert ledger.packet_history("p1")[0].state == "done"


def test_core_threads_with_separate_connections_never_both_claim(tmp_path: Path) -> None:
    """Round 1 races on new rows (insert), round 2 on expired leases (guarded update)."""
    path = tmp_path / "ledger.sqlite"
    Ledger.open(path).close()
    clock = FakeClock()
    names = [f"packet-{i}" for i in range(15)]
    workers = 4
    barrier = threading.Barrier(workers + 1)
    won: list[dict[str, list[str]]] = [{name: [] for name in names} for _ in range(2)]
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(worker: str) -> None:
        try:
            with Ledger.open(path, clock=clock) as ledger:
                for round_ in range(2):
                    barrier.wait(timeout=30)
                    for name in names:
                        result = ledger.claim_packet(name, name, SHA_A, worker, 60)
                        if isinstance(result, Claimed):
                            assert result.reclaimed == (round_ == 1)
                            with lock:
                                won[round_][name].append(worker)
                    barrier.wait(timeout=30)
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
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    for round_ in won:
        assert all(len(winners) == 1 for winners in round_.values()), round_


_RACER = textwrap.dedent(
    """
    import json, sys, time
    from pipeline.ledger import Claimed, Ledger
    path, worker, start, count = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    ledger = Ledger.open(path)
    while time.time() < start:
        time.sleep(0.001)
    won = []
    for i in range(count):
        result = ledger.claim_packet(f"packet-{i}", "inbox", "a" * 64, worker, 60)
        if isinstance(result, Claimed):
            won.append(result.name)
    print(json.dumps(won))
    """
)


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


@pytest.mark.slow
def test_core_two_processes_never_both_claim(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger.open(path).close()
    count = 40
    start = str(time.time() + 2.0)  # both are importing by then; they start together
    racers = [_spawn(_RACER, str(path), f"proc{i}", start, str(count)) for i in range(2)]
    results = []
    for racer in racers:
        stdout, stderr = racer.communicate(timeout=60)
        assert racer.returncode == 0, stderr
        results.append(json.loads(stdout))
    first, second = (set(r) for r in results)
    assert not first & second
    assert first | second == {f"packet-{i}" for i in range(count)}


_CRASHER = textwrap.dedent(
    """
    import sys, time
    from pipeline.ledger import Ledger
    ledger = Ledger.open(sys.argv[1])
    ledger.claim_packet("p1", "p1.pdf", "a" * 64, "doomed", 3600)
    print("claimed", flush=True)
    time.sleep(60)
    """
)


def test_core_dead_worker_on_this_host_is_reclaimed_before_lease_ends(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    crasher = _spawn(_CRASHER, str(path))
    assert crasher.stdout is not None
    assert crasher.stdout.readline().strip() == "claimed"
    with Ledger.open(path) as ledger:
        alive = ledger.claim_packet("p1", "p1.pdf", SHA_A, "next-run", 60)
        assert isinstance(alive, Skip) and alive.reason == "in_progress"
        os.kill(crasher.pid, signal.SIGKILL)  # kill -9 mid-packet
        crasher.wait(timeout=10)
        crasher.stdout.close()
        assert crasher.stderr is not None
        crasher.stderr.close()
        taken = ledger.claim_packet("p1", "p1.pdf", SHA_A, "next-run", 60)
        assert isinstance(taken, Claimed) and taken.reclaimed and taken.attempt == 2
        ledger.mark_done(taken, "claim-1")
        assert ledger.stats().by_state == {"done": 1}


def test_core_sqlite_file_is_wal_and_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "ledger.sqlite"
    with Ledger.open(path) as ledger:
        ledger.claim_packet("p1", "p1.pdf", SHA_A, "w1", 60)
        with ledger.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        for file in path.parent.iterdir():
            assert (file.stat().st_mode & 0o777) == 0o600, file.name
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent


def test_core_open_refuses_bad_targets(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="SQLAlchemy URL"):
        Ledger.open("not a url://")
    with Ledger.open(f"sqlite:///{tmp_path / 'via-url.sqlite'}") as ledger:
        assert ledger.stats().packets == 0
    assert ((tmp_path / "via-url.sqlite").stat().st_mode & 0o777) == 0o600


def _f(value: str | float | None) -> ExtractedField:
    return ExtractedField(value=value, confidence=0.9)


def _claim(
    claim_id: str,
    name: str,
    dob: str,
    npi: str,
    invoice: str,
    start: str,
    end: str | None,
    total: float = 100.0,
) -> Claim:
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
                    "invoice_date": _f(start),
                    "total": _f(total),
                },
            )
        ],
        fields=ClaimFields(
            patient_name=_f(name),
            patient_dob=_f(dob),
            service_date_from=_f(start),
            service_date_to=_f(end),
            total_billed=_f(total),
        ),
        fraud=Fraud(score=0.2, band="low"),
        status="ready",
    )


def test_core_history_lookups_without_raw_patient_data(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path, clock=clock) as ledger:
        ledger.record_claim(
            _claim("c1", "Jane Q Doe", "1980-02-29", "1234567893", "INV-001", "2026-01-05", None),
            packet_name="p1",
        )
        clock.advance(60)
        ledger.record_claim(
            _claim(
                "c2",
                "DOE, jane q.",
                "1980-02-29",
                "1234567893",
                "inv 001",
                "2026-02-10",
                "2026-02-12",
            )
        )
        ledger.record_claim(
            _claim(
                "c3", "John Roe", "1975-07-04", "9876543210", "INV-001", "2026-03-01", "2026-03-01"
            )
        )
        dupes = ledger.invoices("1234567893", "INV-001")
        assert [d.claim_id for d in dupes] == ["c1", "c2"]
        assert dupes[0].invoice_date == "2026-01-05" and dupes[0].total == 100.0
        assert [d.claim_id for d in ledger.invoices("123-456-7893", "INV001", "c2")] == ["c1"]
        assert ledger.invoices("1234567893", "INV-999") == []
        key = ledger.patient_key_for("jane doe q", "1980-02-29")
        assert key is not None and len(key) == 64
        assert [c.claim_id for c in ledger.claims_by_patient(key)] == ["c1", "c2"]
        assert ledger.claims_by_patient(ledger.patient_key_for("Jane Doe", "1980-03-01")) == []
        window = ledger.claims_by_provider("1234567893", "2026-02-11", "2026-02-28")
        assert [c.claim_id for c in window] == ["c2"]  # overlaps 02-10..02-12
        assert [
            c.claim_id
            for c in ledger.claims_by_provider("1234567893", "2026-01-01", "2026-12-31", "c1")
        ] == ["c2"]
        with pytest.raises(LedgerError, match="YYYY-MM-DD"):
            ledger.claims_by_provider("1234567893", "01/01/2026", "2026-12-31")
        first = ledger.claims_by_patient(key)[0]
        assert first.fraud_score == 0.2 and first.status == "ready" and first.packet_name == "p1"
        clock.advance(60)
        again = ledger.record_claim(
            _claim("c1", "Jane Q Doe", "1980-02-29", "1234567893", "INV-002", "2026-01-05", None)
        )
        assert again.created_at == first.created_at  # re-recording keeps the first sighting
        assert ledger.invoices("1234567893", "INV-001", None)[0].claim_id == "c2"
        assert ledger.stats().claims == 3 and ledger.stats().invoices == 3
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for secret in (b"Jane", b"jane", b"DOE", b"1980-02-29", b"Roe"):
        assert secret not in raw
