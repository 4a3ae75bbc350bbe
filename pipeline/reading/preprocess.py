"""Image clean-up before OCR: orientation, deskew, denoise, contrast, borders, resolution.

Each step is a plain function over a uint8 numpy array and each is switched on or off by
`PreprocessConfig`, so the OCR ablation can measure what every step is worth.
"""

from __future__ import annotations

import re
from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from pipeline.errors import OcrError, OcrTimeoutError

__all__ = [
    "MIN_SKEW_DEGREES",
    "PreprocessConfig",
    "PreprocessResult",
    "to_gray",
    "gray_percentiles",
    "ink_fraction",
    "is_blank",
    "rotate_right_angle",
    "osd_rotation",
    "detect_orientation",
    "estimate_skew",
    "estimate_axis_and_skew",
    "deskew",
    "denoise",
    "is_bilevel",
    "despeckle",
    "speckle_fraction",
    "normalize_contrast",
    "binarize",
    "remove_borders",
    "background_mask",
    "without_background",
    "remove_rules",
    "rule_mask",
    "normalize_dpi",
    "preprocess",
    "to_source_bbox",
]


MIN_SKEW_DEGREES = 0.1
"""Smaller angles are left alone: resampling costs more legibility than it wins."""


class PreprocessConfig(BaseModel):
    """Which clean-up steps run, and their few knobs."""

    model_config = ConfigDict(extra="forbid")

    orientation: bool = True
    orientation_method: Literal["ocr_check", "osd"] = Field(
        default="ocr_check",
        description="ocr_check: find the text-line axis from the ink, read, and read again "
        "turned 180 only when the read is poor (one Tesseract pass for upright pages); "
        "osd: Tesseract OSD with an OCR vote when OSD is unsure (1-3 s more a page)",
    )
    deskew: bool = True
    max_skew_degrees: float = Field(default=10.0, gt=0, le=45)
    denoise: bool = True
    denoise_method: str = Field(default="median", pattern="^(median|nlmeans)$")
    speckle_threshold: float = Field(
        default=0.002, ge=0.0, description="isolated-pixel share above which a page is denoised"
    )
    noise_threshold: float = Field(
        default=1.0,
        ge=0.0,
        description="grain (mean difference from a 3x3 median) above which a page is denoised",
    )
    contrast: bool = True
    flatten_shading: bool = Field(
        default=False,
        description="whiten light shading behind text (a statement's banded rows, green-bar "
        "printouts, a shaded table header) by dividing the page by its background; pages "
        "without such shading are left as they are. Off by default: on a green-bar bill it "
        "brings back every shaded row, but it also evens out a photo's uneven light, and "
        "in all it read two hand-made sets better (held-out 4 line-item F1 0.752 -> 0.776, "
        "held-out 5 0.915 -> 0.924) and worse elsewhere (held-out 5 a photographed card "
        "typed as an invoice, fields 162 -> 161/176; seed 6161 fields 1201 -> 1200/1255), "
        "see docs/measurements.md",
    )
    rules_second_pass: bool = Field(
        default=False,
        description="on pages with form boxes or table grids, OCR again with the rules removed "
        "and add the lines only that read finds where the first read found nothing (see "
        "reader). Off by default: it was needed only while Tesseract was not told the "
        "page's DPI and skipped boxed fields; told it, one pass reads them (12 scanned "
        "packets: line-item F1 0.840 with one pass against 0.749 with both, fields 0.786 "
        "against 0.791, and one Tesseract run a page instead of two)",
    )
    remove_rules: bool = Field(
        default=False,
        description="whiten form-box and table rules in the image Tesseract reads (cell "
        "borders are otherwise read as '|' glued to values)",
    )
    binarize: bool = False
    remove_borders: bool = True
    ignore_background: bool = Field(
        default=True,
        description="measure orientation and skew without the dark surface under a document "
        "photographed on a table or scanned with the lid open (dark on most of the image's "
        "edge); measured with it, its straight edges set the skew to 0 and a tilted card "
        "was read unlevelled",
    )
    target_dpi: float | None = Field(default=300.0, description="None keeps the page's resolution")
    resample: bool = Field(default=True, description="resample to target_dpi (off: as scanned)")
    enlarge_below_dpi: float | None = Field(
        default=None,
        gt=0,
        description="enlarge to target_dpi only pages scanned below this resolution (a fax at "
        "100-150 DPI); pages between it and target_dpi are read as scanned, which costs "
        "Tesseract fewer pixels. None (default): every page below target_dpi is enlarged. "
        "On 40 scanned packets (178 pages) 190 ran 8 % faster (2.18 against 2.01 pages/s) "
        "but read worse: fields 0.907 against 0.914, line-item F1 0.959 against 0.964",
    )
    blank_ink_fraction: float = Field(
        default=0.0003, ge=0.0, description="pages with less stroke ink than this share are blank"
    )


class PreprocessResult(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    image: np.ndarray
    dpi: float
    rotation: int = Field(
        default=0, description="clockwise degrees applied to make the page upright"
    )
    skew: float = Field(default=0.0, description="degrees of skew corrected")
    blank: bool = False
    steps: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


def to_gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def gray_percentiles(gray: np.ndarray, *q: float) -> list[float]:
    """Percentiles of a uint8 image from its histogram: ~10x faster than np.percentile on a
    page, which sorts 8 million pixels. Each is the value of the sorted pixel at rank
    q/100 * (n - 1), rounded down (numpy would interpolate between two neighbours).
    """
    if gray.size == 0:
        raise ValueError("percentiles of an empty image")
    if gray.dtype != np.uint8:
        return [float(v) for v in np.percentile(gray, q)]
    counts = cv2.calcHist([np.ascontiguousarray(gray)], [0], None, [256], [0, 256]).ravel()
    cumulative = np.cumsum(counts)
    ranks = [p / 100.0 * (cumulative[-1] - 1) for p in q]
    return [float(np.searchsorted(cumulative, rank, side="right")) for rank in ranks]


def _ink_mask(gray: np.ndarray) -> np.ndarray:
    """Dark pixels relative to the page's own paper colour (so faint scans still show ink).

    On a washed-out page (its darkest pixels within 80 levels of the paper) ink is what is
    darker than halfway to them; a spread under 15 levels is grain on blank paper.
    """
    dark, paper = gray_percentiles(gray, 0.2, 90)
    if paper <= 60:
        threshold = paper / 2
    elif 15.0 <= paper - dark < 80.0:
        threshold = paper - (paper - dark) / 2
    else:
        threshold = min(paper - 40.0, 200.0)
    return gray < max(threshold, 1.0)


def ink_fraction(gray: np.ndarray) -> float:
    if gray.size == 0:
        return 0.0
    return float(_ink_mask(gray).mean())


def is_blank(gray: np.ndarray, threshold: float = 0.0003) -> bool:
    """Nearly no ink after ignoring specks; an all-black page (a failed scan) is not blank but unreadable."""
    if gray.size == 0 or min(gray.shape[:2]) < 8:
        return True
    mask = _ink_mask(gray).astype(np.uint8)
    # Isolated dark pixels are scanner speckle; thin strokes always have an inked neighbour.
    neighbours = cv2.filter2D(mask, -1, np.ones((3, 3), np.float32), borderType=cv2.BORDER_CONSTANT)
    strokes = (mask > 0) & (neighbours > 1)
    return float(strokes.mean()) < threshold


def rotate_right_angle(image: np.ndarray, degrees: int) -> np.ndarray:
    """Turn the image clockwise by 0/90/180/270 degrees."""
    turns = {
        0: None,
        90: cv2.ROTATE_90_CLOCKWISE,
        180: cv2.ROTATE_180,
        270: cv2.ROTATE_90_COUNTERCLOCKWISE,
    }
    if degrees % 360 not in turns:
        raise ValueError(f"rotation must be one of 0, 90, 180, 270 degrees, got {degrees}")
    code = turns[degrees % 360]
    return image if code is None else cv2.rotate(image, code)


_OSD_ROTATE = re.compile(r"Rotate:\s*(\d+)")
_OSD_CONF = re.compile(r"Orientation confidence:\s*([\d.]+)")


def osd_rotation(gray: np.ndarray, timeout: float = 20.0) -> tuple[int, float] | None:
    """(clockwise degrees to make upright, OSD confidence) from Tesseract, or None when OSD cannot tell."""
    import pytesseract

    try:
        report = pytesseract.image_to_osd(
            gray, config="--psm 0 -c min_characters_to_try=10", timeout=timeout
        )
    except pytesseract.TesseractError:
        return None  # too few characters for OSD; the caller falls back to OCR confidence
    except RuntimeError as exc:
        if "timeout" in str(exc).lower():
            return None
        raise
    rotate = _OSD_ROTATE.search(report)
    conf = _OSD_CONF.search(report)
    if rotate is None:
        return None
    return int(rotate.group(1)) % 360, float(conf.group(1)) if conf else 0.0


def _line_axis_is_horizontal(gray: np.ndarray) -> bool:
    """Text lines make the row profile of ink far more uneven than the column profile."""
    mask = _ink_mask(gray).astype(np.float32)
    if mask.sum() == 0:
        return True
    rows = mask.sum(axis=1)
    cols = mask.sum(axis=0)
    return float(np.std(np.diff(rows))) >= float(np.std(np.diff(cols)))


def _mean_conf(gray: np.ndarray, lang: str, timeout: float) -> float:
    import pytesseract

    try:
        data = pytesseract.image_to_data(
            gray, lang=lang, config="--psm 6", output_type=pytesseract.Output.DICT, timeout=timeout
        )
    except pytesseract.TesseractError as exc:
        raise OcrError(
            f"Tesseract failed while testing orientation (lang={lang!r}): {exc}"
        ) from exc
    except RuntimeError as exc:
        if "timeout" in str(exc).lower():
            raise OcrTimeoutError(f"orientation check exceeded {timeout} s") from exc
        raise
    confs = [
        float(c)
        for c, t in zip(data["conf"], data["text"], strict=False)
        if float(c) >= 0 and str(t).strip() and len(str(t).strip()) > 1
    ]
    return float(np.mean(confs)) * min(1.0, len(confs) / 10) if confs else 0.0


def _densest_band(gray: np.ndarray, share: float = 0.2) -> np.ndarray:
    """The horizontal band of the page holding the most ink: enough text for a quick OCR vote."""
    rows = _ink_mask(gray).sum(axis=1).astype(np.float64)
    band = max(1, int(gray.shape[0] * share))
    if rows.sum() == 0 or band >= gray.shape[0]:
        return gray
    window = np.convolve(rows, np.ones(band), mode="valid")
    top = int(np.argmax(window))
    return gray[top : top + band]


def detect_orientation(
    gray: np.ndarray,
    lang: str = "eng",
    lines_horizontal: bool = False,
    min_osd_confidence: float = 2.0,
    strong_osd_confidence: float = 5.0,
    timeout: float = 20.0,
) -> int:
    """Clockwise degrees (0/90/180/270) that make the page upright.

    Tesseract OSD first; a confident answer is taken (a quarter turn needs a strong one
    when the caller has already made the text lines horizontal). Otherwise OCR confidence
    on the densest text band, read both ways up, decides: OSD at low confidence flips
    small print and ID cards (seen on the sample packets), the OCR vote does not. A tied
    vote falls back to OSD's guess, then to the page as stored.
    """
    probe = _downscale(gray, 2400)
    osd = osd_rotation(probe, timeout=timeout)
    if osd is not None:
        turn, confidence = osd
        quarter = turn in (90, 270)
        needed = strong_osd_confidence if (lines_horizontal and quarter) else min_osd_confidence
        if confidence >= needed:
            return turn
    base = 0 if lines_horizontal else estimate_axis_and_skew(gray)[0]
    candidates = (base, (base + 180) % 360)
    band = _densest_band(_downscale(gray, 2000))
    scores = [_mean_conf(rotate_right_angle(band, c), lang, timeout) for c in candidates]
    guess = osd[0] if osd is not None and osd[0] in candidates else candidates[0]
    if max(scores) <= 0.0 or abs(scores[0] - scores[1]) < 5.0:
        return guess if max(scores) > 0.0 else 0
    return candidates[int(np.argmax(scores))]


def _downscale(gray: np.ndarray, max_side: int) -> np.ndarray:
    side = max(gray.shape[:2])
    if side <= max_side:
        return gray
    factor = max_side / side
    return cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)


_MAX_SKEW_POINTS = 60_000


def _skew_search(mask: np.ndarray, max_degrees: float) -> tuple[float, float]:
    """(angle levelling the rows of `mask`, how sharp the rows are at that angle).

    The row profile at each candidate angle is a histogram of the ink pixels' rotated
    row coordinates (the same rotation as `deskew`, about the centre), so no image is
    warped; on a dense page a regular sample of the pixels stands for all of them.
    """
    height, width = mask.shape
    ys, xs = np.nonzero(mask)
    if ys.size > _MAX_SKEW_POINTS:
        step = ys.size // _MAX_SKEW_POINTS + 1
        ys, xs = ys[::step], xs[::step]
    x = xs.astype(np.float64) - width / 2
    y = ys.astype(np.float64) - height / 2

    def sharpness(angle: float) -> float:
        # cv2.getRotationMatrix2D(angle): y' = -sin(a) * x + cos(a) * y about the centre.
        radians = np.deg2rad(angle)
        rows = np.floor(-np.sin(radians) * x + np.cos(radians) * y + height / 2).astype(np.int64)
        rows = rows[(rows >= 0) & (rows < height)]
        profile = np.bincount(rows, minlength=height).astype(np.float64)
        mean = float(profile.mean())
        # Scale-free, so the two page axes can be compared.
        return float(np.var(profile)) / (mean * mean) if mean > 0 else 0.0

    best, best_score = 0.0, sharpness(0.0)
    for step_degrees, span in ((1.0, max_degrees), (0.2, 1.0), (0.05, 0.2)):
        angles = np.arange(best - span, best + span + 1e-9, step_degrees)
        angles = angles[np.abs(angles) <= max_degrees]
        scores = [sharpness(float(a)) for a in angles]
        pick = int(np.argmax(scores))
        best, best_score = float(angles[pick]), scores[pick]
    return round(best, 2), best_score


def estimate_skew(gray: np.ndarray, max_degrees: float = 10.0) -> float:
    """The angle (degrees, OpenCV's counter-clockwise sense) that levels the text lines; pass it to `deskew`.

    Projection profile: the angle at which rows of ink are sharpest, searched coarse then
    fine on a downscaled ink mask, so it is cheap (~50 ms a page).
    """
    small = _levels_image(gray)
    mask = _ink_mask(small).astype(np.uint8) * 255
    if mask.sum() == 0:
        return 0.0
    return _skew_search(mask, max_degrees)[0]


def _without_long_strokes(mask: np.ndarray, share: float = 1 / 15) -> np.ndarray:
    """The ink mask without straight runs longer than `share` of the page's longer side.

    Text lines are rows of short strokes; a card's coloured stripe, its outline or a form's
    box rules are long ones, and on a card photographed or copied on a mostly empty page
    they made the row profile sharper across the text lines than along them.
    """
    length = max(15, int(max(mask.shape) * share))
    rows = cv2.morphologyEx(
        mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1))
    )
    cols = cv2.morphologyEx(
        mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, length))
    )
    return cv2.bitwise_and(mask, cv2.bitwise_not(cv2.bitwise_or(rows, cols)))


def estimate_axis_and_skew(gray: np.ndarray, max_degrees: float = 10.0) -> tuple[int, float]:
    """(0 or 90 clockwise degrees that make text lines horizontal, then the levelling angle).

    Text lines give a sharp row profile along their own axis only, so comparing the best
    profile of the page and of the page turned 90 degrees finds the line axis even on a
    skewed page, where Tesseract's OSD is unsure.
    """
    small = _levels_image(gray)
    mask = _ink_mask(small).astype(np.uint8) * 255
    if mask.sum() == 0:
        return 0, 0.0
    text = _without_long_strokes(mask)
    if text.sum() == 0:
        text = mask
    _, score = _skew_search(text, max_degrees)
    _, turned_score = _skew_search(rotate_right_angle(text, 90), max_degrees)
    # The axis from the text alone; the angle from all ink, where long rules level it best.
    quarter = 90 if turned_score > score * 1.2 else 0
    return quarter, _skew_search(rotate_right_angle(mask, quarter), max_degrees)[0]


def deskew(image: np.ndarray, angle: float) -> np.ndarray:
    """Rotate by `angle` degrees (OpenCV's counter-clockwise sense), padding with paper colour."""
    if abs(angle) < MIN_SKEW_DEGREES:
        return image
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    if image.ndim == 2:
        border: tuple[float, ...] = (gray_percentiles(image, 90)[0],)
    else:
        paper = np.percentile(image, 90, axis=(0, 1))
        border = tuple(float(v) for v in np.atleast_1d(paper))
    return cv2.warpAffine(
        image,
        matrix,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=border,
    )


def speckle_fraction(gray: np.ndarray) -> float:
    """Share of the page that is isolated dark pixels: scanner or fax speckle, not strokes."""
    mask = _ink_mask(gray).astype(np.uint8)
    neighbours = cv2.filter2D(mask, -1, np.ones((3, 3), np.float32), borderType=cv2.BORDER_CONSTANT)
    return float(((mask > 0) & (neighbours <= 1)).mean())


def noise_level(gray: np.ndarray) -> float:
    """Mean difference from a 3x3 median: grain that Tesseract reads as tiny glyphs.

    Clean scans and JPEG artefacts measure below 1; sensor or fax grain above. Left in,
    such grain made Tesseract spend 20 s on a nearly empty page (0.3 s once removed).
    """
    diff = cv2.absdiff(gray, cv2.medianBlur(gray, 3))
    return float(diff.mean())


def denoise(gray: np.ndarray, method: str = "median") -> np.ndarray:
    """Salt-and-pepper speckle out; median costs ~20 ms a page, nlmeans ~2 s (measured at 300 DPI)."""
    if method == "median":
        return cv2.medianBlur(gray, 3)
    if method == "nlmeans":
        return cv2.fastNlMeansDenoising(gray, None, h=15, templateWindowSize=7, searchWindowSize=21)
    raise ValueError(f"denoise method must be 'median' or 'nlmeans', got {method!r}")


def is_bilevel(gray: np.ndarray, share: float = 0.95) -> bool:
    """Black and white only (a fax, or a scan thresholded by the scanner): of the pixels
    that are not the paper's level, at least `share` are one other level (the ink).

    On such a page a 3x3 median is not a denoiser: every stroke one pixel wide (light
    fonts at 150-200 DPI, the decimal point of an amount) differs from its median and is
    erased, and `noise_level` measures those strokes, not grain.
    """
    if gray.size == 0 or gray.dtype != np.uint8:
        return False
    counts = np.sort(cv2.calcHist([np.ascontiguousarray(gray)], [0], None, [256], [0, 256]).ravel())
    rest = float(counts.sum() - counts[-1])
    return rest > 0 and float(counts[-2]) >= share * rest


def despeckle(gray: np.ndarray, dpi: float = 300.0) -> np.ndarray:
    """Whiten isolated specks (dark blobs of a few pixels, none touching a stroke) and
    nothing else: what a median does for grain, without thinning or erasing strokes.

    The largest speck removed is smaller than a period of 8-point print at `dpi`.
    """
    max_area = max(2, round(2 * (dpi / 150.0) ** 2))
    mask = _ink_mask(gray).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    small = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] <= max_area)
    small = small[small != 0]  # label 0 is the paper
    if small.size == 0:
        return gray
    lut = np.zeros(count, dtype=bool)
    lut[small] = True
    out = gray.copy()
    out[lut[labels]] = gray_percentiles(gray, 90)[0]
    return out


def _levels_image(gray: np.ndarray) -> np.ndarray:
    """The page small and median-filtered: its grey levels without grain and specks."""
    small = _downscale(gray, 1000)
    return cv2.medianBlur(small, 3) if min(small.shape[:2]) >= 3 else small


_SHADE_STROKE_INCHES = 0.05
"""A closing this wide fills the strokes of print (a 10 pt stroke is 0.01-0.02 in) but not
a shaded band behind a row (0.15 in and more): what is left is the page's background."""
_SHADE_MIN_DEPTH = 15.0
"""Levels under the paper a background must fall to count as shading."""
_SHADE_MIN_SHARE = 0.03
"""Share of the page that must be shaded for the page to be flattened."""
_SHADE_FLOOR = 185.0
"""Backgrounds darker than this (a photo, a card's coloured band, a title's banner, a dark
border) are no light shading: their text is often light on dark, and is left as it is."""


def flatten_shading(gray: np.ndarray, dpi: float | None) -> np.ndarray:
    """The page divided by its background where that background is light shading: banded
    rows of a statement or a green-bar printout, on which OCR loses every other row, come
    out on white paper. Returns `gray` itself when the page has no such shading."""
    if gray.dtype != np.uint8 or gray.ndim != 2 or min(gray.shape) < 64:
        return gray
    factor = 2
    small = cv2.resize(
        gray, (gray.shape[1] // factor, gray.shape[0] // factor), interpolation=cv2.INTER_AREA
    )
    side = max(3, int(round((dpi or 300.0) * _SHADE_STROKE_INCHES / factor)) | 1)
    background = cv2.morphologyEx(
        small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (side, side))
    )
    paper = float(np.percentile(background, 90))
    shaded = (background < paper - _SHADE_MIN_DEPTH) & (background >= _SHADE_FLOOR)
    if float(shaded.mean()) < _SHADE_MIN_SHARE:
        return gray
    # only the shading is divided out: paper and dark regions keep their levels
    small_level = np.where(shaded, background, paper).astype(np.float32)
    level = cv2.resize(small_level, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR)
    flat = gray.astype(np.float32) * (paper / np.maximum(level, 1.0))
    return np.clip(flat, 0, 255).astype(np.uint8)


def normalize_contrast(gray: np.ndarray) -> np.ndarray:
    """Stretch the page so paper is white and ink is dark: faint photocopies become legible.

    Ink and paper levels are read off the page without its grain: on a mostly empty page
    the darkest percent of raw pixels is grain, and stretching it to black buried an ID
    card under noise that made Tesseract time out.
    """
    if gray.dtype != np.uint8 or gray.ndim != 2:
        gray = np.clip(gray, 0, 255).astype(np.uint8)
    low, high = gray_percentiles(_levels_image(gray), 0.5, 95)
    if high - low < 8:
        return gray
    levels = (np.arange(256, dtype=np.float32) - low) * (255.0 / (high - low))
    table = np.clip(np.rint(levels), 0, 255).astype(np.uint8)
    return cv2.LUT(gray, table)


def binarize(gray: np.ndarray, block_size: int = 31, c: int = 15) -> np.ndarray:
    """Adaptive (local mean) threshold, for uneven lighting; Tesseract binarises itself otherwise."""
    return cv2.adaptiveThreshold(
        gray, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, block_size, c
    )


def remove_borders(gray: np.ndarray, dark: int = 80, min_fill: float = 0.6) -> np.ndarray:
    """Whiten dark scanner borders: edge rows/columns that are mostly near-black."""
    out = gray.copy()
    height, width = out.shape[:2]
    dark_mask = out < dark
    row_fill = dark_mask.mean(axis=1)
    col_fill = dark_mask.mean(axis=0)
    limit_r, limit_c = height // 8, width // 8
    top = 0
    while top < limit_r and row_fill[top] > min_fill:
        top += 1
    bottom = height
    while bottom > height - limit_r and row_fill[bottom - 1] > min_fill:
        bottom -= 1
    left = 0
    while left < limit_c and col_fill[left] > min_fill:
        left += 1
    right = width
    while right > width - limit_c and col_fill[right - 1] > min_fill:
        right -= 1
    out[:top] = 255
    out[bottom:] = 255
    out[:, :left] = 255
    out[:, right:] = 255
    return out


def background_mask(gray: np.ndarray, edge_share: float = 0.5) -> np.ndarray | None:
    """Where the image shows the dark surface a document lies on, or None when it does not.

    A card photographed on a table, or a small document scanned with the lid open, fills
    only part of the image and the rest is dark. When at least `edge_share` of the image's
    edge is dark (an ordinary page's edge is paper), the dark regions connected to the edge
    are that surface; dark regions inside the document (text, a card's stripe) do not
    touch the edge. A dark band along the document's own edge joins the surface, which is
    why the mask only steers the measurements (`without_background`) and the page that
    Tesseract reads keeps every pixel. Returned at the size of `_levels_image(gray)`.
    """
    if gray.ndim != 2 or min(gray.shape) < 16:
        return None
    small = _levels_image(gray)
    _, dark = cv2.threshold(small, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    edge = np.concatenate([dark[0], dark[-1], dark[1:-1, 0], dark[1:-1, -1]])
    if float(edge.mean()) < edge_share or float(dark.mean()) > 0.9:
        return None
    _, labels = cv2.connectedComponents(dark, connectivity=8)
    touching = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    touching = touching[touching != 0]
    if touching.size == 0:
        return None
    surround = np.isin(labels, touching).astype(np.uint8)
    # Grown a little, so the blurred rim of the document goes too.
    return cv2.dilate(surround, np.ones((3, 3), np.uint8))


def without_background(gray: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """`gray` with the surface under the document (`background_mask`) painted paper white."""
    if mask is None:
        return gray
    full = cv2.resize(mask, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
    if full.all():
        return gray
    out = gray.copy()
    out[full] = gray_percentiles(gray[~full], 90)[0]
    return out


def rule_mask(gray: np.ndarray, dpi: float = 300.0, min_inches: float = 0.25) -> np.ndarray:
    """Pixels of long horizontal and vertical rules (form boxes, table grids, signature lines).

    A rule is a straight run of ink longer than `min_inches`, longer than any letter
    stroke of body text.
    """
    mask = _ink_mask(gray).astype(np.uint8) * 255
    length = max(15, int(min_inches * dpi))
    horizontal = cv2.morphologyEx(
        mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1))
    )
    vertical = cv2.morphologyEx(
        mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, length))
    )
    return cv2.dilate(cv2.bitwise_or(horizontal, vertical), np.ones((3, 3), np.uint8)) > 0


def remove_rules(gray: np.ndarray, dpi: float = 300.0, min_inches: float = 0.25) -> np.ndarray:
    """Whiten the rules of `rule_mask`.

    Tesseract's layout analysis drops text that sits inside boxes (on a sample invoice:
    statement number, NPI, patient, member ID), but whitening also nicks text that touches
    a line, so the reader uses this for a second pass, not instead of the first.
    """
    out = gray.copy()
    out[rule_mask(gray, dpi, min_inches)] = 255
    return out


def normalize_dpi(gray: np.ndarray, dpi: float, target: float = 300.0) -> tuple[np.ndarray, float]:
    """Resample to about `target` DPI: Tesseract reads best with x-heights of 20-30 pixels."""
    if dpi <= 0 or abs(dpi - target) / target < 0.1:
        return gray, dpi
    factor = target / dpi
    interpolation = cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA
    return cv2.resize(gray, None, fx=factor, fy=factor, interpolation=interpolation), target


def preprocess(
    image: np.ndarray,
    dpi: float,
    config: PreprocessConfig | None = None,
    lang: str = "eng",
    timeout: float = 20.0,
) -> PreprocessResult:
    """Run the configured steps in order; a blank page stops early and is flagged.

    Raises OcrError / OcrTimeoutError only when orientation needs an OCR vote that fails.
    """
    config = config or PreprocessConfig()
    gray = to_gray(image)
    steps: list[str] = []
    warnings: list[str] = []
    if gray.size and float(gray.mean()) < 30:
        warnings.append("page is almost entirely dark; the scan may have failed")
    # Looked for before the border rows are whitened: they are the edge it looks at.
    measures = config.orientation or config.deskew
    background = background_mask(gray) if config.ignore_background and measures else None
    if config.remove_borders:
        gray = remove_borders(gray)
        steps.append("remove_borders")
    if is_blank(gray, config.blank_ink_fraction):
        return PreprocessResult(image=gray, dpi=dpi, blank=True, steps=steps)
    if config.flatten_shading:
        flat = flatten_shading(gray, dpi)
        if flat is not gray:
            gray = flat
            steps.append("flatten_shading")
    if config.contrast:
        gray = normalize_contrast(gray)
        steps.append("contrast")
    if config.denoise and is_bilevel(gray):
        # Black-and-white pages: specks only; a median would erase thin strokes and points.
        if speckle_fraction(gray) >= config.speckle_threshold:
            gray = despeckle(gray, dpi)
            steps.append("despeckle")
    elif config.denoise and (
        speckle_fraction(gray) >= config.speckle_threshold
        or noise_level(gray) >= config.noise_threshold
    ):
        # Only speckled pages (a median filter thins clean small print and confuses OSD).
        # Measured after the contrast stretch, which turns the faint grain of a washed-out
        # scan into dark specks (one such page kept Tesseract busy for 7 minutes; 0.5 s
        # once filtered), and before resampling, while specks are still small.
        gray = denoise(gray, config.denoise_method)
        steps.append(f"denoise_{config.denoise_method}")
    keep = (
        config.enlarge_below_dpi is not None
        and config.target_dpi is not None
        and config.enlarge_below_dpi <= dpi < config.target_dpi
    )
    if config.resample and config.target_dpi is not None and not keep:
        gray, dpi = normalize_dpi(gray, dpi, config.target_dpi)
        steps.append("normalize_dpi")
    rotation = 0
    skew = 0.0
    if measures:
        measured = without_background(gray, background)
        if background is not None:
            steps.append("ignore_background")
        if config.orientation:
            quarter, skew = estimate_axis_and_skew(measured, config.max_skew_degrees)
        else:
            quarter, skew = 0, estimate_skew(measured, config.max_skew_degrees)
        rotation = quarter
        if config.orientation and config.orientation_method == "osd":
            turned = rotate_right_angle(gray, quarter)
            level = deskew(turned, skew) if config.deskew else turned
            extra = detect_orientation(level, lang=lang, lines_horizontal=True, timeout=timeout)
            rotation = (quarter + extra) % 360
            steps.append("orientation")
        elif config.orientation:
            # Lines are horizontal now; up or down is settled by the OCR read itself (reader).
            steps.append("orientation_axis")
        if not config.deskew:
            skew = 0.0
        gray = rotate_right_angle(gray, rotation)
        if config.deskew:
            if rotation != quarter and (rotation - quarter) % 180:
                # OSD turned the page a further quarter: measure the skew again on its axis.
                skew = estimate_skew(gray, config.max_skew_degrees)
            gray = deskew(gray, skew)
            steps.append("deskew")
    if config.binarize:
        gray = binarize(gray)
        steps.append("binarize")
    return PreprocessResult(
        image=gray, dpi=dpi, rotation=rotation, skew=skew, steps=steps, warnings=warnings
    )


def to_source_bbox(
    bbox: tuple[float, float, float, float],
    rotation: int,
    skew: float,
    upright_size: tuple[int, int],
) -> tuple[float, float, float, float]:
    """Map a box read on the cleaned page back to the page as stored in the file.

    `bbox` is in fractions of the cleaned image (after `rotation` clockwise degrees and a
    `skew` deskew); `upright_size` is that image's (width, height). The contract's boxes
    refer to the stored page, so a reviewer's highlight lands on the right words.
    """
    width, height = upright_size
    x0, y0, x1, y1 = bbox
    corners = np.array(
        [
            [x0 * width, y0 * height],
            [x1 * width, y0 * height],
            [x0 * width, y1 * height],
            [x1 * width, y1 * height],
        ],
        dtype=np.float64,
    )
    if abs(skew) >= MIN_SKEW_DEGREES:
        forward = cv2.getRotationMatrix2D((width / 2, height / 2), skew, 1.0)
        inverse = cv2.invertAffineTransform(forward)
        corners = corners @ inverse[:, :2].T + inverse[:, 2]
    u = corners[:, 0] / width
    v = corners[:, 1] / height
    turn = rotation % 360
    if turn == 0:
        xs, ys = u, v
    elif turn == 90:
        xs, ys = v, 1.0 - u
    elif turn == 180:
        xs, ys = 1.0 - u, 1.0 - v
    elif turn == 270:
        xs, ys = 1.0 - v, u
    else:
        raise ValueError(f"rotation must be one of 0, 90, 180, 270 degrees, got {rotation}")
    clip = np.clip
    return (
        float(clip(xs.min(), 0, 1)),
        float(clip(ys.min(), 0, 1)),
        float(clip(xs.max(), 0, 1)),
        float(clip(ys.max(), 0, 1)),
    )
