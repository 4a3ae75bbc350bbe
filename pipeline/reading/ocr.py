"""Tesseract OCR into the Page > Line > Word tree, with calibrated word confidences.

Tesseract's 0-100 word confidence is not a probability; `ConfidenceCalibrator` maps it to
one, fitted on OCR of generated text whose truth is known (`pipeline/reading/calibrate.py`).
Tesseract is run single-threaded (OMP_THREAD_LIMIT=1): pages are parallel across worker
processes instead, which is faster on a shared machine than OpenMP fighting over cores.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from pipeline.document import Line, Word
from pipeline.errors import ConfigError, NotFittedError, OcrError, OcrTimeoutError
from pipeline.reading.layout import DEFAULT_GAP_FACTOR, split_at_gaps

__all__ = [
    "TESSERACT_LANGUAGES",
    "tesseract_lang",
    "ocr_thread_limit",
    "init_ocr_worker",
    "ConfidenceCalibrator",
    "load_default_calibrator",
    "OcrRead",
    "content_box",
    "ocr_image",
    "ocr_best",
    "tesseract_data",
    "merge_reads",
    "needs_reread",
    "reread_words",
]

TESSERACT_LANGUAGES: dict[str, str] = {"en": "eng", "zh": "chi_sim+eng"}
"""Our language codes to Tesseract's; Chinese documents carry English codes and numbers too."""

_DEFAULT_TABLE = "calibration_eng.json"


def tesseract_lang(language: str) -> str:
    try:
        return TESSERACT_LANGUAGES[language]
    except KeyError:
        raise ConfigError(
            f"no Tesseract language for {language!r}; known languages: {sorted(TESSERACT_LANGUAGES)}"
        ) from None


@contextmanager
def ocr_thread_limit(threads: int | None = 1) -> Iterator[None]:
    """Set OMP_THREAD_LIMIT for Tesseract subprocesses started inside the block, then restore."""
    if threads is None:
        yield
        return
    previous = os.environ.get("OMP_THREAD_LIMIT")
    os.environ["OMP_THREAD_LIMIT"] = str(threads)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("OMP_THREAD_LIMIT", None)
        else:
            os.environ["OMP_THREAD_LIMIT"] = previous


ORPHAN_CHECK_SECONDS = 2.0
"""How often a worker checks that the process that started it is still there."""


def _exit_when_orphaned(parent: int) -> None:
    while True:
        time.sleep(ORPHAN_CHECK_SECONDS)
        if os.getppid() != parent:
            os._exit(1)


def init_ocr_worker() -> None:
    """ProcessPoolExecutor initializer: every Tesseract this worker starts uses one thread,
    and the worker ends itself when the batch process is gone: a batch killed with SIGKILL
    (or by the OOM killer) ran no shutdown, and its idle workers (150 MB each) otherwise
    waited for work that never came, for good."""
    os.environ["OMP_THREAD_LIMIT"] = "1"
    threading.Thread(
        target=_exit_when_orphaned, args=(os.getppid(),), name="orphan-check", daemon=True
    ).start()


class ConfidenceCalibrator:
    """Monotone map from Tesseract's raw 0-100 confidence to P(word is right).

    Isotonic regression, stored as its breakpoints so the shipped table is a small JSON file
    and prediction is a numpy interpolation. scikit-learn estimator conventions: `fit`
    returns self, learned attributes end in `_`.
    """

    def __init__(self, ceiling: float = 0.98) -> None:
        # Fitted on generated pages, where OCR is nearly perfect; real scans are not, so no
        # OCR word is ever reported surer than `ceiling` (text-layer words get 0.99).
        self.ceiling = ceiling

    def fit(self, raw: Sequence[float], correct: Sequence[bool]) -> ConfidenceCalibrator:
        from sklearn.isotonic import IsotonicRegression

        x = np.asarray(raw, dtype=np.float64)
        y = np.asarray(correct, dtype=np.float64)
        if x.size == 0 or x.size != y.size:
            raise ValueError(
                f"fit needs equal, non-empty raw/correct sequences, got {x.size} and {y.size}"
            )
        model = IsotonicRegression(
            y_min=0.0, y_max=self.ceiling, out_of_bounds="clip", increasing=True
        )
        model.fit(np.clip(x, 0, 100), y)
        self.x_ = [float(v) for v in model.X_thresholds_]
        self.y_ = [float(v) for v in model.y_thresholds_]
        self.n_samples_ = int(x.size)
        self.accuracy_ = float(y.mean())
        return self

    def _check(self) -> None:
        if not hasattr(self, "x_"):
            raise NotFittedError("ConfidenceCalibrator is not fitted; call fit() or from_json()")

    def predict(self, raw: Sequence[float] | np.ndarray) -> np.ndarray:
        self._check()
        x = np.clip(np.asarray(raw, dtype=np.float64), 0, 100)
        return np.clip(np.interp(x, self.x_, self.y_), 0.0, 1.0)

    def __call__(self, raw: float) -> float:
        return float(self.predict([raw])[0])

    def to_json(self) -> str:
        self._check()
        return json.dumps(
            {
                "kind": "isotonic",
                "version": 1,
                "n_samples": self.n_samples_,
                "accuracy": round(self.accuracy_, 4),
                "x": [round(v, 3) for v in self.x_],
                "y": [round(v, 4) for v in self.y_],
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> ConfidenceCalibrator:
        data = json.loads(text)
        if data.get("kind") != "isotonic" or len(data.get("x", [])) != len(data.get("y", [])):
            raise ConfigError(
                "calibration table must be {'kind': 'isotonic', 'x': [...], 'y': [...]} of equal "
                f"length, got kind={data.get('kind')!r}"
            )
        calibrator = cls()
        calibrator.x_ = [float(v) for v in data["x"]]
        calibrator.y_ = [float(v) for v in data["y"]]
        calibrator.n_samples_ = int(data.get("n_samples", 0))
        calibrator.accuracy_ = float(data.get("accuracy", 0.0))
        return calibrator

    @classmethod
    def load(cls, path: Path) -> ConfidenceCalibrator:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


def load_default_calibrator(lang: str = "eng") -> ConfidenceCalibrator:
    """The shipped table for `lang` (Tesseract code); languages without one use the English table."""
    name = f"calibration_{lang.split('+')[0]}.json"
    package = resources.files("pipeline.reading") / "data"
    table = package / name
    if not table.is_file():
        table = package / _DEFAULT_TABLE
    return ConfidenceCalibrator.from_json(table.read_text(encoding="utf-8"))


class OcrRead(BaseModel):
    """One Tesseract pass over one page image."""

    model_config = ConfigDict(extra="forbid")

    lines: list[Line]
    psm: int
    mean_raw_confidence: float = Field(description="mean raw confidence of non-empty words, 0-100")
    word_count: int
    seconds: float = 0.0

    @property
    def score(self) -> float:
        """Better of two reads: confident and not suspiciously short."""
        return self.mean_raw_confidence * min(1.0, self.word_count / 20.0)


def tesseract_data(
    image: np.ndarray, lang: str, config: str, timeout: float, threads: int | None, what: str
) -> dict[str, list[Any]]:
    """Tesseract's word table (pytesseract's DICT) for a grayscale image; `what` names the
    image in errors. Raises OcrTimeoutError past `timeout` seconds, OcrError on failure."""
    import pytesseract

    try:
        with ocr_thread_limit(threads), tempfile.TemporaryDirectory(prefix="ci-ocr-") as tmp:
            # Handing pytesseract a file path, not an array, skips its PIL -> PNG round trip
            # (about 1 s a page); PGM is written uncompressed in milliseconds.
            image_path = os.path.join(tmp, "page.pgm")
            if not cv2.imwrite(image_path, np.ascontiguousarray(image, dtype=np.uint8)):
                raise OcrError(f"could not write {what} for Tesseract")
            data: dict[str, list[Any]] = pytesseract.image_to_data(
                image_path,
                lang=lang,
                config=config,
                output_type=pytesseract.Output.DICT,
                timeout=timeout,
            )
            return data
    except pytesseract.TesseractError as exc:
        raise OcrError(
            f"Tesseract failed on {what} (lang={lang!r}, {config}): {exc.message}"
        ) from exc
    except RuntimeError as exc:
        if "timeout" in str(exc).lower():
            raise OcrTimeoutError(
                f"Tesseract did not finish {what} within {timeout} s ({config})"
            ) from exc
        raise


_CONTENT_CELL = 4
"""Side in pixels of the cells `content_box` looks for ink in."""


def content_box(
    gray: np.ndarray, dpi: float | None = None, margin_inches: float = 0.2
) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) in pixels of the page's ink, with a margin: what Tesseract
    needs to see. Blank paper still costs Tesseract time, and a form or a letter often fills
    only the top half of its page: on the 126 full-page reads of the bench's scanned pages,
    cropping left 0.61 of the pixels and cut Tesseract's CPU by 14 %.

    Ink is a cell of 4x4 pixels averaging below 224, an eighth of it dark or more: a lone
    speck of scanner noise is not, a stroke of a character is. The margin keeps the paper
    around the outermost words. The image is kept whole when it has no ink, or when its ink
    spans three quarters of it or more: cropping a few margins saves little, and it
    shifted Tesseract's layout analysis on a page under scanner grain, which lost a row.
    """
    height, width = gray.shape[:2]
    cell = _CONTENT_CELL
    if height < 8 * cell or width < 8 * cell:
        return 0, 0, width, height
    whole = gray[: height - height % cell, : width - width % cell]  # cells of exactly 4x4
    small = cv2.resize(whole, (width // cell, height // cell), interpolation=cv2.INTER_AREA)
    ink = small < 224
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return 0, 0, width, height
    margin = max(16, round(margin_inches * (dpi or 300.0)))
    left = max(0, int(cols[0]) * cell - margin)
    top = max(0, int(rows[0]) * cell - margin)
    right = min(width, (int(cols[-1]) + 1) * cell + margin)
    bottom = min(height, (int(rows[-1]) + 1) * cell + margin)
    if (right - left) * (bottom - top) > 0.75 * width * height:
        return 0, 0, width, height
    return left, top, right, bottom


def ocr_image(
    gray: np.ndarray,
    lang: str = "eng",
    psm: int = 3,
    timeout: float = 60.0,
    calibrator: ConfidenceCalibrator | None = None,
    gap_factor: float = DEFAULT_GAP_FACTOR,
    threads: int | None = 1,
    dpi: float | None = None,
) -> OcrRead:
    """OCR one page image (grayscale uint8) into lines of words with boxes in page fractions.

    `dpi` is the image's resolution. Tesseract sizes its layout analysis by it and, told
    nothing, assumes 70 DPI: on a 300 DPI form it then skips the boxed fields. Raises
    OcrTimeoutError past `timeout` seconds and OcrError when Tesseract fails.
    """
    if gray.ndim != 2 or gray.size == 0:
        raise OcrError(f"ocr_image needs a non-empty 2-D grayscale array, got shape {gray.shape}")
    height, width = gray.shape
    config = f"--psm {psm} --oem 1" + (f" --dpi {round(dpi)}" if dpi else "")
    left, top, right, bottom = content_box(gray, dpi)
    started = time.perf_counter()
    data = tesseract_data(
        gray[top:bottom, left:right], lang, config, timeout, threads, f"a {width}x{height} page"
    )
    elapsed = time.perf_counter() - started
    calibrator = calibrator or load_default_calibrator(lang)
    groups: dict[tuple[int, int, int, int], list[Word]] = {}
    raws: list[float] = []
    for i, text in enumerate(data["text"]):
        token = str(text).strip()
        raw = float(data["conf"][i])
        if not token or raw < 0:
            continue
        x, y = int(data["left"][i]) + left, int(data["top"][i]) + top
        w, h = int(data["width"][i]), int(data["height"][i])
        raws.append(raw)
        key = (
            int(data["page_num"][i]),
            int(data["block_num"][i]),
            int(data["par_num"][i]),
            int(data["line_num"][i]),
        )
        groups.setdefault(key, []).append(
            Word(
                text=token,
                confidence=calibrator(raw),
                raw_confidence=raw,
                bbox=(x / width, y / height, (x + w) / width, (y + h) / height),
            )
        )
    lines: list[Line] = []
    for key in sorted(groups):
        for segment in split_at_gaps(groups[key], aspect=height / width, gap_factor=gap_factor):
            lines.append(Line.from_words(segment))
    return OcrRead(
        lines=lines,
        psm=psm,
        mean_raw_confidence=float(np.mean(raws)) if raws else 0.0,
        word_count=len(raws),
        seconds=round(elapsed, 3),
    )


def ocr_best(
    gray: np.ndarray,
    lang: str = "eng",
    psms: Sequence[int] = (3, 11),
    timeout: float = 60.0,
    calibrator: ConfidenceCalibrator | None = None,
    retry_below: float = 70.0,
    min_words: int = 5,
    gap_factor: float = DEFAULT_GAP_FACTOR,
    threads: int | None = 1,
    dpi: float | None = None,
) -> OcrRead:
    """Read with the first segmentation mode; only when the read is poor (low confidence or
    few words) try the others, keeping the best by `OcrRead.score`.
    """
    if not psms:
        raise ConfigError("psms must list at least one Tesseract page segmentation mode, e.g. [3]")
    calibrator = calibrator or load_default_calibrator(lang)
    best = ocr_image(gray, lang, psms[0], timeout, calibrator, gap_factor, threads, dpi)
    if best.mean_raw_confidence >= retry_below and best.word_count >= min_words:
        return best
    for psm in psms[1:]:
        candidate = ocr_image(gray, lang, psm, timeout, calibrator, gap_factor, threads, dpi)
        if candidate.score > best.score:
            best = candidate
    return best


def _overlap_share(
    box: tuple[float, float, float, float], other: tuple[float, float, float, float]
) -> float:
    width = min(box[2], other[2]) - max(box[0], other[0])
    height = min(box[3], other[3]) - max(box[1], other[1])
    if width <= 0 or height <= 0:
        return 0.0
    area = max((box[2] - box[0]) * (box[3] - box[1]), 1e-12)
    return width * height / area


def merge_reads(primary: OcrRead, extra: OcrRead, max_overlap: float = 0.3) -> OcrRead:
    """`primary` plus the lines of `extra` lying where `primary` read nothing.

    Both reads must be of the same image. Lines keep reading order (top, then left).
    """
    words = [w.bbox for line in primary.lines for w in line.words]
    # The share of a line covered by all primary words together: a long line is covered
    # by many words, each of which alone covers little of it.
    added = [
        line
        for line in extra.lines
        if sum(_overlap_share(line.bbox, box) for box in words) <= max_overlap
    ]
    if not added:
        return primary
    lines = sorted([*primary.lines, *added], key=lambda ln: (round(ln.bbox[1], 3), ln.bbox[0]))
    count = primary.word_count + sum(len(line.words) for line in added)
    mean = (
        primary.mean_raw_confidence * primary.word_count
        + sum(w.raw_confidence or 0.0 for line in added for w in line.words)
    ) / max(count, 1)
    return OcrRead(
        lines=lines,
        psm=primary.psm,
        mean_raw_confidence=mean,
        word_count=count,
        seconds=primary.seconds + extra.seconds,
    )


_NUMERIC = re.compile(r"\d.*\d")
_SEPARATORS = re.compile(r"[.,:;/-]")


def _separators(text: str) -> int:
    return len(_SEPARATORS.findall(text))


def needs_reread(word: Word, below: float) -> bool:
    """A doubtful read of a number-bearing word (code, amount, date, id): the words whose
    one misread character changes a value, and which OCR reads better when enlarged."""
    raw = word.raw_confidence if word.raw_confidence is not None else 100.0
    return raw < below and 3 <= len(word.text) <= 16 and bool(_NUMERIC.search(word.text))


def reread_words(
    gray: np.ndarray,
    lines: list[Line],
    below: float = 70.0,
    scale: float = 2.0,
    lang: str = "eng",
    timeout: float = 30.0,
    calibrator: ConfidenceCalibrator | None = None,
    threads: int | None = 1,
    max_words: int = 60,
) -> tuple[list[Line], int]:
    """Read doubtful number-bearing words again, enlarged, and keep the surer read.

    Tesseract misreads small print that it reads right at twice the size ("J1885" read
    "91885" at 12 % confidence, "J1885" at 91 % enlarged). Only words `needs_reread`
    picks are cropped, each padded and enlarged, stacked into one strip and read in ONE
    Tesseract call (psm 6, a line per crop), so the cost is one small read per page that
    has doubtful numbers and nothing on a clean page. A re-read replaces a word only when
    it is one word, surer than the first read by 10 points. Returns the lines and how many
    words were replaced.
    """

    height, width = gray.shape
    picked = [
        (li, wi)
        for li, line in enumerate(lines)
        for wi, word in enumerate(line.words)
        if needs_reread(word, below)
    ][:max_words]
    if not picked:
        return lines, 0
    crops: list[np.ndarray] = []
    for li, wi in picked:
        line_words = lines[li].words
        x0, y0, x1, y1 = line_words[wi].bbox
        pad = max(2, int((y1 - y0) * height * 0.35))
        # Not into the neighbouring words: "31-" beside "-May-1945" made it "1-May-1945".
        left = int(x0 * width) - pad
        if wi > 0:
            left = max(left, int((line_words[wi - 1].bbox[2] + x0) / 2 * width))
        right = int(x1 * width) + pad
        if wi + 1 < len(line_words):
            right = min(right, int((x1 + line_words[wi + 1].bbox[0]) / 2 * width) + 1)
        # ... but never into the word itself, which an overlapping neighbour would cause.
        left = min(left, int(x0 * width))
        right = max(right, int(x1 * width) + 1)
        crop = gray[
            max(0, int(y0 * height) - pad) : min(height, int(y1 * height) + pad + 1),
            max(0, left) : min(width, right),
        ]
        if crop.shape[0] < 2 or crop.shape[1] < 2:
            crop = np.full((8, 8), 255, np.uint8)  # a degenerate box: nothing to read again
        crops.append(cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC))
    gap = max(int(max(c.shape[0] for c in crops) * 0.6), 10)
    strip_w = max(c.shape[1] for c in crops) + 2 * gap
    bands: list[tuple[int, int]] = []
    rows: list[np.ndarray] = [np.full((gap, strip_w), 255, np.uint8)]
    top = gap
    for crop in crops:
        row = np.full((crop.shape[0], strip_w), 255, np.uint8)
        row[:, gap : gap + crop.shape[1]] = crop
        rows.append(row)
        rows.append(np.full((gap, strip_w), 255, np.uint8))
        bands.append((top, top + crop.shape[0]))
        top += crop.shape[0] + gap
    strip = np.vstack(rows)
    what = f"a {strip_w}x{top} strip of doubtful words read again"
    data = tesseract_data(strip, lang, "--psm 6 --oem 1", timeout, threads, what)
    found: list[list[tuple[str, float]]] = [[] for _ in bands]
    for i, text in enumerate(data["text"]):
        token, raw = str(text).strip(), float(data["conf"][i])
        if not token or raw < 0:
            continue
        centre = int(data["top"][i]) + int(data["height"][i]) / 2
        for b, (start, end) in enumerate(bands):
            if start <= centre < end:
                found[b].append((token, raw))
                break
    calibrator = calibrator or load_default_calibrator(lang)
    words = [list(line.words) for line in lines]
    replaced = 0
    for (li, wi), reads in zip(picked, found, strict=True):
        old = words[li][wi]
        if len(reads) != 1:
            continue
        text, raw = reads[0]
        if text == old.text or raw < (old.raw_confidence or 0.0) + 10.0:
            continue
        if _separators(text) != _separators(old.text):
            continue  # "12.94" re-read "1294" lost its point: a surer read of a wrong value
        words[li][wi] = old.model_copy(
            update={"text": text, "raw_confidence": raw, "confidence": calibrator(raw)}
        )
        replaced += 1
    if not replaced:
        return lines, 0
    return [Line.from_words(ws) for ws in words], replaced
