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
from pathlib import Path

from pydantic import BaseModel, ConfigDict

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "QuarantineRecord",
    "write_quarantine",
    "sha256_file",
    "ensure_private_dir",
]

_FILE_MODE = 0o600
_DIR_MODE = 0o700


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


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write `data` to `path` so that readers see the old file or the whole new one."""
    ensure_private_dir(path.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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


def write_quarantine(out_dir: Path, record: QuarantineRecord) -> Path:
    return atomic_write_json(out_dir / "quarantine" / f"{record.packet}.json", record)
