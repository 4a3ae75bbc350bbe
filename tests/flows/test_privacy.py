"""PHI care: a full run logs packet and field names, never the patients' values."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from pipeline.synth import generate_corpus


@pytest.mark.slow
def test_privacy_logs_of_a_full_run_hold_no_patient_values(
    prefect_harness, tmp_path: Path, caplog, capfd
):
    from flows.batch import batch_flow_for

    truths = generate_corpus(tmp_path / "corpus", packets=3, seed=512, profile="digital", workers=1)
    (tmp_path / "corpus" / "inbox" / "broken.pdf").write_bytes(b"%PDF-1.7 truncated")
    out = tmp_path / "out"
    caplog.set_level(logging.DEBUG)
    summary = batch_flow_for(1)(
        inbox=tmp_path / "corpus" / "inbox", out=out, workers=1, show_progress=True
    )
    assert summary.claims_written == 3 and summary.quarantined == 1

    captured = capfd.readouterr()
    logged = caplog.text + captured.out + captured.err
    assert "broken.pdf" in logged  # packet names are logged
    secrets = set()
    for truth in truths:
        for name in ("patient_name", "patient_dob", "member_id", "policy_number"):
            value = truth.fields.get(name)
            if isinstance(value, str) and len(value) > 4:
                secrets.add(value)
        for document in truth.documents:
            for key in ("invoice_number", "provider_npi"):
                value = document.fields.get(key)
                if isinstance(value, str) and len(value) > 4:
                    secrets.add(value)
    assert secrets
    leaked = sorted(s for s in secrets if s in logged or s.upper() in logged)
    assert not leaked, f"patient values in the logs: {len(leaked)}"

    # Outputs hold patient data: owner-only.
    for path in [*out.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path.relative_to(out)} is readable by others ({oct(mode)})"
