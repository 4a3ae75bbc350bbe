"""Read every page of a packet: the text layer where it is real, clean-up and OCR elsewhere.

OCR work is submitted as (file, page index) jobs so each worker renders only the page it
reads; a whole batch of page images never sits in one process. A page that cannot be read
becomes an empty Page with a warning, so one bad scan does not lose the claim.
"""

from __future__ import annotations

import logging
import sys
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from pipeline.document import Line, PacketFile, Page, ReadPacket, Word
from pipeline.errors import (
    CorruptDocumentError,
    EncryptedDocumentError,
    OcrError,
    PageTooLargeError,
    UnreadablePacketError,
)
from pipeline.io.ingest import FileKind, PacketRef, packet_sha256
from pipeline.io.pdfium_lock import PDFIUM_LOCK
from pipeline.io.render import PageImage, render_page
from pipeline.reading.checkboxes import CheckboxConfig, add_checkbox_words, detect_checkboxes
from pipeline.reading.layout import DEFAULT_GAP_FACTOR
from pipeline.reading.ocr import (
    OcrRead,
    load_default_calibrator,
    merge_reads,
    ocr_best,
    ocr_image,
    reread_words,
    tesseract_lang,
)
from pipeline.reading.preprocess import (
    MIN_SKEW_DEGREES,
    PreprocessConfig,
    ink_fraction,
    preprocess,
    remove_rules,
    rotate_right_angle,
    rule_mask,
    to_gray,
    to_source_bbox,
)
from pipeline.reading.textlayer import (
    TextLayerRule,
    decide_text_layer,
    fast_chars,
    image_area_fraction,
    read_text_layer,
)

__all__ = ["ReadingConfig", "PageJob", "read_page_job", "read_packet", "decode_barcodes"]

log = logging.getLogger(__name__)

_LAYER_CHECK_DPI = 72
_BARCODE_DPI = 200
_CHECKBOX_DPI = 150


class ReadingConfig(BaseModel):
    """Everything the reading stage needs; checked-in defaults suit 150-300 DPI letter scans."""

    model_config = ConfigDict(extra="forbid")

    language: str = "en"
    ocr_languages: str | None = Field(
        default=None,
        description="Tesseract codes (e.g. 'eng', 'chi_sim+eng'); default from language",
    )
    dpi: int = Field(default=300, ge=72, le=600, description="PDF render resolution for OCR")
    ocr_timeout: float = Field(default=30.0, gt=0, description="seconds per Tesseract call")
    max_pixels: int = Field(default=120_000_000, ge=1)
    max_pages: int = Field(default=500, ge=1)
    psm: list[int] = Field(
        default=[3, 11],
        min_length=1,
        description="Tesseract page segmentation modes: the first reads every page, the others "
        "a page read poorly, keeping the best read. Mode 6 (one uniform block) won on 1 of 11 "
        "poor pages of 40 scanned packets; without it the eval was the same (fields 1152 "
        "against 1151 of 1255 right, line items equal) for one Tesseract run less per poor page",
    )
    retry_below_confidence: float = Field(default=70.0, ge=0, le=100)
    upside_down_below: float = Field(
        default=60.0,
        ge=0,
        le=100,
        description="a read with lower mean Tesseract confidence is tried again turned 180",
    )
    upside_down_min_words: int = Field(default=5, ge=0)
    ocr_threads: int = Field(default=1, ge=1, description="OMP_THREAD_LIMIT for Tesseract")
    gap_factor: float = Field(default=DEFAULT_GAP_FACTOR, gt=0)
    preprocess: PreprocessConfig = Field(default_factory=PreprocessConfig)
    text_layer: TextLayerRule = Field(default_factory=TextLayerRule)
    rules_min_share: float = Field(
        default=0.002,
        ge=0.0,
        description="rule pixels share of the page that triggers the second pass",
    )
    checkboxes: CheckboxConfig = Field(default_factory=CheckboxConfig)
    reread_below_confidence: float = Field(
        default=70.0,
        ge=0,
        le=100,
        description="number-bearing words read with less Tesseract confidence are read again "
        "enlarged, all of a page's in one small Tesseract call (0: never)",
    )
    pdf_chunk_pages: int = Field(
        default=25,
        ge=1,
        description="a longer PDF's text layer is read in parts of this many pages, side by "
        "side in the reading workers",
    )
    barcode_max_words: int = Field(
        default=12, ge=0, description="pages with at most this many words are searched for barcodes"
    )

    @property
    def tesseract_languages(self) -> str:
        return self.ocr_languages or tesseract_lang(self.language)


class PageJob(BaseModel):
    """One page to OCR, small enough to send to a worker process."""

    model_config = ConfigDict(extra="forbid")

    path: Path
    file: str
    kind: FileKind
    index: int = Field(ge=0)
    config: ReadingConfig
    notes: list[str] = Field(default_factory=list)


def decode_barcodes(image: np.ndarray) -> list[str]:
    """Texts of all barcodes zxing-cpp finds on the page, in its order, without duplicates."""
    import zxingcpp

    found: list[str] = []
    for barcode in zxingcpp.read_barcodes(np.ascontiguousarray(image)):
        if barcode.valid and barcode.text and barcode.text not in found:
            found.append(barcode.text)
    return found


def _failed_page(job: PageJob, reason: str, size: tuple[float, float] = (1.0, 1.0)) -> Page:
    return Page(
        file=job.file,
        page=job.index + 1,
        width=size[0],
        height=size[1],
        reader="none",
        warnings=[*job.notes, reason],
    )


def _to_source_frame(
    lines: list[Line], rotation: int, skew: float, size: tuple[int, int]
) -> list[Line]:
    if rotation == 0 and abs(skew) < MIN_SKEW_DEGREES:
        return lines
    mapped: list[Line] = []
    for line in lines:
        words = [
            Word(
                text=w.text,
                confidence=w.confidence,
                raw_confidence=w.raw_confidence,
                bbox=to_source_bbox(w.bbox, rotation, skew, size),
            )
            for w in line.words
        ]
        mapped.append(Line.from_words(words))
    return mapped


def _read_image(
    image: np.ndarray,
    config: ReadingConfig,
    dpi: float | None,
    psms: list[int] | None = None,
    timeout: float | None = None,
) -> OcrRead:
    lang = config.tesseract_languages
    return ocr_best(
        image,
        lang=lang,
        psms=psms or config.psm,
        timeout=timeout or config.ocr_timeout,
        calibrator=load_default_calibrator(lang),
        retry_below=config.retry_below_confidence,
        gap_factor=config.gap_factor,
        threads=config.ocr_threads,
        dpi=dpi,
    )


TURNED_CHECK_FLOOR = 10.0
"""Seconds the 180-degree check may always take, however fast the first read was."""


def _check_timeout(first: OcrRead, config: ReadingConfig) -> float:
    """How long the read turned 180 degrees may take: five times the first read, at least
    TURNED_CHECK_FLOOR, at most the page timeout. A right-way-up page turned over reads about
    as fast as it read upside down; a speckled page Tesseract finds nothing on one way can
    keep it busy for most of a minute the other way (1 s against 46 s on one faint card)."""
    return min(config.ocr_timeout, max(TURNED_CHECK_FLOOR, 5.0 * first.seconds))


def _is_poor(read: OcrRead, below: float, min_words: int) -> bool:
    return read.mean_raw_confidence < below or read.word_count < min_words


def read_page_job(job: PageJob) -> Page:
    """Render, clean and OCR one page; failures become a Page with a warning, never a crash."""
    config = job.config
    try:
        rendered: PageImage = render_page(
            job.path, job.kind, job.index, config.dpi, config.max_pixels
        )
    except (CorruptDocumentError, PageTooLargeError) as exc:
        log.warning("page %s#%d not rendered: %s", job.file, job.index + 1, type(exc).__name__)
        return _failed_page(job, str(exc))
    gray = to_gray(rendered.image)
    height, width = gray.shape
    lang = config.tesseract_languages
    base = Page(
        file=job.file,
        page=job.index + 1,
        width=float(width),
        height=float(height),
        dpi=rendered.dpi,
        reader="ocr",
        warnings=list(job.notes),
    )
    if rendered.dpi_estimated:
        base.warnings.append(f"resolution not recorded in the file; assumed {rendered.dpi:.0f} DPI")
    if min(width, height) < 16:
        base.reader = "none"
        base.warnings.append(f"page image is only {width}x{height} pixels; nothing to read")
        return base
    try:
        cleaned = preprocess(
            gray, rendered.dpi, config.preprocess, lang=lang, timeout=config.ocr_timeout
        )
    except OcrError as exc:
        base.reader = "none"
        base.warnings.append(f"orientation detection failed: {exc}")
        return base
    base.warnings.extend(cleaned.warnings)
    if cleaned.blank:
        base.blank = True
        base.reader = "none"
        return base
    # What Tesseract reads: the cleaned page, or with form and table rules whitened.
    text_image = (
        remove_rules(cleaned.image, cleaned.dpi)
        if config.preprocess.remove_rules
        else cleaned.image
    )
    # One read in the first segmentation mode; a poor read may be a page upside down, so the
    # page is read turned before other modes are tried, and those only on the better way up
    # (an upside-down page costs two Tesseract runs, not three modes each way).
    preprocess_config = config.preprocess
    check_turned = (
        preprocess_config.orientation and preprocess_config.orientation_method == "ocr_check"
    )
    first_mode = config.psm[:1] if check_turned else config.psm
    try:
        read = _read_image(text_image, config, cleaned.dpi, first_mode)
    except OcrError as exc:
        log.warning("page %s#%d OCR failed: %s", job.file, job.index + 1, type(exc).__name__)
        base.reader = "none"
        base.warnings.append(str(exc))
        return base
    if check_turned and _is_poor(read, config.upside_down_below, config.upside_down_min_words):
        turned_image = rotate_right_angle(text_image, 180)
        try:
            turned = _read_image(
                turned_image, config, cleaned.dpi, first_mode, _check_timeout(read, config)
            )
        except OcrError as exc:
            base.warnings.append(f"reading the page turned 180 degrees failed: {exc}")
        else:
            if turned.score > read.score:
                read = turned
                # The page read is the cleaned page itself unless its rules were whitened.
                turned_page = (
                    turned_image
                    if text_image is cleaned.image
                    else rotate_right_angle(cleaned.image, 180)
                )
                text_image = turned_image
                cleaned = cleaned.model_copy(
                    update={"image": turned_page, "rotation": (cleaned.rotation + 180) % 360}
                )
    if check_turned and _is_poor(read, config.retry_below_confidence, 5):
        for psm in config.psm[1:]:
            try:
                other = _read_image(text_image, config, cleaned.dpi, [psm])
            except OcrError as exc:
                base.warnings.append(f"reading the page in segmentation mode {psm} failed: {exc}")
                continue
            if other.score > read.score:
                read = other
    if config.preprocess.rules_second_pass:
        rules = rule_mask(cleaned.image, cleaned.dpi)
        if float(rules.mean()) >= config.rules_min_share:
            # Boxed form fields and table cells are often skipped by Tesseract's layout
            # analysis; a read with the rules whitened finds them, and only its new words count.
            unruled = cleaned.image.copy()
            unruled[rules] = 255
            try:
                second = ocr_image(
                    unruled,
                    lang,
                    read.psm,
                    config.ocr_timeout,
                    load_default_calibrator(lang),
                    config.gap_factor,
                    config.ocr_threads,
                    cleaned.dpi,
                )
                read = merge_reads(read, second)
            except OcrError as exc:
                base.warnings.append(f"second OCR pass without rules failed: {exc}")
    upright = (int(cleaned.image.shape[1]), int(cleaned.image.shape[0]))
    lines = read.lines
    if config.reread_below_confidence > 0:
        try:
            lines, _ = reread_words(
                cleaned.image,
                lines,
                config.reread_below_confidence,
                lang=lang,
                timeout=config.ocr_timeout,
                calibrator=load_default_calibrator(lang),
                threads=config.ocr_threads,
            )
        except OcrError as exc:
            base.warnings.append(f"re-reading doubtful numbers failed: {exc}")
    boxes = detect_checkboxes(cleaned.image, cleaned.dpi, config.checkboxes)
    if boxes:
        marked = add_checkbox_words(
            Page(
                file=job.file, page=job.index + 1, width=upright[0], height=upright[1], lines=lines
            ),
            boxes,
            *upright,
        )
        lines = marked.lines
    base.lines = _to_source_frame(lines, cleaned.rotation, cleaned.skew, upright)
    base.rotation = cleaned.rotation
    base.skew = cleaned.skew
    if read.word_count <= config.barcode_max_words:
        base.barcodes = decode_barcodes(gray)
    return base


def _has_box_shapes(plumber_page: Any, config: CheckboxConfig) -> bool:
    """Vector squares of checkbox size on a digital page (rendering is only worth it then)."""
    if not config.enabled:
        return False
    lo, hi = config.min_side_in * 72, config.max_side_in * 72
    for shape in [*plumber_page.rects, *plumber_page.curves]:
        w, h = float(shape["width"]), float(shape["height"])
        if lo <= w <= hi and lo <= h <= hi and 0.75 <= w / max(h, 1e-6) <= 1.33:
            return True
    return False


def _with_checkboxes(path: Path, index: int, page: Page, config: ReadingConfig) -> Page:
    rendered = render_page(path, "pdf", index, _CHECKBOX_DPI, config.max_pixels)
    gray = to_gray(rendered.image)
    boxes = detect_checkboxes(gray, rendered.dpi, config.checkboxes)
    return add_checkbox_words(page, boxes, int(gray.shape[1]), int(gray.shape[0]))


def _render_small(pdf: Any, index: int) -> np.ndarray:
    """Page `index` of a pypdfium2 document in gray at 72 DPI: enough to judge its ink."""
    pdf_page = pdf[index]
    try:
        bitmap = pdf_page.render(scale=_LAYER_CHECK_DPI / 72.0, grayscale=True)
        small = np.array(bitmap.to_numpy(), dtype=np.uint8, copy=True)
        bitmap.close()
    finally:
        pdf_page.close()
    return small if small.ndim == 2 else small[:, :, 0]


def _read_pdf(
    path: Path, packet_file: PacketFile, config: ReadingConfig, pages: range | None = None
) -> list[Page | PageJob]:
    """Text-layer pages are read here; the rest come back as OCR jobs. `pages`: the page
    indexes to read (all when None)."""
    with PDFIUM_LOCK:
        return _read_pdf_locked(path, packet_file, config, pages)


def _pdf_chunks(packet_file: PacketFile, size: int) -> list[range | None]:
    """The page ranges a PDF's text layer is read in, one worker each: a 400-page bill read
    by one worker took a minute while the other had nothing to do."""
    count = packet_file.page_count
    if count <= size:
        return [None]
    starts = range(0, count, size)
    parts: list[range | None] = [range(start, start + size) for start in starts[:-1]]
    # The last part runs to the PDF's end, whatever the count checked at intake said.
    return [*parts, range(starts[-1], sys.maxsize)]


def _read_pdf_locked(
    path: Path, packet_file: PacketFile, config: ReadingConfig, pages: range | None = None
) -> list[Page | PageJob]:
    import pdfplumber
    import pypdfium2 as pdfium
    from pdfminer.psparser import PSException
    from pdfplumber.utils.exceptions import PdfminerException

    items: list[Page | PageJob] = []
    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise EncryptedDocumentError(f"{packet_file.name!r} is an encrypted PDF") from exc
        raise CorruptDocumentError(f"{packet_file.name!r} cannot be opened: {exc}") from exc
    plumber = None
    layer_note = ""
    try:
        plumber = pdfplumber.open(path)
    except (PdfminerException, PSException, ValueError) as exc:
        # pdfium can render it, pdfminer cannot parse it: read every page by OCR.
        layer_note = f"text layer unparsable ({type(exc).__name__}); OCR used"
    try:
        count = len(pdf)
        if count > config.max_pages:
            raise PageTooLargeError(
                f"{packet_file.name!r} has {count} pages, more than the limit of {config.max_pages}"
            )
        for index in range(count) if pages is None else pages:
            if index >= count:
                break
            job = PageJob(path=path, file=packet_file.name, kind="pdf", index=index, config=config)
            if plumber is None or index >= len(plumber.pages):
                job.notes.append(layer_note or "text layer has fewer pages than the PDF; OCR used")
                items.append(job)
                continue
            plumber_page = plumber.pages[index]
            try:
                items.append(_read_layer_page(pdf, plumber_page, path, packet_file, job, config))
            finally:
                # pdfplumber keeps every parsed page's glyphs until the PDF is closed: a
                # 400-page itemized bill took 4.6 GB; one page's at a time is all we need.
                plumber_page.close()
    finally:
        pdf.close()
        if plumber is not None:
            plumber.close()
    return items


def _read_layer_page(
    pdf: Any,
    plumber_page: Any,
    path: Path,
    packet_file: PacketFile,
    job: PageJob,
    config: ReadingConfig,
) -> Page | PageJob:
    """A PDF page read from its text layer, or `job` (to OCR it) when the layer will not do."""
    from pdfminer.psparser import PSException
    from pdfplumber.utils.exceptions import PdfminerException

    index = job.index
    try:
        page = read_text_layer(
            fast_chars(plumber_page), packet_file.name, index + 1, config.gap_factor
        )
    except (PdfminerException, PSException, ValueError, KeyError, TypeError) as exc:
        job.notes.append(f"text layer unreadable ({type(exc).__name__}); OCR used")
        return job
    image_area = image_area_fraction(plumber_page)
    rule = config.text_layer
    # The page's ink only counts for a page mostly covered by images or one with few
    # words; a vector page with words is decided without rendering it.
    small = (
        None
        if image_area < rule.min_image_area and len(page.words) >= rule.min_words
        else _render_small(pdf, index)
    )
    decision = decide_text_layer(page, small, config.language, rule, image_area=image_area)
    if not decision.use_text_layer:
        job.notes.append(f"OCR used: {decision.reason}")
        return job
    if not page.lines:
        small = _render_small(pdf, index) if small is None else small
        page.blank = ink_fraction(small) < config.preprocess.blank_ink_fraction
    if page.rotation == 0 and _has_box_shapes(plumber_page, config.checkboxes):
        page = _with_checkboxes(path, index, page, config)
    if len(page.words) <= config.barcode_max_words:
        rendered = render_page(path, "pdf", index, _BARCODE_DPI, config.max_pixels)
        page.barcodes = decode_barcodes(to_gray(rendered.image))
    return page


def _log_unreadable(packet: str, file: str, exc: Exception) -> None:
    log.warning("packet %s: file %s unreadable: %s", packet, file, type(exc).__name__)


def read_packet(
    ref: PacketRef,
    files: list[PacketFile],
    config: ReadingConfig | None = None,
    executor: Executor | None = None,
    sha256: str | None = None,
) -> ReadPacket:
    """All pages of the packet, in file then page order.

    `sha256` is the packet hash when the caller has it already (hashing reads every byte).

    With an executor (a ProcessPoolExecutor started with `init_ocr_worker`), OCR pages run
    in parallel. Raises UnreadablePacketError (or a more specific subclass) when no file of
    the packet yields a page.
    """
    config = config or ReadingConfig()
    if not files:
        raise UnreadablePacketError(f"packet {ref.name!r} has no readable files to read")
    paths = dict(zip(ref.relative_names, ref.files, strict=True))
    parts: list[list[Page | PageJob] | Future[list[Page | PageJob]]] = []
    pdf_names: dict[int, str] = {}
    errors: list[UnreadablePacketError] = []
    failed: set[str] = set()  # PDFs a part of which could not be read: their other parts go
    for packet_file in files:
        path = paths.get(packet_file.name)
        if path is None:
            raise UnreadablePacketError(
                f"file {packet_file.name!r} is not part of packet {ref.name!r}; "
                f"its files are {ref.relative_names}"
            )
        if packet_file.kind == "pdf":
            # Parsing a text layer is pure Python: in a worker process it runs beside the
            # extraction of other packets instead of holding this process's GIL.
            if executor is not None:
                for chunk in _pdf_chunks(packet_file, config.pdf_chunk_pages):
                    pdf_names[len(parts)] = packet_file.name
                    parts.append(executor.submit(_read_pdf, path, packet_file, config, chunk))
            else:
                pdf_names[len(parts)] = packet_file.name
                try:
                    parts.append(_read_pdf(path, packet_file, config))
                except UnreadablePacketError as exc:
                    _log_unreadable(ref.name, packet_file.name, exc)
                    errors.append(exc)
        else:
            count = max(packet_file.page_count, 1)
            if count > config.max_pages:
                errors.append(
                    PageTooLargeError(
                        f"{packet_file.name!r} has {count} pages, more than the limit of {config.max_pages}"
                    )
                )
                continue
            parts.append(
                [
                    PageJob(
                        path=path,
                        file=packet_file.name,
                        kind=packet_file.kind,
                        index=i,
                        config=config,
                    )
                    for i in range(count)
                ]
            )
    done: list[list[Page | PageJob]] = []
    for position, part in enumerate(parts):
        if isinstance(part, Future):
            name = pdf_names[position]
            try:
                part = part.result()
            except (BrokenProcessPool, UnreadablePacketError) as exc:
                if name not in failed:  # one error for the file, not one for each of its parts
                    failed.add(name)
                    error = (
                        exc
                        if isinstance(exc, UnreadablePacketError)
                        else CorruptDocumentError(
                            f"{name!r} crashed the PDF reader (twice); it is left unread"
                        )
                    )
                    _log_unreadable(ref.name, name, error)
                    errors.append(error)
                part = []
        done.append(part)
    slots = [
        slot
        for position, part in enumerate(done)
        if pdf_names.get(position) not in failed
        for slot in part
    ]
    if not slots:
        if len(errors) == 1:
            raise errors[0]
        raise UnreadablePacketError(
            f"packet {ref.name!r}: no file could be read; " + "; ".join(str(e) for e in errors)
        )
    pages = _run_jobs(slots, executor)
    if all(p.reader == "none" and not p.blank for p in pages):
        reasons = sorted({w for p in pages for w in p.warnings})
        raise UnreadablePacketError(
            f"packet {ref.name!r}: none of its {len(pages)} pages could be read; "
            + "; ".join(reasons[:5])
        )
    for error in errors:
        for page in pages[:1]:
            page.warnings.append(f"a file of the packet was skipped: {error}")
    return ReadPacket(
        name=ref.name,
        source=ref.name,
        sha256=sha256 or packet_sha256(ref),
        files=files,
        pages=pages,
        language=config.language,
    )


def _run_jobs(slots: list[Page | PageJob], executor: Executor | None) -> list[Page]:
    if executor is None:
        return [slot if isinstance(slot, Page) else read_page_job(slot) for slot in slots]
    futures = {
        index: executor.submit(read_page_job, slot)
        for index, slot in enumerate(slots)
        if isinstance(slot, PageJob)
    }
    pages: list[Page] = []
    for index, slot in enumerate(slots):
        if isinstance(slot, Page):
            pages.append(slot)
            continue
        try:
            pages.append(futures[index].result())
        except BrokenProcessPool:
            log.warning("page %s#%d crashed its worker process", slot.file, slot.index + 1)
            pages.append(_failed_page(slot, "reading this page crashed its worker process (twice)"))
    return pages
