"""The durable ledger of packets and claims (SQLAlchemy Core; SQLite in WAL mode by default).

Why: a batch must survive being killed, two runs on one inbox must not process a packet
twice, and fraud features need the history of earlier claims.

Claiming is atomic. A new packet is claimed by inserting its row: the unique constraint on
(name, sha256) lets exactly one inserter win, the loser sees the winner's row and skips. An
existing row is re-claimed by an UPDATE guarded by its previous state and attempt counter
(compare-and-swap), so of two racers only one changes a row. On SQLite every transaction
starts with BEGIN IMMEDIATE, so a read-then-write never fails half-way on a lock upgrade.
On PostgreSQL (READ COMMITTED) the row is read with SELECT ... FOR UPDATE, so racers queue
on the row lock and the loser then sees the winner's state; finishing a packet locks its row
the same way and checks that the update really changed it. Tables are created under a
transaction-level advisory lock, so workers starting together on an empty database do not
race on CREATE TABLE. No SQLite-only SQL (PRAGMA, BEGIN IMMEDIATE) reaches other backends.

Recovery after kill -9 (or power loss) mid-batch:

1. Packets the dead run had claimed stay in `processing` with its worker id, pid, hostname
   and lease expiry. The next run's `claim_packet` treats such a row as abandoned when the
   lease has run out, or at once when the row was written on this host and its pid is gone
   (`os.kill(pid, 0)`); it re-claims it (`Claimed.reclaimed`, attempt + 1) and processes it.
   A live worker renews its lease while it reads a packet (`keep_alive`), so only a dead or
   stuck one loses it.
2. Packets marked `done` with the same bytes are skipped; a packet whose bytes changed gets a
   new version row and is processed again (`Claimed.previous_claim_id` names the claim it
   supersedes). Bytes that come back after a later version (A, then B, then A again) are
   processed again as the newest version, since B's run retired A's claim file.
3. Claim files are written atomically by the flow and keyed by claim id, which is fixed by
   the packet bytes: re-processing rewrites the same file, so OUT holds one claim per packet.
   A worker that finishes after losing its lease gets `LeaseLostError` from `mark_done`; the
   claim file it wrote is identical to the new owner's.

Limits: pid liveness is only checked for rows written on this host (hostname equal); a
recycled pid looks alive until the lease runs out, which is why the lease exists.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import socket
import threading
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Update,
    and_,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy import delete as sql_delete
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)

from pipeline.errors import LeaseLostError, LedgerError
from pipeline.ledger.models import (
    Claimed,
    ClaimRecord,
    InvoiceRecord,
    LedgerStats,
    PacketRecord,
    Skip,
)
from pipeline.ledger.tables import (
    claim_invoices,
    claim_keys,
    claims,
    ledger_meta,
    metadata,
    packets,
)
from pipeline.schema import Claim

__all__ = [
    "DEFAULT_LEDGER_NAME",
    "DEFAULT_LEASE_SECONDS",
    "LEDGER_BACKENDS",
    "Ledger",
    "default_ledger_path",
    "display_target",
    "ledger_target",
    "worker_identity",
    "patient_key",
]

DEFAULT_LEDGER_NAME = "ledger.sqlite"
DEFAULT_LEASE_SECONDS = 900.0
_BUSY_TIMEOUT_S = 30.0
_CLAIM_RETRIES = 8
_SECRET_KEY = "patient_key_secret"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LEDGER_BACKENDS: tuple[str, ...] = ("sqlite", "postgresql")
_TARGET_HELP = "a file path, sqlite:///path/ledger.sqlite or postgresql+psycopg://user@host:5432/db"
# pg_advisory_xact_lock key held while the tables are created ("claim-intake ledger").
_SCHEMA_LOCK_KEY = 0x636C_6169_6D4C_6467
# Column widths (tables.py) that PostgreSQL enforces and SQLite does not: longer keys are
# stored as their hash, on every backend, so both match them by the same rule.
_KEY_WIDTH = 256
_INVOICE_NUMBER_WIDTH = 128

Clock = Callable[[], datetime]


def default_ledger_path(out: Path) -> Path:
    return out / DEFAULT_LEDGER_NAME


def ledger_target(out: Path, url: str | None = None) -> str | Path:
    """Where OUT's ledger lives: `url` (a shared database) when given, else OUT/ledger.sqlite."""
    return url if url else default_ledger_path(out)


def display_target(target: str | Path) -> str:
    """The ledger target as it may be logged or shown: a URL's password is masked."""
    if isinstance(target, Path) or "://" not in target:
        return str(target)
    try:
        return make_url(target).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable ledger URL>"


def _fit(key: str, width: int) -> str:
    """A key that fits its column: longer ones become their (fixed-length) hash."""
    if len(key) <= width:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def worker_identity() -> str:
    """host:pid:random, unique per worker even when pids are reused."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _normal_name(name: str) -> str:
    # "DOE, Jane Q." and "jane q doe" are one person: case, accents, punctuation, order ignored.
    text = unicodedata.normalize("NFKD", name).casefold()
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    tokens = re.findall(r"\w+", text)
    return " ".join(sorted(tokens))


def patient_key(name: str | None, dob: str | None, secret: bytes) -> str | None:
    """HMAC-SHA256 of the normalised name and ISO birth date; None when either is unknown.

    Keyed so that the ledger file alone cannot be reversed with a table of names and dates.
    """
    if not name or not dob or not _ISO_DATE.match(dob.strip()):
        return None
    normal = _normal_name(name)
    if not normal:
        return None
    message = f"{normal}|{dob.strip()}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _npi(value: object) -> str | None:
    if value is None:
        return None
    digits = re.sub(r"\D", "", str(value))
    return digits if len(digits) == 10 else None


def _invoice_number(value: object) -> str | None:
    if value is None:
        return None
    # "INV-001", "inv 001" and "INV001" are one invoice however it was typed or read.
    text = re.sub(r"[^0-9A-Z]", "", unicodedata.normalize("NFKC", str(value)).upper())
    return text or None


def _iso_date(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text if _ISO_DATE.match(text) else None


def _float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _secure_sqlite_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def _chmod_sidecars(path: Path) -> None:
    for suffix in ("-wal", "-shm", "-journal"):
        sidecar = path.with_name(path.name + suffix)
        if sidecar.exists():
            os.chmod(sidecar, 0o600)


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(url, connect_args={"timeout": _BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's begin event issues BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _server_engine(url: URL) -> Engine:
    # pre-ping: a batch can sit on a pooled connection for minutes while a packet is read.
    return create_engine(url, pool_pre_ping=True)


def _resolve_target(target: str | Path) -> tuple[URL, Path | None]:
    """(SQLAlchemy URL, the SQLite file it names if any) for a path or a URL."""
    if isinstance(target, Path) or "://" not in target:
        path = Path(target)
        return URL.create("sqlite", database=str(path)), path
    try:
        url = make_url(target)
    except ArgumentError as exc:
        raise LedgerError(
            f"ledger target {display_target(target)!r} is neither a file path nor a "
            f"SQLAlchemy URL; give {_TARGET_HELP}"
        ) from exc
    backend = url.get_backend_name()
    if backend not in LEDGER_BACKENDS:
        raise LedgerError(
            f"ledger URL {display_target(target)!r} uses {backend!r}; supported: "
            f"{', '.join(LEDGER_BACKENDS)} ({_TARGET_HELP})"
        )
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")  # the driver this project installs
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        return url, Path(url.database)
    return url, None


def _create_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
        metadata.create_all(conn)


def _held(claimed: Claimed) -> Update:
    """UPDATE of the packet row this claim still holds (same worker, same attempt)."""
    return update(packets).where(
        packets.c.id == claimed.packet_id,
        packets.c.state == "processing",
        packets.c.worker_id == claimed.worker_id,
        packets.c.attempts == claimed.attempt,
    )


class Ledger:
    """Packets and claims of every run over one OUT (or one shared database)."""

    def __init__(self, engine: Engine, secret: bytes, clock: Clock = _utc_now) -> None:
        self.engine = engine
        self._secret = secret
        self._clock = clock
        self._hostname = socket.gethostname()

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        target: str | Path,
        *,
        clock: Clock | None = None,
        patient_key_secret: bytes | None = None,
    ) -> Ledger:
        """A file path opens (or creates) an owner-only SQLite file in WAL mode; a string with
        `://` is a SQLAlchemy URL of SQLite or PostgreSQL (`postgresql+psycopg://...`; a plain
        `postgresql://` uses psycopg too). Errors never show the URL's password."""
        url, sqlite_file = _resolve_target(target)
        shown = display_target(target)
        if sqlite_file is not None:
            _secure_sqlite_file(sqlite_file)
        try:
            sqlite = url.get_backend_name() == "sqlite"
            engine = _sqlite_engine(url) if sqlite else _server_engine(url)
        except (NoSuchModuleError, ImportError) as exc:
            raise LedgerError(
                f"ledger URL {shown!r}: driver {url.drivername!r} is not installed; "
                "use postgresql+psycopg:// (psycopg 3 is a dependency)"
            ) from exc
        try:
            _create_tables(engine)
            secret = cls._load_secret(engine, patient_key_secret)
        except OperationalError as exc:
            engine.dispose()
            raise LedgerError(f"cannot open the ledger at {shown}: {exc.orig}") from exc
        if sqlite_file is not None:
            _chmod_sidecars(sqlite_file)
        return cls(engine, secret, clock or _utc_now)

    @staticmethod
    def _load_secret(engine: Engine, given: bytes | None) -> bytes:
        if given is not None:
            return given
        for _ in range(_CLAIM_RETRIES):
            try:
                with engine.begin() as conn:
                    stored = conn.execute(
                        select(ledger_meta.c.value).where(ledger_meta.c.key == _SECRET_KEY)
                    ).scalar_one_or_none()
                    if stored is not None:
                        return bytes.fromhex(stored)
                    fresh = secrets.token_bytes(32)
                    conn.execute(insert(ledger_meta).values(key=_SECRET_KEY, value=fresh.hex()))
                    return fresh
            except IntegrityError:
                continue  # another process created it first; read theirs
        raise LedgerError("could not read or create the ledger's patient-key secret")

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def _now(self) -> datetime:
        return _naive(self._clock())

    # -- packets ---------------------------------------------------------------------------

    def _abandoned(self, row: Any, now: datetime) -> bool:
        if row.lease_expires_at is None or row.lease_expires_at <= now:
            return True
        return row.hostname == self._hostname and row.pid is not None and not _pid_alive(row.pid)

    def claim_packet(
        self,
        name: str,
        source: str,
        sha256: str,
        worker_id: str,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        *,
        retry_quarantined: bool = True,
    ) -> Claimed | Skip:
        """Take the packet for this worker, or say why not; safe against any number of racers.

        Quarantined packets are tried again by default (a fix may have landed since); pass
        `retry_quarantined=False` to skip them.
        """
        if lease_seconds <= 0:
            raise LedgerError(f"lease_seconds must be > 0, got {lease_seconds!r}")
        for _ in range(_CLAIM_RETRIES):
            try:
                with self._tx() as conn:
                    return self._claim(
                        conn, name, source, sha256, worker_id, lease_seconds, retry_quarantined
                    )
            except IntegrityError:
                continue  # a racer inserted this packet (or this version) first: look again
        raise LedgerError(f"packet {name}: could not claim after {_CLAIM_RETRIES} attempts")

    def _claim(
        self,
        conn: Connection,
        name: str,
        source: str,
        sha256: str,
        worker_id: str,
        lease_seconds: float,
        retry_quarantined: bool,
    ) -> Claimed | Skip:
        now = self._now()
        lease = now + timedelta(seconds=lease_seconds)
        holder = {
            "state": "processing",
            "worker_id": worker_id,
            "pid": os.getpid(),
            "hostname": self._hostname,
            "lease_expires_at": lease,
            "started_at": now,
            "finished_at": None,
            "seconds": None,
            "error": None,
            "source": source,
        }
        row = conn.execute(
            select(packets)
            .where(packets.c.name == name, packets.c.sha256 == sha256)
            .with_for_update()
        ).first()
        previous = conn.execute(
            select(packets.c.version, packets.c.claim_id)
            .where(packets.c.name == name, packets.c.sha256 != sha256)
            .order_by(packets.c.version.desc())
            .limit(1)
        ).first()
        previous_claim = previous.claim_id if previous is not None else None
        if row is None:
            version = (previous.version + 1) if previous is not None else 1
            result = conn.execute(
                insert(packets).values(
                    name=name,
                    sha256=sha256,
                    version=version,
                    attempts=1,
                    discovered_at=now,
                    **holder,
                )
            )
            key = result.inserted_primary_key
            if key is None:
                raise LedgerError(f"packet {name}: the database returned no id for the new row")
            return Claimed(
                packet_id=int(key[0]),
                name=name,
                sha256=sha256,
                version=version,
                worker_id=worker_id,
                attempt=1,
                lease_expires_at=lease,
                reclaimed=False,
                previous_claim_id=previous_claim,
            )
        # These bytes were seen before, but a later version came since: the packet went back to
        # them (or an old quarantined version is retried). They become the newest version, so
        # the current bytes always have the current claim file.
        returned = previous is not None and previous.version > row.version
        if row.state == "done" and not returned:
            return Skip(
                name=name, sha256=sha256, version=row.version, reason="done", claim_id=row.claim_id
            )
        if row.state == "quarantined" and not retry_quarantined:
            return Skip(name=name, sha256=sha256, version=row.version, reason="quarantined")
        if row.state == "processing" and not self._abandoned(row, now):
            return Skip(name=name, sha256=sha256, version=row.version, reason="in_progress")
        version = previous.version + 1 if returned and previous is not None else row.version
        swapped = conn.execute(
            update(packets)
            .where(
                packets.c.id == row.id,
                packets.c.state == row.state,
                packets.c.attempts == row.attempts,
            )
            .values(attempts=row.attempts + 1, version=version, **holder)
        )
        if swapped.rowcount != 1:
            return Skip(name=name, sha256=sha256, version=row.version, reason="in_progress")
        return Claimed(
            packet_id=row.id,
            name=name,
            sha256=sha256,
            version=version,
            worker_id=worker_id,
            attempt=row.attempts + 1,
            lease_expires_at=lease,
            reclaimed=row.state == "processing",
            previous_claim_id=previous_claim,
        )

    def discover_packet(self, name: str, source: str, sha256: str) -> PacketRecord:
        """Note a packet as seen (state `discovered`) without claiming it; idempotent."""
        for _ in range(_CLAIM_RETRIES):
            try:
                with self._tx() as conn:
                    row = conn.execute(
                        select(packets).where(packets.c.name == name, packets.c.sha256 == sha256)
                    ).first()
                    if row is None:
                        latest = conn.execute(
                            select(func.max(packets.c.version)).where(packets.c.name == name)
                        ).scalar_one_or_none()
                        conn.execute(
                            insert(packets).values(
                                name=name,
                                source=source,
                                sha256=sha256,
                                version=(latest or 0) + 1,
                                state="discovered",
                                attempts=0,
                                discovered_at=self._now(),
                            )
                        )
                        row = conn.execute(
                            select(packets).where(
                                packets.c.name == name, packets.c.sha256 == sha256
                            )
                        ).one()
                    return _packet_record(row)
            except IntegrityError:
                continue
        raise LedgerError(f"packet {name}: could not record discovery")

    def _finish(self, claimed: Claimed, values: dict[str, object], seconds: float | None) -> None:
        now = self._now()
        held = and_(
            packets.c.id == claimed.packet_id,
            packets.c.state == "processing",
            packets.c.worker_id == claimed.worker_id,
            packets.c.attempts == claimed.attempt,
        )
        with self._tx() as conn:
            row = conn.execute(
                select(packets).where(packets.c.id == claimed.packet_id).with_for_update()
            ).first()
            changed = 0
            if row is not None:
                if seconds is None and row.started_at is not None:
                    seconds = (now - row.started_at).total_seconds()
                changed = conn.execute(
                    update(packets)
                    .where(held)
                    .values(finished_at=now, seconds=seconds, lease_expires_at=None, **values)
                ).rowcount
            if changed != 1:
                state = row.state if row is not None else "missing"
                raise LeaseLostError(
                    f"packet {claimed.name} version {claimed.version}: worker {claimed.worker_id} "
                    f"no longer holds it (state {state}); it was re-claimed after the lease ran out"
                )

    def mark_done(
        self,
        claimed: Claimed,
        claim_id: str,
        claim_path: str | Path | None = None,
        seconds: float | None = None,
    ) -> None:
        """The packet's claim file is written; later runs skip these bytes."""
        path = str(claim_path) if claim_path is not None else None
        self._finish(
            claimed,
            {"state": "done", "claim_id": claim_id, "claim_path": path, "error": None},
            seconds,
        )

    def mark_quarantined(self, claimed: Claimed, reason: str, seconds: float | None = None) -> None:
        """The packet could not be processed; `reason` is the quarantine record's reason."""
        self._finish(claimed, {"state": "quarantined", "error": reason}, seconds)

    def release(self, claimed: Claimed) -> None:
        """Give the packet back unfinished (the batch stopped before it): its lease ends now,
        so the next run takes it at once instead of waiting for the lease to run out."""
        with self._tx() as conn:
            conn.execute(_held(claimed).values(lease_expires_at=self._now()))

    def renew_lease(
        self, claimed: Claimed, lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> Claimed:
        """Heartbeat for a long packet, so no one re-claims it while it is still being read."""
        lease = self._now() + timedelta(seconds=lease_seconds)
        with self._tx() as conn:
            changed = conn.execute(_held(claimed).values(lease_expires_at=lease)).rowcount
        if changed != 1:
            raise LeaseLostError(
                f"packet {claimed.name} version {claimed.version}: lease of worker "
                f"{claimed.worker_id} was taken over; it cannot be renewed"
            )
        return claimed.model_copy(update={"lease_expires_at": lease})

    @contextmanager
    def keep_alive(
        self, claimed: Claimed, lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> Iterator[None]:
        """Renew the lease every third of its length while the block runs.

        Why: a 500-page scanned packet can take longer than one lease; without a heartbeat
        a second run would take it over while it is still being read and do it twice.
        """
        stop = threading.Event()

        def beat() -> None:
            current = claimed
            while not stop.wait(lease_seconds / 3):
                try:
                    current = self.renew_lease(current, lease_seconds)
                except LeaseLostError:
                    return  # taken over; mark_done will say so
                except SQLAlchemyError:
                    continue  # a database hiccup: two thirds of the lease are left to retry

        thread = threading.Thread(target=beat, name=f"lease-{claimed.packet_id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def packet_history(self, name: str) -> list[PacketRecord]:
        """Every version of a packet, oldest first."""
        with self._tx() as conn:
            rows = conn.execute(
                select(packets).where(packets.c.name == name).order_by(packets.c.version)
            ).all()
        return [_packet_record(row) for row in rows]

    # -- claims ----------------------------------------------------------------------------

    def patient_key_for(self, name: str | None, dob: str | None) -> str | None:
        """The key this ledger stores for a patient, to query `claims_by_patient`."""
        return patient_key(name, dob, self._secret)

    def record_claim(
        self,
        claim: Claim,
        packet_name: str | None = None,
        lookup_keys: Mapping[str, Iterable[str]] | None = None,
    ) -> ClaimRecord:
        """Store (or replace) a claim's history row, invoices and lookup keys; created_at is kept.

        `lookup_keys` maps a kind ("fingerprint", "patient", ...) to already-hashed keys that
        `claims_with_key` matches later; raw patient values must never be passed here.
        """
        fields = claim.fields
        line_dates = sorted(d for d in (_iso_date(li.service_date) for li in claim.line_items) if d)
        first_day = _iso_date(fields.service_date_from.value) or (
            line_dates[0] if line_dates else None
        )
        key_rows = sorted(
            {
                (kind, _fit(key, _KEY_WIDTH))
                for kind, keys in (lookup_keys or {}).items()
                for key in keys
                if key
            }
        )
        invoices = [doc for doc in claim.documents if doc.doc_type == "invoice"]
        ordered = invoices + [doc for doc in claim.documents if doc.doc_type != "invoice"]
        provider = next(
            (npi for doc in ordered if (npi := _npi(_value(doc.fields.get("provider_npi"))))), None
        )
        invoice_rows: list[dict[str, object]] = []
        for doc in invoices:
            number = _invoice_number(_value(doc.fields.get("invoice_number")))
            if number is None:
                continue
            invoice_rows.append(
                {
                    "claim_id": claim.claim_id,
                    "provider_npi": _npi(_value(doc.fields.get("provider_npi"))) or provider,
                    "invoice_number": _fit(number, _INVOICE_NUMBER_WIDTH),
                    "invoice_date": _iso_date(_value(doc.fields.get("invoice_date"))),
                    "total": _float(_value(doc.fields.get("total"))),
                }
            )
        row: dict[str, object] = {
            "claim_id": claim.claim_id,
            "packet_name": packet_name,
            "packet_sha256": claim.packet.sha256,
            "status": claim.status,
            "claim_type": str(claim.claim_type.value) if claim.claim_type.value else None,
            "fraud_score": claim.fraud.score,
            "provider_npi": provider,
            "patient_key": self.patient_key_for(
                _text(fields.patient_name.value), _text(fields.patient_dob.value)
            ),
            "service_date_from": _iso_date(fields.service_date_from.value),
            "service_date_to": _iso_date(fields.service_date_to.value),
            "service_date": first_day,
            "total_billed": _float(fields.total_billed.value),
            "currency": claim.currency,
        }
        for _ in range(_CLAIM_RETRIES):
            try:
                with self._tx() as conn:
                    return self._replace_claim(conn, row, invoice_rows, key_rows)
            except IntegrityError:
                continue  # two packets with the same bytes recorded this claim at once
        raise LedgerError(
            f"claim {claim.claim_id}: could not record it after {_CLAIM_RETRIES} tries"
        )

    def _replace_claim(
        self,
        conn: Connection,
        row: dict[str, object],
        invoice_rows: list[dict[str, object]],
        key_rows: list[tuple[str, str]],
    ) -> ClaimRecord:
        claim_id = row["claim_id"]
        created = conn.execute(
            select(claims.c.created_at).where(claims.c.claim_id == claim_id)
        ).scalar_one_or_none()
        conn.execute(sql_delete(claim_invoices).where(claim_invoices.c.claim_id == claim_id))
        conn.execute(sql_delete(claim_keys).where(claim_keys.c.claim_id == claim_id))
        conn.execute(sql_delete(claims).where(claims.c.claim_id == claim_id))
        conn.execute(insert(claims).values(created_at=created or self._now(), **row))
        if invoice_rows:
            conn.execute(insert(claim_invoices), invoice_rows)
        if key_rows:
            conn.execute(
                insert(claim_keys),
                [{"claim_id": claim_id, "kind": k, "key": v} for k, v in key_rows],
            )
        stored = conn.execute(select(claims).where(claims.c.claim_id == claim_id)).one()
        return _claim_record(stored)

    def invoices(
        self, npi: str, invoice_number: str, exclude_claim_id: str | None = None
    ) -> list[InvoiceRecord]:
        """Earlier invoices with this provider and number: the duplicate-billing check."""
        number = _invoice_number(invoice_number)
        provider = _npi(npi)
        if number is None or provider is None:
            return []
        number = _fit(number, _INVOICE_NUMBER_WIDTH)
        query = (
            select(
                claim_invoices.c.claim_id,
                claim_invoices.c.provider_npi,
                claim_invoices.c.invoice_number,
                claim_invoices.c.invoice_date,
                claim_invoices.c.total,
                claims.c.patient_key,
                claims.c.status.label("claim_status"),
                claims.c.created_at,
            )
            .join(claims, claims.c.claim_id == claim_invoices.c.claim_id)
            .where(
                claim_invoices.c.provider_npi == provider,
                claim_invoices.c.invoice_number == number,
            )
            .order_by(claims.c.created_at, claim_invoices.c.claim_id)
        )
        if exclude_claim_id is not None:
            query = query.where(claim_invoices.c.claim_id != exclude_claim_id)
        with self._tx() as conn:
            rows = conn.execute(query).all()
        return [InvoiceRecord.model_validate(row._asdict()) for row in rows]

    def claims_with_key(
        self, kind: str, key: str, exclude_claim_id: str | None = None
    ) -> list[ClaimRecord]:
        """Claims recorded with this lookup key, oldest first."""
        matching = select(claim_keys.c.claim_id).where(
            claim_keys.c.kind == kind, claim_keys.c.key == _fit(key, _KEY_WIDTH)
        )
        return self._claims(select(claims).where(claims.c.claim_id.in_(matching)), exclude_claim_id)

    def claims_by_packet_sha256(
        self, sha256: str, exclude_claim_id: str | None = None
    ) -> list[ClaimRecord]:
        """Claims made from exactly these packet bytes (a resubmitted packet)."""
        return self._claims(
            select(claims).where(claims.c.packet_sha256 == sha256), exclude_claim_id
        )

    def claims_by_patient(
        self, key: str | None, exclude_claim_id: str | None = None
    ) -> list[ClaimRecord]:
        """Claims of one patient (by `patient_key_for`), oldest first."""
        if key is None:
            return []
        query = select(claims).where(claims.c.patient_key == key)
        return self._claims(query, exclude_claim_id)

    def claims_by_provider(
        self,
        npi: str,
        start: date | str,
        end: date | str,
        exclude_claim_id: str | None = None,
    ) -> list[ClaimRecord]:
        """Claims of one provider whose service dates overlap [start, end] (inclusive)."""
        provider = _npi(npi)
        if provider is None:
            return []
        low = start.isoformat() if isinstance(start, date) else start
        high = end.isoformat() if isinstance(end, date) else end
        for bound in (low, high):
            if not _ISO_DATE.match(bound):
                raise LedgerError(f"date window bound {bound!r} must be YYYY-MM-DD")
        query = select(claims).where(
            claims.c.provider_npi == provider,
            claims.c.service_date_from.is_not(None),
            claims.c.service_date_from <= high,
            func.coalesce(claims.c.service_date_to, claims.c.service_date_from) >= low,
        )
        return self._claims(query, exclude_claim_id)

    def _claims(self, query: Any, exclude_claim_id: str | None) -> list[ClaimRecord]:
        if exclude_claim_id is not None:
            query = query.where(claims.c.claim_id != exclude_claim_id)
        with self._tx() as conn:
            rows = conn.execute(query.order_by(claims.c.created_at, claims.c.claim_id)).all()
        return [_claim_record(row) for row in rows]

    def stats(self) -> LedgerStats:
        now = self._now()
        with self._tx() as conn:
            by_state = {
                state: count
                for state, count in conn.execute(
                    select(packets.c.state, func.count()).group_by(packets.c.state)
                ).all()
            }
            stale = conn.execute(
                select(func.count())
                .select_from(packets)
                .where(and_(packets.c.state == "processing", packets.c.lease_expires_at <= now))
            ).scalar_one()
            names = conn.execute(select(func.count(func.distinct(packets.c.name)))).scalar_one()
            n_claims = conn.execute(select(func.count()).select_from(claims)).scalar_one()
            n_invoices = conn.execute(select(func.count()).select_from(claim_invoices)).scalar_one()
        return LedgerStats(
            packets=sum(by_state.values()),
            packet_names=names,
            by_state=by_state,
            stale_processing=stale,
            claims=n_claims,
            invoices=n_invoices,
        )


def _value(field: Any) -> object:
    return None if field is None else field.value


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _packet_record(row: Any) -> PacketRecord:
    data = row._asdict()
    data["packet_id"] = data.pop("id")
    return PacketRecord.model_validate(data)


def _claim_record(row: Any) -> ClaimRecord:
    return ClaimRecord.model_validate(row._asdict())
