import random

import cv2
import numpy as np
import pytest

from pipeline.reading.calibrate import degrade, synthetic_page
from pipeline.reading.preprocess import (
    PreprocessConfig,
    background_mask,
    deskew,
    detect_orientation,
    estimate_axis_and_skew,
    estimate_skew,
    flatten_shading,
    is_blank,
    normalize_contrast,
    normalize_dpi,
    preprocess,
    remove_borders,
    rotate_right_angle,
    to_source_bbox,
)


@pytest.fixture(scope="module")
def text_page() -> np.ndarray:
    image, _ = synthetic_page(11, dpi=200, lines=18)
    return image


def _skewed(image: np.ndarray, degrees: float) -> np.ndarray:
    h, w = image.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (w, h), borderValue=255)


@pytest.mark.parametrize("degrees", [3.0, -3.0, 7.5])
def test_preprocess_skew_estimate_within_half_degree(text_page: np.ndarray, degrees: float) -> None:
    estimate = estimate_skew(_skewed(text_page, degrees))
    assert estimate == pytest.approx(-degrees, abs=0.5)
    level = deskew(_skewed(text_page, degrees), estimate)
    assert abs(estimate_skew(level)) <= 0.5


def test_preprocess_skew_of_blank_is_zero() -> None:
    assert estimate_skew(np.full((300, 200), 255, np.uint8)) == 0.0


@pytest.mark.slow
@pytest.mark.parametrize("turn", [90, 180, 270])
def test_preprocess_orientation_detects_turned_pages(text_page: np.ndarray, turn: int) -> None:
    # Turn the upright page counter-clockwise by `turn`; the fix is `turn` clockwise.
    stored = rotate_right_angle(text_page, (360 - turn) % 360)
    assert detect_orientation(stored) == turn
    assert rotate_right_angle(stored, turn).shape == text_page.shape


def test_preprocess_rotate_rejects_odd_angles(text_page: np.ndarray) -> None:
    with pytest.raises(ValueError, match="0, 90, 180, 270.*45"):
        rotate_right_angle(text_page, 45)


def test_preprocess_blank_detection() -> None:
    white = np.full((1100, 850), 250, np.uint8)
    specks = white.copy()
    specks[np.random.default_rng(0).random(white.shape) < 0.0005] = 0
    assert is_blank(white) and is_blank(specks)
    assert is_blank(np.zeros((1, 1), np.uint8))
    assert not is_blank(np.zeros((1100, 850), np.uint8))  # all black: a failed scan, not blank
    inked = white.copy()
    inked[100:1000:20, 100:700] = 0
    assert not is_blank(inked)


def test_preprocess_blank_page_stops_before_ocr() -> None:
    result = preprocess(np.full((1100, 850), 255, np.uint8), 100.0)
    assert result.blank and "orientation" not in result.steps


def test_preprocess_all_black_page_is_warned_not_crashed() -> None:
    config = PreprocessConfig(orientation=False)
    result = preprocess(np.zeros((600, 400), np.uint8), 100.0, config)
    assert not result.blank and result.warnings


def test_preprocess_remove_borders_whitens_scanner_edges(text_page: np.ndarray) -> None:
    bordered, _ = degrade(text_page, "border", random.Random(0))
    cleaned = remove_borders(bordered)
    assert cleaned[:40, :].min() == 255 and cleaned[:, :40].min() == 255
    assert (cleaned < 128).sum() == pytest.approx((text_page < 128).sum(), rel=0.05)


def test_preprocess_contrast_darkens_faint_ink(text_page: np.ndarray) -> None:
    faint, _ = degrade(text_page, "faint", random.Random(0))
    assert faint.min() > 150
    assert normalize_contrast(faint).min() < 60


def test_preprocess_normalize_dpi_rescales() -> None:
    image = np.full((1650, 1275), 255, np.uint8)
    scaled, dpi = normalize_dpi(image, 150.0, 300.0)
    assert scaled.shape == (3300, 2550) and dpi == 300.0
    same, dpi = normalize_dpi(image, 290.0, 300.0)
    assert same is image and dpi == 290.0


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_preprocess_source_bbox_maps_back_through_rotation(rotation: int) -> None:
    stored = np.zeros((300, 200), np.uint8)
    stored[20:40, 150:190] = 255  # a mark near the top-right of the stored page
    upright = rotate_right_angle(stored, rotation)
    ys, xs = np.nonzero(upright)
    h, w = upright.shape
    box = (xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h)
    mapped = to_source_bbox(box, rotation, 0.0, (w, h))
    assert mapped == pytest.approx((150 / 200, 20 / 300, 190 / 200, 40 / 300), abs=0.01)


def test_preprocess_grain_on_a_faint_page_is_judged_after_the_contrast_stretch(
    text_page: np.ndarray,
) -> None:
    # A washed-out scan: ink at 200 on paper at 235, with light grain. Before the stretch the
    # grain measures low; after it, it is dark specks that keep Tesseract busy for minutes.
    faint = (235 - (255 - text_page.astype(np.float32)) * (35 / 255)).astype(np.float32)
    rng = np.random.default_rng(3)
    grainy = np.clip(faint + rng.normal(0, 0.7, faint.shape), 0, 255).astype(np.uint8)
    config = PreprocessConfig(orientation=False, deskew=False)
    from pipeline.reading.preprocess import noise_level

    assert noise_level(grainy) < config.noise_threshold
    assert noise_level(normalize_contrast(grainy)) >= config.noise_threshold
    result = preprocess(grainy, 200.0, config)
    assert "denoise_median" in result.steps
    assert result.steps.index("contrast") < result.steps.index("denoise_median")


def test_gray_percentiles_match_numpy_order_statistics() -> None:
    from pipeline.reading.preprocess import gray_percentiles

    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (301, 207), dtype=np.uint8)
    ours = gray_percentiles(image, 1, 50, 90, 95)
    lower = [float(v) for v in np.percentile(image, [1, 50, 90, 95], method="lower")]
    assert ours == lower


def _card_copy() -> np.ndarray:
    """An ID card copied on a letter page at 150 DPI: outline, dark stripe, a few short lines."""
    page = np.full((1650, 1275), 255, np.uint8)
    x, y, w, h = 150, 200, 506, 319
    cv2.rectangle(page, (x, y), (x + w, y + h), 0, 2)
    page[y : y + h, x : x + 30] = 60  # the coloured stripe down the card's left edge
    for i, text in enumerate(("Harborview Assurance", "JOHN Q SMITH", "374558-57", "POL-9545836")):
        cv2.putText(page, text, (x + 50, y + 50 + 40 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.7, 0, 2)
    return page


@pytest.mark.parametrize("turn", [0, 90])
def test_preprocess_axis_of_a_card_follows_its_text_not_its_stripe(turn: int) -> None:
    stored = rotate_right_angle(_card_copy(), (360 - turn) % 360)
    quarter, skew = estimate_axis_and_skew(stored)
    assert quarter == turn % 180
    assert abs(skew) <= 0.5


def _thin_bilevel_page() -> np.ndarray:
    """A black-and-white 150 DPI page of one-pixel strokes, as a fax or a thresholded
    scan of a light font prints them, with a decimal point of two by two pixels."""
    page = np.full((400, 600), 255, np.uint8)
    for row in range(11):
        cv2.putText(page, "99214 Office visit 80061", (10, 30 + 30 * row), 0, 0.8, 0, 1)
    page[360:362, 300:302] = 0
    return np.where(page < 128, 0, 255).astype(np.uint8)


def test_preprocess_bilevel_page_keeps_one_pixel_strokes() -> None:
    from pipeline.reading.preprocess import is_bilevel, noise_level

    page = _thin_bilevel_page()
    assert is_bilevel(page)
    # The grain measure fires on thin strokes alone, so it cannot be what decides here.
    assert noise_level(page) >= PreprocessConfig().noise_threshold
    config = PreprocessConfig(orientation=False, deskew=False, resample=False)
    result = preprocess(page, 150.0, config)
    assert not any(step.startswith("denoise") for step in result.steps)
    assert np.array_equal(result.image < 128, page < 128)


def test_preprocess_bilevel_specks_are_removed_strokes_and_points_kept() -> None:
    from pipeline.reading.preprocess import despeckle

    page = _thin_bilevel_page()
    rng = np.random.default_rng(7)
    specks = (rng.random(page.shape) < 0.004) & (cv2.dilate(255 - page, np.ones((5, 5))) == 0)
    noisy = page.copy()
    noisy[specks] = 0
    config = PreprocessConfig(orientation=False, deskew=False, resample=False)
    result = preprocess(noisy, 150.0, config)
    assert "despeckle" in result.steps
    assert np.array_equal(result.image < 128, page < 128)
    assert np.array_equal(despeckle(page, 150.0), page)


def test_preprocess_is_bilevel_false_for_grey_scans(text_page: np.ndarray) -> None:
    from pipeline.reading.preprocess import is_bilevel

    assert not is_bilevel(text_page)


def test_preprocess_enlarges_only_pages_below_enlarge_below_dpi() -> None:
    page, _ = synthetic_page(5, dpi=200, lines=4)
    default = preprocess(page, 200.0, PreprocessConfig(orientation=False, deskew=False))
    assert default.dpi == 300.0 and default.image.shape[0] == round(page.shape[0] * 1.5)
    config = PreprocessConfig(orientation=False, deskew=False, enlarge_below_dpi=190)
    kept = preprocess(page, 200.0, config)
    assert kept.dpi == 200.0 and "normalize_dpi" not in kept.steps
    fax, _ = synthetic_page(6, dpi=150, lines=4)
    assert preprocess(fax, 150.0, config).dpi == 300.0


def _photographed_card(degrees: float) -> np.ndarray:
    """A card with a dark band along its top edge, photographed turned `degrees` on a
    dark table that fills most of the picture."""
    card = np.full((420, 700), 235, np.uint8)
    card[:70] = 70  # the insurer's band, dark, along the card's own edge
    cv2.putText(card, "Summit Benefit Plans", (20, 50), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 255, 2)
    for i, text in enumerate(("Member  JANE Q SMITH", "Member ID  H28504198", "Plan  Core 94299")):
        cv2.putText(card, text, (20, 130 + 55 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 0, 2)
    photo = np.full((1000, 1300), 55, np.uint8)
    photo[290:710, 300:1000] = card
    matrix = cv2.getRotationMatrix2D((650, 500), degrees, 1.0)
    return cv2.warpAffine(photo, matrix, (1300, 1000), borderValue=55)


def test_preprocess_skew_of_a_card_photographed_on_a_table_ignores_the_table() -> None:
    photo = _photographed_card(6.0)
    level = preprocess(photo, 300.0, PreprocessConfig(resample=False))
    assert level.skew == pytest.approx(-6.0, abs=0.5)
    assert "ignore_background" in level.steps
    # Measured with the table, the table's straight edges win: the card stays tilted.
    tilted = preprocess(photo, 300.0, PreprocessConfig(resample=False, ignore_background=False))
    assert abs(tilted.skew) < 1.0
    # The page read keeps the card's band and the table: only the measurement ignores them.
    assert level.image.shape == photo.shape
    assert float((level.image < 100).mean()) > 0.3


def test_preprocess_background_mask_leaves_ordinary_pages_alone(text_page: np.ndarray) -> None:
    assert background_mask(text_page) is None
    # A page with a dark banner reaching one edge is still an ordinary page.
    bannered = text_page.copy()
    bannered[:120] = 40
    assert background_mask(bannered) is None


def test_preprocess_flatten_shading_whitens_banded_rows_only(text_page: np.ndarray) -> None:
    # a statement shades every other row light grey: divided out, the bands are paper again
    # and the print stays dark; a page without shading is returned as it is
    assert not PreprocessConfig().flatten_shading  # measured mixed: a switch, off
    assert flatten_shading(text_page, 200) is text_page
    banded = text_page.copy()
    height = banded.shape[0]
    band = height // 40
    for top in range(band, height - band, 2 * band):
        rows = banded[top : top + band]
        banded[top : top + band] = np.minimum(rows, 215)  # light grey behind the print
    flat = flatten_shading(banded, 200)
    assert flat is not banded
    paper = text_page > 240
    assert float(np.median(flat[paper])) >= 245  # the bands are gone
    ink = text_page < 100
    assert float(np.median(flat[ink])) <= float(np.median(text_page[ink])) + 20
    # a dark region (a photo, a card's band) is no shading: left alone
    dark = text_page.copy()
    dark[: height // 4] = 60
    assert flatten_shading(dark, 200) is dark
