from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.users import users_app
from pipeline.errors import ReviewError
from pipeline.fraud.registry import read_labels
from pipeline.review.store import Correction, open_store
from pipeline.schema import Source


def test_store_add_user_and_authenticate(tmp_path: Path):
    store = open_store(tmp_path)
    store.add_user("ann", "adjuster", "s3cret")
    assert store.authenticate("ann", "s3cret").role == "adjuster"
    assert store.authenticate("ann", "wrong") is None
    assert store.authenticate("nobody", "s3cret") is None
    with sqlite3.connect(tmp_path / "review.sqlite") as conn:
        (digest,) = conn.execute("SELECT password_hash FROM users").fetchone()
    assert digest.startswith("$argon2") and "s3cret" not in digest


def test_store_file_is_owner_only(tmp_path: Path):
    open_store(tmp_path)
    assert stat.S_IMODE((tmp_path / "review.sqlite").stat().st_mode) == 0o600


def test_store_refuses_empty_password_and_unknown_role(tmp_path: Path):
    store = open_store(tmp_path)
    with pytest.raises(ReviewError, match="empty password"):
        store.add_user("ann", "adjuster", "")
    with pytest.raises(ReviewError, match="valid roles: adjuster, analyst, admin"):
        store.add_user("ann", "boss", "pw")
    assert store.users() == []


def test_store_audit_is_append_only(tmp_path: Path):
    store = open_store(tmp_path)
    store.audit("ann", "view", "/claims/x", "x")
    with sqlite3.connect(tmp_path / "review.sqlite") as conn, pytest.raises(sqlite3.DatabaseError):
        conn.execute("DELETE FROM audit")
    with sqlite3.connect(tmp_path / "review.sqlite") as conn, pytest.raises(sqlite3.DatabaseError):
        conn.execute("UPDATE audit SET who = 'eve'")
    assert [e.who for e in store.audit_log()] == ["ann"]


def test_store_labels_csv_is_what_fraud_train_reads(tmp_path: Path):
    store = open_store(tmp_path)
    store.set_label("clm-1", 1, "ned")
    store.set_label("clm-2", 0, "ned")
    store.set_label("clm-1", 0, "ned")
    path = tmp_path / "labels.csv"
    path.write_text(store.labels_csv())
    assert read_labels([path]) == {"clm-1": 0, "clm-2": 0}
    with pytest.raises(ReviewError, match="1 \\(fraud\\) or 0"):
        store.set_label("clm-3", 2, "ned")


def test_store_feedback_jsonl_holds_old_new_and_source(tmp_path: Path):
    import json

    store = open_store(tmp_path)
    box = Source(file="a.pdf", page=2, bbox=(0.1, 0.2, 0.3, 0.4))
    store.add_corrections(
        [
            Correction(
                claim_id="c",
                version=2,
                action="edit",
                path="fields.member_id",
                old="A8C",
                new="ABC",
                source=box,
                who="ann",
                at="2026-01-01T00:00:00+00:00",
            ),
            Correction(
                claim_id="c",
                version=2,
                action="status",
                path="status",
                old="needs_review",
                new="ready",
                who="ann",
                at="2026-01-01T00:00:00+00:00",
            ),
        ]
    )
    lines = [json.loads(x) for x in store.feedback_jsonl().splitlines()]
    assert lines == [
        {
            "claim_id": "c",
            "field": "fields.member_id",
            "action": "edit",
            "old": "A8C",
            "new": "ABC",
            "source": {"file": "a.pdf", "page": 2, "bbox": [0.1, 0.2, 0.3, 0.4]},
            "who": "ann",
            "when": "2026-01-01T00:00:00+00:00",
        }
    ]


def test_users_cli_add_reads_password_from_stdin(tmp_path: Path):
    result = CliRunner().invoke(
        users_app,
        ["add", "ada", "--role", "admin", "--out", str(tmp_path)],
        input="pw-from-stdin\n",
    )
    assert result.exit_code == 0, result.output
    assert open_store(tmp_path).authenticate("ada", "pw-from-stdin").role == "admin"


def test_users_cli_refuses_empty_password_and_bad_role(tmp_path: Path):
    runner = CliRunner()
    empty = runner.invoke(
        users_app, ["add", "ada", "--role", "admin", "--out", str(tmp_path)], input="\n"
    )
    assert empty.exit_code == 2 and "empty password" in empty.output
    bad = runner.invoke(
        users_app, ["add", "ada", "--role", "root", "--out", str(tmp_path)], input="pw\n"
    )
    assert bad.exit_code == 2 and "valid roles" in bad.output
    assert open_store(tmp_path).users() == []
