"""The page-level tree the readers produce: Page > Line > Word.

Every element carries its text, a confidence in [0, 1] and a box in fractions of the
page (0-1, origin top-left), so anything extracted later can say where it came from.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["BBox", "Word", "Line", "Page", "PacketFile", "ReadPacket", "union_bbox"]

BBox = tuple[float, float, float, float]
"""x0, y0, x1, y1 in fractions of the page width and height, origin top-left."""

DocType = Literal[
    "claim_form",
    "id_document",
    "invoice",
    "medical_record",
    "diagnosis_certificate",
    "accident_report",
    "other",
]

DOC_TYPES: tuple[str, ...] = (
    "claim_form",
    "id_document",
    "invoice",
    "medical_record",
    "diagnosis_certificate",
    "accident_report",
    "other",
)


def _clip_bbox(value: BBox) -> BBox:
    x0, y0, x1, y1 = (min(1.0, max(0.0, float(v))) for v in value)
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def union_bbox(boxes: list[BBox]) -> BBox:
    """The smallest box holding all of `boxes`; raises ValueError on an empty list."""
    if not boxes:
        raise ValueError("union_bbox needs at least one box, got an empty list")
    x0s, y0s, x1s, y1s = zip(*boxes, strict=True)
    return (min(x0s), min(y0s), max(x1s), max(y1s))


class Word(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    confidence: float = Field(
        ge=0.0, le=1.0, description="calibrated probability the text is right"
    )
    bbox: BBox
    raw_confidence: float | None = Field(
        default=None, description="the reader's own number (Tesseract 0-100), before calibration"
    )

    @field_validator("bbox")
    @classmethod
    def _clip(cls, value: BBox) -> BBox:
        return _clip_bbox(value)


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    words: list[Word]
    bbox: BBox
    confidence: float = Field(ge=0.0, le=1.0)

    @field_validator("bbox")
    @classmethod
    def _clip(cls, value: BBox) -> BBox:
        return _clip_bbox(value)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @classmethod
    def from_words(cls, words: list[Word]) -> Line:
        """A line over `words` in reading order; its confidence is the weakest word's."""
        if not words:
            raise ValueError("a Line needs at least one word")
        return cls(
            words=words,
            bbox=union_bbox([w.bbox for w in words]),
            confidence=min(w.confidence for w in words),
        )


class Page(BaseModel):
    """One page of one file of a packet, as read."""

    model_config = ConfigDict(extra="forbid")

    file: str = Field(description="name of the file inside the packet")
    page: int = Field(ge=1, description="1-based page number inside the file")
    width: float = Field(gt=0, description="page width in the reader's units (points or pixels)")
    height: float = Field(gt=0)
    dpi: float | None = Field(
        default=None, description="resolution the page was read at, if raster"
    )
    reader: Literal["text_layer", "ocr", "none"] = "none"
    rotation: int = Field(default=0, description="degrees the page was turned to read upright")
    skew: float = Field(
        default=0.0,
        description="degrees the reader then levelled the page by (OpenCV's counter-clockwise "
        "sense); 0 for text layers",
    )
    lines: list[Line] = Field(default_factory=list)
    blank: bool = False
    barcodes: list[str] = Field(default_factory=list, description="decoded separator barcodes")
    warnings: list[str] = Field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def words(self) -> list[Word]:
        return [w for line in self.lines for w in line.words]

    @property
    def confidence(self) -> float:
        words = self.words
        if not words:
            return 0.0
        return sum(w.confidence for w in words) / len(words)


class PacketFile(BaseModel):
    """One file of a packet, sniffed by content."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="path relative to the packet root")
    kind: Literal["pdf", "tiff", "png", "jpeg"]
    sha256: str
    size: int
    page_count: int = 0


class ReadPacket(BaseModel):
    """All pages of a packet in file order, ready for classification and extraction."""

    model_config = ConfigDict(extra="forbid")

    name: str
    source: str
    sha256: str
    files: list[PacketFile]
    pages: list[Page]
    language: str = "en"
