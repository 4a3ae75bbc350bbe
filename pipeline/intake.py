"""The first half of a packet's way through the pipeline: check its files and read its pages.

It needs only the settings, not the models, and imports nothing heavy, so a batch starts
reading while spaCy, the ICD-10-CM tables and the models are still loading (`flows.batch`).
`pipeline.process.understand` is the second half.
"""

from __future__ import annotations

import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config import Settings
from pipeline.document import ReadPacket
from pipeline.io.ingest import PacketCheck, PacketRef, check_packet, open_packet, packet_sha256
from pipeline.reading.reader import read_packet

__all__ = ["PacketRead", "read_stage"]


@dataclass
class PacketRead:
    """A packet's pages as read, with what the file checks left out."""

    read: ReadPacket
    checked: PacketCheck
    sha256: str
    seconds: dict[str, float] = field(default_factory=dict)


def read_stage(
    ref: PacketRef,
    settings: Settings,
    executor: Executor | None = None,
    inbox: Path | None = None,
    sha256: str | None = None,
) -> PacketRead:
    """Check the packet's files and read every page. Raises UnreadablePacketError subclasses.

    `sha256`: the packet hash if the caller computed it (the batch does, for the ledger).
    """
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    checked = check_packet(ref, settings.ingest)
    files = open_packet(ref, settings.ingest) if not checked.files else checked.files
    sha = sha256 or packet_sha256(ref)
    seconds["ingest"] = time.perf_counter() - start

    start = time.perf_counter()
    read = read_packet(ref, files, settings.reading, executor=executor, sha256=sha)
    source = ref.name
    if inbox is not None:
        try:
            source = ref.root.relative_to(inbox).as_posix()
        except ValueError:
            source = ref.name
    read = read.model_copy(update={"source": source, "language": settings.language})
    seconds["read"] = time.perf_counter() - start
    return PacketRead(read=read, checked=checked, sha256=sha, seconds=seconds)
