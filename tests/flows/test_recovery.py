"""A run killed with SIGKILL mid-batch: the next run finishes the rest, exactly once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.synth import generate_corpus

CLI = [sys.executable, "-c", "from flows.cli import main; main()"]


def _run(inbox: Path, out: Path, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "OMP_THREAD_LIMIT": "1"}
    return subprocess.Popen(
        [*CLI, "run", str(inbox), "--out", str(out), "--workers", "1", "--quiet"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        **kwargs,
    )


def _children(pid: int, command: str) -> list[int]:
    """Child processes of `pid` whose command line mentions `command` (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            if command.encode() in cmdline:
                found.append(int(child))
    return found


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.slow
def test_recovery_kill_mid_batch_then_rerun_gives_one_claim_per_packet(tmp_path: Path):
    generate_corpus(tmp_path / "corpus", packets=8, seed=99, profile="digital", workers=1)
    inbox = tmp_path / "corpus" / "inbox"
    out = tmp_path / "out"

    first = _run(inbox, out)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if len(list((out / "claims").glob("*.json"))) >= 2 or first.poll() is not None:
            break
        time.sleep(0.1)
    servers = _children(first.pid, "uvicorn")
    workers = _children(first.pid, "spawn_main")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    # Killed, the run leaves no process behind: not its temporary Prefect server, not its
    # reading workers.
    assert servers, "the run should have started Prefect's temporary server"
    assert workers, "the run should have started a reading worker"
    left = [*servers, *workers]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(pid) for pid in left):
        time.sleep(0.1)
    assert not [pid for pid in left if _alive(pid)]
    done_before = len(list((out / "claims").glob("*.json")))
    assert done_before < 8, "the first run should have been killed mid-batch"

    second = _run(inbox, out)
    output, _ = second.communicate(timeout=600)
    assert second.returncode == 0, output.decode(errors="replace")[-2000:]

    claims = [json.loads(p.read_text()) for p in sorted((out / "claims").glob("*.json"))]
    sources = sorted(c["packet"]["source"] for c in claims)
    assert sources == sorted(p.name for p in inbox.iterdir())
    assert not [p for p in out.rglob("*.tmp")], "no partial file may remain"
    with sqlite3.connect(out / "ledger.sqlite") as db:
        states = db.execute("select state, count(*) from packets group by state").fetchall()
    assert states == [("done", 8)]

    # A third run has nothing left to do and writes no new claim.
    third = _run(inbox, out)
    output, _ = third.communicate(timeout=600)
    assert third.returncode == 0
    assert len(list((out / "claims").glob("*.json"))) == 8
    manifests = sorted((out / "batches").glob("*/manifest.json"))
    last = json.loads(manifests[-1].read_text())
    assert last["counts"]["skipped"] == 8 and last["counts"]["claims"] == 0
