from __future__ import annotations

import json
import os
import stat

import pytest

from pipeline.io import emit
from pipeline.io.emit import (
    QuarantineRecord,
    atomic_write_json,
    atomic_write_text,
    write_quarantine,
)


def test_emit_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "claims" / "c.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"a": 2, "b": [1, 2]})
    assert json.loads(target.read_text()) == {"a": 2, "b": [1, 2]}
    assert [p.name for p in target.parent.iterdir()] == ["c.json"]


def test_emit_outputs_are_owner_only(tmp_path):
    target = atomic_write_text(tmp_path / "out" / "x.json", "{}")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o700


def test_emit_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "c.json"
    atomic_write_text(target, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(emit.os, "replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["c.json"]


def test_emit_quarantine_record_has_reason(tmp_path):
    path = write_quarantine(
        tmp_path,
        QuarantineRecord(
            packet="bad.pdf",
            path="/in/bad.pdf",
            sha256=None,
            reason="zero-byte file",
            error="UnsupportedFileError",
            quarantined_at="2026-01-01T00:00:00+00:00",
        ),
    )
    assert path == tmp_path / "quarantine" / "bad.pdf.json"
    assert json.loads(path.read_text())["reason"] == "zero-byte file"


def _killed_write(target, age: float = 0.0):
    """The temp file a write of `target` killed before its rename leaves behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.parent / f".{target.name}.k1ll3d_x.tmp"
    partial.write_text('{"half": ')
    if age:
        then = partial.stat().st_mtime - age
        os.utime(partial, (then, then))
    return partial


def test_emit_discard_partial_writes_removes_only_that_files_temps(tmp_path):
    target = tmp_path / "fhir" / "clm-1.json"
    partial = _killed_write(target)
    other = _killed_write(tmp_path / "fhir" / "clm-10.json")
    longer = tmp_path / "fhir" / ".clm-1.json.x.json.abcdefgh.tmp"  # a file named clm-1.json.x.json
    longer.write_text("")
    atomic_write_text(target, "{}")

    assert emit.discard_partial_writes(target) == [partial]
    assert sorted(p.name for p in target.parent.iterdir()) == sorted(
        ["clm-1.json", other.name, longer.name]
    )
    assert emit.discard_partial_writes(tmp_path / "absent" / "x.json") == []


def test_emit_sweep_partial_writes_takes_old_temps_and_leaves_live_ones(tmp_path):
    old = _killed_write(tmp_path / "batches" / "b1" / "summary.json", age=7200)
    young = _killed_write(tmp_path / "claims" / "clm-2.json", age=5)
    hidden = tmp_path / "claims" / ".keep"
    hidden.write_text("")
    old_time = hidden.stat().st_mtime - 7200
    os.utime(hidden, (old_time, old_time))

    assert emit.sweep_partial_writes(tmp_path) == [old]
    assert young.exists() and hidden.exists()
    assert emit.sweep_partial_writes(tmp_path, older_than=0) == [young]
    assert emit.sweep_partial_writes(tmp_path / "absent") == []
