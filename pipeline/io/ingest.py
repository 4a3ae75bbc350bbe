"""Find claim packets in the mailroom inbox and check their files before anything reads them.

Files are judged by their bytes, never by their extension: scanners and mail gateways name
files freely, and a PNG called `.pdf` must still be read as a PNG. Nothing here writes to
the inbox; every file handle opened here is closed before returning.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from pipeline.document import PacketFile
from pipeline.errors import (
    CorruptDocumentError,
    EncryptedDocumentError,
    PageTooLargeError,
    UnreadablePacketError,
    UnsupportedFileError,
)
from pipeline.io.pdfium_lock import PDFIUM_LOCK

__all__ = [
    "FileKind",
    "PACKET_EXTENSIONS",
    "ACCEPTED_FORMATS",
    "IngestLimits",
    "PacketRef",
    "discover_packets",
    "sniff",
    "check_file",
    "open_packet",
    "check_packet",
    "PacketCheck",
    "RejectedFile",
    "file_sha256",
    "packet_sha256",
    "pil_pixel_limit",
]

log = logging.getLogger(__name__)

FileKind = Literal["pdf", "tiff", "png", "jpeg"]
ACCEPTED_FORMATS: tuple[str, ...] = ("pdf", "tiff", "png", "jpeg")
PACKET_EXTENSIONS: frozenset[str] = frozenset({".pdf", ".tif", ".tiff", ".png", ".jpg", ".jpeg"})

# How far into a file a PDF header may start: the spec tolerates leading junk (1024 bytes).
_PDF_HEADER_WINDOW = 1024
_CHUNK = 1 << 20


class IngestLimits(BaseModel):
    """Guards against files that would exhaust memory or time before a page is read."""

    model_config = ConfigDict(extra="forbid")

    max_pages: int = Field(default=500, ge=1, description="pages per file")
    max_pixels: int = Field(
        default=120_000_000, ge=1, description="pixels per raster page (decompression-bomb guard)"
    )
    max_file_bytes: int = Field(default=500 * 1024 * 1024, ge=1)


class PacketRef(BaseModel):
    """One packet as found in the inbox: a folder, or a single top-level file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="folder or file name inside the inbox")
    root: Path = Field(description="the packet folder, or the single file itself")
    files: list[Path] = Field(description="absolute paths, sorted by relative name")
    relative_names: list[str] = Field(description="paths relative to the packet root (posix)")
    is_single_file: bool = False
    problems: list[str] = Field(
        default_factory=list,
        description="reasons found during discovery (e.g. a symlink leaving the inbox)",
    )


def _hidden(path: Path, base: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(base).parts)


def _inside(path: Path, inbox: Path) -> bool:
    try:
        path.resolve().relative_to(inbox.resolve())
    except ValueError:
        return False
    return True


def _folder_packet(folder: Path, inbox: Path) -> PacketRef:
    files: list[Path] = []
    problems: list[str] = []
    # os.walk-like recursion that never follows a symlinked directory out of the inbox.
    stack = [folder]
    while stack:
        current = stack.pop()
        for entry in sorted(current.iterdir()):
            if _hidden(entry, folder):
                continue
            if entry.is_symlink() and not _inside(entry, inbox):
                problems.append(
                    f"{entry.relative_to(folder).as_posix()} is a symlink pointing outside the inbox"
                )
                continue
            if entry.is_dir():
                if entry.is_symlink():
                    problems.append(
                        f"{entry.relative_to(folder).as_posix()} is a symlinked folder; not followed"
                    )
                    continue
                stack.append(entry)
            elif entry.is_file():
                files.append(entry)
    files.sort(key=lambda p: p.relative_to(folder).as_posix())
    return PacketRef(
        name=folder.name,
        root=folder,
        files=files,
        relative_names=[p.relative_to(folder).as_posix() for p in files],
        problems=problems,
    )


def discover_packets(inbox: Path) -> list[PacketRef]:
    """Every packet in `inbox`, sorted by name.

    Top-level files of any extension become packets so that unknown files are quarantined
    with a reason instead of vanishing; symlinks leaving the inbox are returned with a
    problem and no files, for the same reason.
    """
    inbox = Path(inbox).absolute()
    if not inbox.is_dir():
        raise FileNotFoundError(f"inbox {str(inbox)!r} is not a directory")
    packets: list[PacketRef] = []
    for entry in sorted(inbox.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink() and not _inside(entry, inbox):
            packets.append(
                PacketRef(
                    name=entry.name,
                    root=entry,
                    files=[],
                    relative_names=[],
                    is_single_file=not entry.is_dir(),
                    problems=[
                        f"{entry.name} is a symlink pointing outside the inbox; not followed"
                    ],
                )
            )
            continue
        if entry.is_dir():
            packets.append(_folder_packet(entry, inbox))
        elif entry.is_file():
            problems = []
            if entry.suffix.lower() not in PACKET_EXTENSIONS:
                problems.append(
                    f"{entry.name} has extension {entry.suffix or '(none)'!r}; packets are folders "
                    f"or files ending in {sorted(PACKET_EXTENSIONS)}"
                )
            packets.append(
                PacketRef(
                    name=entry.name,
                    root=entry,
                    files=[entry],
                    relative_names=[entry.name],
                    is_single_file=True,
                    problems=problems,
                )
            )
    return packets


def sniff(path: Path) -> FileKind:
    """The file's format from its magic bytes; raises UnsupportedFileError otherwise."""
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(_PDF_HEADER_WINDOW)
    if not head:
        raise UnsupportedFileError(
            f"{path.name!r} is empty (0 bytes); accepted formats are {', '.join(ACCEPTED_FORMATS)}"
        )
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if b"%PDF-" in head:
        return "pdf"
    raise UnsupportedFileError(
        f"{path.name!r} starts with {head[:8]!r}, which is none of the accepted formats "
        f"({', '.join(ACCEPTED_FORMATS)})"
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def packet_sha256(ref: PacketRef) -> str:
    """Hash over sorted (relative name, file sha256): the same bytes give the same hash anywhere."""
    digest = hashlib.sha256()
    for name, path in sorted(zip(ref.relative_names, ref.files, strict=True)):
        digest.update(name.encode("utf-8"))
        digest.update(b"\x00")
        digest.update(file_sha256(path).encode("ascii"))
        digest.update(b"\n")
    return digest.hexdigest()


@contextmanager
def pil_pixel_limit(max_pixels: int) -> Iterator[None]:
    """Let PIL refuse images above `max_pixels` for the duration of one call, then restore."""
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _pdf_page_count(path: Path, limits: IngestLimits) -> int:
    with PDFIUM_LOCK:
        return _pdf_page_count_locked(path, limits)


def _pdf_page_count_locked(path: Path, limits: IngestLimits) -> int:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        message = str(exc)
        if "password" in message.lower():
            raise EncryptedDocumentError(
                f"{path.name!r} is an encrypted PDF that needs a password; "
                "send it unencrypted or without a user password"
            ) from exc
        raise CorruptDocumentError(
            f"{path.name!r} is not a readable PDF ({message}); it may be truncated or damaged"
        ) from exc
    try:
        count = len(pdf)
        if count == 0:
            raise CorruptDocumentError(f"{path.name!r} is a PDF with no pages")
        if count > limits.max_pages:
            raise PageTooLargeError(
                f"{path.name!r} has {count} pages, more than the limit of {limits.max_pages}"
            )
        for index in range(count):
            try:
                page = pdf[index]
            except pdfium.PdfiumError as exc:
                raise CorruptDocumentError(
                    f"{path.name!r} page {index + 1} cannot be loaded ({exc}); the PDF is damaged"
                ) from exc
            page.close()
    finally:
        pdf.close()
    return count


def _image_page_count(path: Path, kind: FileKind, limits: IngestLimits) -> int:
    try:
        with pil_pixel_limit(limits.max_pixels), Image.open(path) as im:
            count = getattr(im, "n_frames", 1)
            if count > limits.max_pages:
                raise PageTooLargeError(
                    f"{path.name!r} has {count} pages, more than the limit of {limits.max_pages}"
                )
            for index in range(count):
                im.seek(index)
                width, height = im.size
                if width * height > limits.max_pixels:
                    raise PageTooLargeError(
                        f"{path.name!r} page {index + 1} is {width}x{height} pixels, more than "
                        f"the limit of {limits.max_pixels} pixels"
                    )
        # verify() leaves the image unusable, so it gets its own handle.
        with pil_pixel_limit(limits.max_pixels), Image.open(path) as im:
            im.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PageTooLargeError(
            f"{path.name!r} declares an image larger than the limit of {limits.max_pixels} "
            f"pixels ({exc})"
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptDocumentError(
            f"{path.name!r} looks like {kind.upper()} but cannot be decoded ({exc})"
        ) from exc
    return count


def check_file(path: Path, name: str, limits: IngestLimits | None = None) -> PacketFile:
    """Sniff, open and count one file; raises an UnreadablePacketError subclass if it cannot be read."""
    limits = limits or IngestLimits()
    path = Path(path)
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise PageTooLargeError(
            f"{name!r} is {size} bytes, more than the limit of {limits.max_file_bytes} bytes"
        )
    kind = sniff(path)
    if kind == "pdf":
        pages = _pdf_page_count(path, limits)
    else:
        pages = _image_page_count(path, kind, limits)
    return PacketFile(name=name, kind=kind, sha256=file_sha256(path), size=size, page_count=pages)


class RejectedFile(BaseModel):
    """A file of a packet that could not be read, and why (for a flag on the claim)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    error: str = Field(description="name of the error class from pipeline.errors")
    reason: str


class PacketCheck(BaseModel):
    """The readable files of a packet and the rejected ones, in packet order."""

    model_config = ConfigDict(extra="forbid")

    files: list[PacketFile]
    rejected: list[RejectedFile] = Field(default_factory=list)


def check_packet(ref: PacketRef, limits: IngestLimits | None = None) -> PacketCheck:
    """Check every file; one bad attachment is recorded, not fatal, so the claim can go on."""
    limits = limits or IngestLimits()
    if ref.problems:
        raise UnreadablePacketError(f"packet {ref.name!r}: " + "; ".join(ref.problems))
    if not ref.files:
        raise UnreadablePacketError(
            f"packet {ref.name!r} holds no files (hidden files are skipped)"
        )
    checked: list[PacketFile] = []
    rejected: list[RejectedFile] = []
    for path, name in zip(ref.files, ref.relative_names, strict=True):
        try:
            checked.append(check_file(path, name, limits))
        except UnreadablePacketError as exc:
            log.warning("packet %s: file %s rejected: %s", ref.name, name, type(exc).__name__)
            rejected.append(RejectedFile(name=name, error=type(exc).__name__, reason=str(exc)))
    return PacketCheck(files=checked, rejected=rejected)


def open_packet(ref: PacketRef, limits: IngestLimits | None = None) -> list[PacketFile]:
    """The packet's readable files, in order; raises when none is readable.

    With a single unreadable file its own error (encrypted, corrupt, too large ...) is
    raised so the quarantine reason is specific. Use `check_packet` to see rejected files.
    """
    report = check_packet(ref, limits)
    if not report.files:
        if len(report.rejected) == 1:
            only = report.rejected[0]
            error_type = _ERRORS_BY_NAME.get(only.error, UnreadablePacketError)
            raise error_type(only.reason)
        raise UnreadablePacketError(
            f"packet {ref.name!r}: no readable file; "
            + "; ".join(f"{r.name}: {r.reason}" for r in report.rejected)
        )
    return report.files


_ERRORS_BY_NAME: dict[str, type[UnreadablePacketError]] = {
    cls.__name__: cls
    for cls in (
        UnreadablePacketError,
        UnsupportedFileError,
        EncryptedDocumentError,
        CorruptDocumentError,
        PageTooLargeError,
    )
}
