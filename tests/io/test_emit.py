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
