"""Barcode separator sheets: where one scanned batch file holds several claim packets.

Mailrooms scan a stack of packets in one go and put a cover sheet in front of each: a page
that holds little more than a barcode (Code 128 or QR) with the claim or packet number.
Every such sheet starts a new packet, and its number goes into that packet's claim.

A packet with one cover sheet in front stays one packet. Pages before the first sheet
form a packet of their own, without a number; a sheet followed directly by another sheet
(or by nothing) starts no packet, and the packet after it says so in a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.document import Page

__all__ = ["PacketPart", "is_separator_sheet", "split_at_separators"]


@dataclass
class PacketPart:
    """The pages of one packet inside a batch file, with the number of its cover sheet."""

    pages: list[Page]
    barcode: str | None = None
    notes: list[str] = field(default_factory=list)


def is_separator_sheet(page: Page, max_words: int = 12) -> bool:
    """A page with a barcode and hardly any words: a mailroom cover sheet, not a document."""
    return bool(page.barcodes) and len(page.words) <= max_words


def split_at_separators(pages: list[Page], max_words: int = 12) -> list[PacketPart]:
    """The packets in `pages` (file then page order): one part per separator sheet.

    Each part keeps its separator sheet as its first page, so the claim still shows the
    page it came from. With no sheet, or one sheet and no content before it, the result
    is a single part holding every page.
    """
    parts: list[PacketPart] = []
    pending_notes: list[str] = []
    current = PacketPart(pages=[])
    for page in pages:
        if is_separator_sheet(page, max_words):
            if _has_content(current.pages, max_words):
                parts.append(current)
            elif current.barcode is not None:
                pending_notes.append(
                    f"separator sheet {current.barcode!r} ({page_label(current.pages[0])}) "
                    "was followed by no document pages"
                )
            current = PacketPart(pages=[page], barcode=page.barcodes[0], notes=pending_notes)
            pending_notes = []
        else:
            current.pages.append(page)
    if _has_content(current.pages, max_words) or not parts:
        parts.append(current)
    elif current.barcode is not None:
        parts[-1].notes.append(
            f"separator sheet {current.barcode!r} ({page_label(current.pages[0])}) "
            "ends the file with no document pages after it"
        )
    if pending_notes:
        parts[-1].notes.extend(pending_notes)
    return parts


def page_label(page: Page) -> str:
    return f"{page.file} page {page.page}"


def _has_content(pages: list[Page], max_words: int) -> bool:
    """Any page other than separator sheets and blank backs of the paper (a page that
    could not be read counts: it is a document page all the same)."""
    return any(not page.blank and not is_separator_sheet(page, max_words) for page in pages)
