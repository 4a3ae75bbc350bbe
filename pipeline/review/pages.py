"""Page images for the claim page: the packet's pages at screen resolution, cached as PNG.

Why a cache: rendering a PDF page or decoding a 300-DPI TIFF takes a noticeable fraction
of a second; an adjuster flips between pages, so each page is rendered once per claim into
an owner-only folder (`OUT/review_cache/`), because page images show patient data.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.errors import ReviewError
from pipeline.io.emit import atomic_write_bytes, ensure_private_dir
from pipeline.io.ingest import sniff
from pipeline.io.render import render_page
from pipeline.schema import Claim

__all__ = ["REVIEW_DPI", "packet_file", "page_png"]

REVIEW_DPI = 100


def packet_file(inbox: Path, claim: Claim, file: str) -> Path:
    """The inbox path of one of the claim's files; refuses names outside the packet."""
    if file not in claim.packet.files:
        raise ReviewError(
            f"{file!r} is not a file of claim {claim.claim_id}; its files: "
            f"{', '.join(claim.packet.files)}"
        )
    root = (inbox / claim.packet.source).resolve()
    path = root if root.is_file() else (root / file).resolve()
    if not path.is_relative_to(inbox.resolve()) or not path.is_file():
        raise ReviewError(f"{file!r} of claim {claim.claim_id} is not in the inbox {inbox}")
    return path


def _encode(image: np.ndarray, dpi: float) -> bytes:
    picture = Image.fromarray(image)
    if dpi > REVIEW_DPI * 1.2:
        scale = REVIEW_DPI / dpi
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        picture = picture.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def page_png(
    inbox: Path, claim: Claim, file: str, page: int, cache_dir: Path, max_pixels: int = 120_000_000
) -> Path:
    """A PNG of `page` (1-based) of `file`, rendered once at ~100 DPI into `cache_dir`."""
    if page < 1 or page > max(claim.packet.page_count, 1):
        raise ReviewError(
            f"claim {claim.claim_id} has pages 1..{claim.packet.page_count}, not page {page}"
        )
    key = hashlib.sha256(f"{claim.packet.sha256}/{file}".encode()).hexdigest()[:24]
    target = cache_dir / claim.claim_id / f"{key}-p{page}.png"
    if target.is_file():
        return target
    source = packet_file(inbox, claim, file)
    try:
        rendered = render_page(
            source, sniff(source), page - 1, dpi=REVIEW_DPI, max_pixels=max_pixels
        )
    except IndexError as exc:
        raise ReviewError(f"{file!r} of claim {claim.claim_id} has no page {page}") from exc
    ensure_private_dir(cache_dir)
    ensure_private_dir(target.parent)
    return atomic_write_bytes(target, _encode(rendered.image, rendered.dpi))
