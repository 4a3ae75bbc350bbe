"""Writing outputs: every file lands atomically (temp file in the same folder, fsync, rename).

A reader of OUT never sees half a file, and outputs are owner-only because they hold
patient data.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "discard_partial_writes",
    "sweep_partial_writes",
    "QuarantineRecord",
    "write_quarantine",
    "quarantine_path",
    "sha256_file",
    "ensure_private_dir",
]

_FILE_MODE = 0o600
_DIR_MODE = 0o700
_TEMP_SUFFIX = ".tmp"
_TEMP_RANDOM = 8  # characters tempfile.mkstemp puts between prefix and suffix


def ensure_private_dir(path: Path) -> Path:
    """Create `path` and each missing parent owner-only; an existing folder keeps its mode.

    (`mkdir(parents=True, mode=...)` applies the mode to the last folder only.)
    """
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=_DIR_MODE)
        except FileExistsError:
            continue  # another writer made it in the meantime
        os.chmod(folder, _DIR_MODE)  # the umask may have narrowed the mode, never widened it
    return path


def _temp_prefix(name: str) -> str:
    return f".{name}."


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write `data` to `path` so that readers see the old file or the whole new one."""
    ensure_private_dir(path.parent)
    fd, tmp_name = tempfile.mkstemp(
        prefix=_temp_prefix(path.name), suffix=_TEMP_SUFFIX, dir=path.parent
    )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return path


def discard_partial_writes(path: Path) -> list[Path]:
    """Remove what writes of `path` that were killed midway (SIGKILL, power cut) left behind.

    Only for a caller that alone writes `path` now (the batch holds the packet's ledger claim
    while it writes the packet's files); another writer's temp file would go too.
    """
    prefix = _temp_prefix(path.name)
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    ours = [
        n
        for n in names
        if n.startswith(prefix) and len(n) == len(prefix) + _TEMP_RANDOM + len(_TEMP_SUFFIX)
    ]
    return _discard(path.parent, ours, older_than=0.0)


def sweep_partial_writes(root: Path, older_than: float = 3600.0) -> list[Path]:
    """Remove temp files of killed writes anywhere under `root` that are older than
    `older_than` seconds; a write in progress takes milliseconds, so an hour-old temp file
    belongs to no live writer."""
    removed: list[Path] = []
    for folder, _, names in os.walk(root):
        removed += _discard(Path(folder), [n for n in names if n.startswith(".")], older_than)
    return removed


def _discard(folder: Path, names: list[str], older_than: float) -> list[Path]:
    removed: list[Path] = []
    now = time.time()
    for name in names:
        if not name.endswith(_TEMP_SUFFIX):
            continue
        candidate = folder / name
        try:
            if now - candidate.lstat().st_mtime < older_than or not candidate.is_file():
                continue
            candidate.unlink()
        except FileNotFoundError:
            continue
        removed.append(candidate)
    return removed


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, payload: BaseModel | dict[str, object] | list[object]) -> Path:
    """Pydantic models are dumped by their own serializer; plain JSON values as they are."""
    if isinstance(payload, BaseModel):
        text = payload.model_dump_json(indent=2)
    else:
        text = json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=False)
    return atomic_write_text(path, text + "\n")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class QuarantineRecord(BaseModel):
    """`OUT/quarantine/<packet-name>.json`: why a packet could not be processed."""

    model_config = ConfigDict(extra="forbid")

    packet: str
    path: str
    sha256: str | None = None
    reason: str
    error: str
    quarantined_at: str


def quarantine_path(out_dir: Path, packet: str) -> Path:
    return out_dir / "quarantine" / f"{packet}.json"


def write_quarantine(out_dir: Path, record: QuarantineRecord) -> Path:
    return atomic_write_json(quarantine_path(out_dir, record.packet), record)
