"""Golden claim files for sample_docs: a change in what the pipeline extracts shows up here.

Regenerate after an intended change with `UPDATE_GOLDEN=1 .venv/bin/pytest tests/flows/test_golden.py`
and review the diff of tests/golden/ like code.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from pipeline.schema import claim_json_schema

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
VOLATILE = {"processed_at", "pipeline_version"}


def _stable(claim: dict) -> dict:
    return {k: v for k, v in claim.items() if k not in VOLATILE}


@pytest.mark.slow
def test_golden_sample_docs_claims(prefect_harness, tmp_path: Path):
    from flows.batch import batch_flow_for

    out = tmp_path / "out"
    summary = batch_flow_for(1)(inbox=ROOT / "sample_docs" / "inbox", out=out, workers=2)
    assert summary.quarantined == 0
    produced = {p.name: _stable(json.loads(p.read_text())) for p in (out / "claims").glob("*.json")}
    validator = Draft202012Validator(claim_json_schema())
    for name, claim in produced.items():
        errors = [e.message for e in validator.iter_errors(claim)]
        assert not errors, f"{name} does not validate against `claim-intake schema`: {errors[:3]}"
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        GOLDEN.mkdir(parents=True)
        for name, claim in produced.items():
            (GOLDEN / name).write_text(json.dumps(claim, indent=2, sort_keys=True) + "\n")
    expected = {p.name: json.loads(p.read_text()) for p in GOLDEN.glob("*.json")}
    assert sorted(produced) == sorted(expected), (
        "claim ids changed: the same bytes must give the same id"
    )
    for name, claim in produced.items():
        assert json.loads(json.dumps(claim, sort_keys=True)) == expected[name], (
            f"{name} differs from its golden file"
        )
