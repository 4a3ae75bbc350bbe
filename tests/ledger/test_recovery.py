"""kill -9 mid-batch: the next run re-claims what the dead run held and OUT has one claim each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipeline.ledger import Claimed, Ledger, Skip, worker_identity

REPO = Path(__file__).resolve().parents[2]

# A miniature batch: claim, write the claim file atomically by claim id, mark done.
_RUN = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from pipeline.io.emit import atomic_write_json
    from pipeline.ledger import Claimed, Ledger, worker_identity
    from pipeline.schema import Claim, PacketInfo

    def run(out: Path, names: list[str], pause: float) -> None:
        ledger = Ledger.open(out / "ledger.sqlite")
        worker = worker_identity()
        for name in names:
            sha = name.encode().hex().ljust(64, "0")
            got = ledger.claim_packet(name, name + ".pdf", sha, worker, 600)
            if not isinstance(got, Claimed):
                continue
            print("claimed", name, flush=True)
            time.sleep(pause)  # reading the packet
            claim = Claim(
                claim_id="claim-" + name,
                packet=PacketInfo(source=name + ".pdf", sha256=sha, files=[name + ".pdf"], page_count=1),
            )
            path = atomic_write_json(out / "claims" / f"{claim.claim_id}.json", claim)
            ledger.mark_done(got, claim.claim_id, path)
            print("done", name, flush=True)

    if __name__ == "__main__":
        run(Path(sys.argv[1]), sys.argv[3:], float(sys.argv[2]))
    """
)


@pytest.mark.slow
def test_recovery_after_kill_9_finishes_with_one_claim_per_packet(tmp_path: Path) -> None:
    out = tmp_path / "out"
    script = tmp_path / "mini_run.py"
    script.write_text(_RUN)
    names = [f"p{i}" for i in range(6)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    doomed = subprocess.Popen(
        [sys.executable, str(script), str(out), "30", *names],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert doomed.stdout is not None
    assert doomed.stdout.readline().split() == ["claimed", "p0"]
    os.kill(doomed.pid, signal.SIGKILL)  # dies holding p0 with a 600 s lease
    doomed.wait(timeout=10)
    doomed.stdout.close()

    with Ledger.open(out / "ledger.sqlite") as ledger:
        assert ledger.stats().by_state == {"processing": 1}
    finished = subprocess.run(
        [sys.executable, str(script), str(out), "0", *names],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.count("done") == len(names)
    files = sorted(p.name for p in (out / "claims").glob("*.json"))
    assert files == [f"claim-{name}.json" for name in names]
    with Ledger.open(out / "ledger.sqlite") as ledger:
        assert ledger.stats().by_state == {"done": len(names)}
        p0 = ledger.packet_history("p0")
        assert len(p0) == 1 and p0[0].attempts == 2
        again = ledger.claim_packet("p0", "p0.pdf", p0[0].sha256, worker_identity(), 60)
        assert isinstance(again, Skip) and again.reason == "done"
        assert not isinstance(again, Claimed)
