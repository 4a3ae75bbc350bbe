"""A throw-away PostgreSQL server for the ledger tests: initdb in a temp dir, a unix socket
there (no TCP port to collide with), trust auth, fsync off. Started once per session.

PostgreSQL refuses to run as root, so under root the server runs as the `postgres` user
(which Debian's package creates) or `nobody`, in a temp dir that user owns.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

__all__ = ["PostgresServer", "find_pg_bin", "PG_MISSING"]

PG_MISSING = (
    "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in PATH or "
    "/usr/lib/postgresql/*/bin; `make test` installs them (apt-get install postgresql)"
)
_TOOLS = ("initdb", "pg_ctl", "postgres")


def _complete(folder: Path) -> bool:
    return all((folder / tool).is_file() and os.access(folder / tool, os.X_OK) for tool in _TOOLS)


def _major(folder: Path) -> int:
    match = re.search(r"/(\d+)/bin$", folder.as_posix())
    return int(match.group(1)) if match else 0


def find_pg_bin() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres, newest Debian version first."""
    found = shutil.which("initdb")
    if found and _complete(Path(found).resolve().parent):
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_major, reverse=True)
    return next((folder for folder in candidates if _complete(folder)), None)


def _server_user() -> tuple[int, int] | None:
    """uid/gid to run the server as: None when we are not root (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root and neither a postgres nor a nobody user exists")


@dataclass
class PostgresServer:
    bin_dir: Path
    root: Path
    user: tuple[int, int] | None

    @property
    def socket_dir(self) -> Path:
        return self.root

    @classmethod
    def start(cls, bin_dir: Path) -> PostgresServer:
        user = _server_user()
        root = Path(tempfile.mkdtemp(prefix="claim-intake-pg-"))
        if user is not None:
            os.chown(root, *user)
        server = cls(bin_dir=bin_dir, root=root, user=user)
        try:
            server._run(
                "initdb",
                "-D",
                str(root / "data"),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "--encoding=UTF8",
                "--locale=C",
            )
            options = (
                f"-k {root} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c max_connections=60"
            )
            server._run(
                "pg_ctl",
                "-D",
                str(root / "data"),
                "-l",
                str(root / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            )
        except BaseException:
            server.stop()
            raise
        return server

    def _run(self, tool: str, *args: str) -> None:
        kwargs: dict[str, object] = {}
        if self.user is not None:
            kwargs = {"user": self.user[0], "group": self.user[1], "extra_groups": []}
        result = subprocess.run(
            [str(self.bin_dir / tool), *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            **kwargs,  # type: ignore[arg-type]
        )
        if result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
            raise RuntimeError(
                f"{tool} failed ({result.returncode}): {result.stderr[-2000:]}\n{tail}"
            )

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host=str(self.socket_dir), user="postgres", dbname=dbname, autocommit=True
        )

    def create_database(self, name: str) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://postgres@/{dbname}?host={self.socket_dir}"

    def stop(self) -> None:
        # If stopping fails the postmaster still shuts itself down within a minute of its
        # lock file going away with the temp dir.
        if (self.root / "data" / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
