"""The review app's own database, `OUT/review.sqlite`: users, corrections, notes, labels, audit.

Why a separate file: the ledger belongs to the batch flow and its schema is not ours to
change. This file is owner-only (0600) because corrections and notes hold patient values;
the audit log holds only who, when, what route and which claim or field — never values.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict

from pipeline.errors import ReviewError
from pipeline.schema import FieldValue, Source

__all__ = [
    "ROLES",
    "Role",
    "REVIEW_DB_NAME",
    "User",
    "Correction",
    "Note",
    "AuditEntry",
    "ReviewStore",
    "open_store",
]

Role = Literal["adjuster", "analyst", "admin"]
ROLES: tuple[str, ...] = ("adjuster", "analyst", "admin")
REVIEW_DB_NAME = "review.sqlite"

CorrectionAction = Literal["edit", "confirm", "doc_type", "status", "notice", "label", "carried"]
"""`carried`: an earlier claim's correction re-applied by the batch to the claim superseding it
(`pipeline.review.supersede`); `who` is the adjuster who made it."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    claim_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    action TEXT NOT NULL,
    path TEXT NOT NULL,
    old TEXT,
    new TEXT,
    source TEXT,
    who TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS corrections_claim ON corrections (claim_id);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    claim_id TEXT NOT NULL,
    text TEXT NOT NULL,
    who TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS labels (
    claim_id TEXT PRIMARY KEY,
    label INTEGER NOT NULL CHECK (label IN (0, 1)),
    who TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    who TEXT,
    action TEXT NOT NULL,
    route TEXT NOT NULL,
    claim_id TEXT,
    detail TEXT
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class User(_Record):
    name: str
    role: Role


class Correction(_Record):
    """One change an adjuster made; `old`/`new` hold the values (this table is owner-only)."""

    claim_id: str
    version: int
    action: CorrectionAction
    path: str
    old: FieldValue | bool = None
    new: FieldValue | bool = None
    source: Source | None = None
    who: str
    at: str


class Note(_Record):
    claim_id: str
    text: str
    who: str
    at: str


class AuditEntry(_Record):
    at: str
    who: str | None
    action: str
    route: str
    claim_id: str | None
    detail: str | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _secure(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    os.chmod(path, 0o600)


class ReviewStore:
    """Plain functions over one SQLite file; every call opens and closes its own connection
    so the web server's worker threads never share one."""

    def __init__(self, path: Path, hasher: PasswordHasher | None = None) -> None:
        self.path = path
        self._hasher = hasher or PasswordHasher()
        _secure(path)
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30.0)
        try:
            with conn:
                yield conn
        finally:
            conn.close()

    # -- users -----------------------------------------------------------------------------

    def add_user(self, name: str, role: str, password: str) -> User:
        """Create a user, or reset an existing user's role and password."""
        name = name.strip()
        if not name or any(c.isspace() for c in name):
            raise ReviewError(f"user name {name!r} must be non-empty and without spaces")
        if role not in ROLES:
            raise ReviewError(f"unknown role {role!r}; valid roles: {', '.join(ROLES)}")
        if not password:
            raise ReviewError(f"refusing an empty password for user {name!r}")
        digest = self._hasher.hash(password)
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET role = excluded.role, "
                "password_hash = excluded.password_hash",
                (name, role, digest, _now()),
            )
        return User(name=name, role=role)  # type: ignore[arg-type]

    def users(self) -> list[User]:
        with self._connect() as conn:
            rows = conn.execute("SELECT name, role FROM users ORDER BY name").fetchall()
        return [User(name=n, role=r) for n, r in rows]

    def user(self, name: str) -> User | None:
        with self._connect() as conn:
            row = conn.execute("SELECT name, role FROM users WHERE name = ?", (name,)).fetchone()
        return User(name=row[0], role=row[1]) if row else None

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password matches; None for an unknown name or a wrong password."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT name, role, password_hash FROM users WHERE name = ?", (name,)
            ).fetchone()
        if row is None:
            # Same work for unknown names, so timing does not reveal which names exist.
            self._hasher.hash(password or "x")
            return None
        try:
            self._hasher.verify(row[2], password)
        except (VerificationError, InvalidHashError):
            return None
        return User(name=row[0], role=row[1])

    # -- corrections and notes -------------------------------------------------------------

    def add_corrections(self, corrections: list[Correction]) -> None:
        with self._connect() as conn:
            conn.executemany(
                "INSERT INTO corrections (claim_id, version, action, path, old, new, source, who, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        c.claim_id,
                        c.version,
                        c.action,
                        c.path,
                        json.dumps(c.old),
                        json.dumps(c.new),
                        c.source.model_dump_json() if c.source else None,
                        c.who,
                        c.at,
                    )
                    for c in corrections
                ],
            )

    def corrections(self, claim_id: str | None = None) -> list[Correction]:
        query = "SELECT claim_id, version, action, path, old, new, source, who, at FROM corrections"
        args: tuple[str, ...] = ()
        if claim_id is not None:
            query += " WHERE claim_id = ?"
            args = (claim_id,)
        with self._connect() as conn:
            rows = conn.execute(query + " ORDER BY id", args).fetchall()
        return [
            Correction(
                claim_id=r[0],
                version=r[1],
                action=r[2],
                path=r[3],
                old=json.loads(r[4]) if r[4] is not None else None,
                new=json.loads(r[5]) if r[5] is not None else None,
                source=Source.model_validate_json(r[6]) if r[6] else None,
                who=r[7],
                at=r[8],
            )
            for r in rows
        ]

    def add_note(self, claim_id: str, text: str, who: str) -> Note:
        text = text.strip()
        if not text:
            raise ReviewError(f"refusing an empty note on claim {claim_id}")
        note = Note(claim_id=claim_id, text=text, who=who, at=_now())
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO notes (claim_id, text, who, at) VALUES (?, ?, ?, ?)",
                (note.claim_id, note.text, note.who, note.at),
            )
        return note

    def notes(self, claim_id: str) -> list[Note]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT claim_id, text, who, at FROM notes WHERE claim_id = ? ORDER BY id",
                (claim_id,),
            ).fetchall()
        return [Note(claim_id=r[0], text=r[1], who=r[2], at=r[3]) for r in rows]

    # -- fraud labels ----------------------------------------------------------------------

    def set_label(self, claim_id: str, label: int, who: str) -> None:
        if label not in (0, 1):
            raise ReviewError(f"fraud label must be 1 (fraud) or 0 (not fraud), got {label!r}")
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO labels (claim_id, label, who, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(claim_id) DO UPDATE SET label = excluded.label, "
                "who = excluded.who, at = excluded.at",
                (claim_id, label, who, _now()),
            )

    def labels(self) -> dict[str, int]:
        with self._connect() as conn:
            rows = conn.execute("SELECT claim_id, label FROM labels ORDER BY claim_id").fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def labels_csv(self) -> str:
        """`claim_id,label` — the file `claim-intake fraud train --labels` reads."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["claim_id", "label"])
        for claim_id, label in self.labels().items():
            writer.writerow([claim_id, label])
        return buffer.getvalue()

    def feedback_jsonl(self) -> str:
        """Value corrections as extraction feedback, one JSON object per line."""
        lines = []
        for c in self.corrections():
            if c.action not in ("edit", "confirm", "doc_type"):
                continue
            record = {
                "claim_id": c.claim_id,
                "field": c.path,
                "action": c.action,
                "old": c.old,
                "new": c.new,
                "source": c.source.model_dump() if c.source else None,
                "who": c.who,
                "when": c.at,
            }
            lines.append(json.dumps(record, ensure_ascii=False))
        return "".join(line + "\n" for line in lines)

    # -- audit -----------------------------------------------------------------------------

    def audit(
        self,
        who: str | None,
        action: str,
        route: str,
        claim_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Append one entry; `detail` names fields or counts, never a patient value."""
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO audit (at, who, action, route, claim_id, detail) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (_now(), who, action, route, claim_id, detail),
            )

    def audit_log(self, claim_id: str | None = None, limit: int = 1000) -> list[AuditEntry]:
        query = "SELECT at, who, action, route, claim_id, detail FROM audit"
        args: list[object] = []
        if claim_id is not None:
            query += " WHERE claim_id = ?"
            args.append(claim_id)
        query += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        with self._connect() as conn:
            rows = conn.execute(query, args).fetchall()
        return [
            AuditEntry(at=r[0], who=r[1], action=r[2], route=r[3], claim_id=r[4], detail=r[5])
            for r in rows
        ]


def open_store(out: Path) -> ReviewStore:
    """The review database of the run output `out` (created owner-only on first use)."""
    return ReviewStore(Path(out) / REVIEW_DB_NAME)
