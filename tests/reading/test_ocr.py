import json

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from pipeline.document import Word
from pipeline.errors import ConfigError, NotFittedError, OcrError, OcrTimeoutError
from pipeline.reading import ocr
from pipeline.reading.calibrate import FONT_CANDIDATES, align_words, word_errors
from pipeline.reading.ocr import (
    ConfidenceCalibrator,
    content_box,
    load_default_calibrator,
    ocr_best,
    ocr_image,
    tesseract_lang,
)


def _text_image(
    rows: list[tuple[int, int, str]], size: tuple[int, int] = (1400, 500)
) -> np.ndarray:
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT_CANDIDATES[0], 42)
    for x, y, text in rows:
        draw.text((x, y), text, fill=0, font=font)
    return np.asarray(image, dtype=np.uint8).copy()


def test_ocr_calibrator_fit_is_monotone_and_roundtrips() -> None:
    rng = np.random.default_rng(0)
    raw = rng.uniform(0, 100, 2000)
    correct = rng.random(2000) < raw / 100
    calibrator = ConfidenceCalibrator().fit(raw, correct)
    grid = calibrator.predict(np.linspace(0, 100, 51))
    assert np.all(np.diff(grid) >= 0) and grid.min() >= 0.0 and grid.max() <= 1.0
    assert calibrator(90.0) == pytest.approx(0.9, abs=0.08)
    again = ConfidenceCalibrator.from_json(calibrator.to_json())
    assert again(55.0) == pytest.approx(calibrator(55.0), abs=1e-3)


def test_ocr_calibrator_errors_are_named() -> None:
    with pytest.raises(NotFittedError, match="fit"):
        ConfidenceCalibrator().predict([50.0])
    with pytest.raises(ValueError, match="non-empty"):
        ConfidenceCalibrator().fit([], [])
    with pytest.raises(ConfigError, match="isotonic"):
        ConfidenceCalibrator.from_json(json.dumps({"kind": "platt"}))


def test_ocr_default_table_is_monotone_probability() -> None:
    calibrator = load_default_calibrator("eng")
    grid = calibrator.predict(np.arange(0, 101))
    assert np.all(np.diff(grid) >= 0)
    assert grid[0] < 0.3 and 0.9 < grid[-1] <= 0.98
    assert load_default_calibrator("chi_sim+eng")(96.0) == calibrator(96.0)


def test_ocr_language_table() -> None:
    assert tesseract_lang("en") == "eng"
    assert tesseract_lang("zh").startswith("chi_sim")
    with pytest.raises(ConfigError, match="'fr'.*known languages"):
        tesseract_lang("fr")


def test_ocr_align_and_word_errors() -> None:
    truth = ["Patient", "Name", "John", "Smith"]
    read = ["Patient", "Narne", "John", "Smith", "extra"]
    assert align_words(truth, read) == [True, False, True, True, False]
    assert word_errors(truth, read) == 2


def test_ocr_rejects_non_image() -> None:
    with pytest.raises(OcrError, match="2-D grayscale"):
        ocr_image(np.zeros((0,), np.uint8))


@pytest.mark.slow
def test_ocr_reads_words_boxes_and_confidences() -> None:
    image = _text_image(
        [(40, 60, "Invoice Number: 4471"), (40, 200, "Total"), (900, 200, "$125.00")]
    )
    read = ocr_best(image)
    words = [w for line in read.lines for w in line.words]
    assert [w.text for w in words] == ["Invoice", "Number:", "4471", "Total", "$125.00"]
    assert all(0.0 <= w.confidence <= 1.0 and w.raw_confidence is not None for w in words)
    assert min(w.confidence for w in words) > 0.7
    # "Total" and "$125.00" are far apart on one row: two lines.
    assert [line.text for line in read.lines] == ["Invoice Number: 4471", "Total", "$125.00"]
    total = words[3]
    assert total.bbox[0] == pytest.approx(40 / 1400, abs=0.01)
    assert total.bbox[1] == pytest.approx(200 / 500, abs=0.04)


def test_ocr_content_box_frames_the_ink_and_ignores_lone_specks() -> None:
    page = np.full((3300, 2550), 255, np.uint8)
    page[300:340, 400:1200] = 0  # a line of text, as a bar
    page[900:928, 500:700] = 0
    page[3000, 2400] = 0  # scanner specks: single pixels
    page[2800, 100] = 0
    margin = 60  # 0.2 inch at 300 DPI
    assert content_box(page, 300) == (400 - margin, 300 - margin, 1200 + margin, 928 + margin)
    # A page whose ink nearly fills it, and one without ink, are read whole.
    full = page.copy()
    full[3200:3220, 100:2450] = 0
    assert content_box(full, 300) == (0, 0, 2550, 3300)
    assert content_box(np.full((3300, 2550), 255, np.uint8), 300) == (0, 0, 2550, 3300)
    assert content_box(np.zeros((20, 20), np.uint8)) == (0, 0, 20, 20)


@pytest.mark.slow
def test_ocr_reads_only_the_inked_part_and_boxes_stay_on_the_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = np.full((2200, 1700), 255, np.uint8)
    page[100:600, 150:1550] = _text_image(
        [(40, 60, "Invoice Number: 4471"), (40, 200, "Total"), (900, 200, "$125.00")]
    )
    seen: list[tuple[int, ...]] = []
    real = ocr.tesseract_data

    def spy(image: np.ndarray, *args: object) -> dict[str, list[object]]:
        seen.append(image.shape)
        return real(image, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(ocr, "tesseract_data", spy)
    read = ocr_image(page, dpi=200)
    assert seen[0][0] * seen[0][1] < 0.4 * page.size  # Tesseract saw the text, not the page
    words = {w.text: w.bbox for line in read.lines for w in line.words}
    assert words["Total"][0] == pytest.approx((150 + 40) / 1700, abs=0.01)
    assert words["Total"][1] == pytest.approx((100 + 200) / 2200, abs=0.01)
    assert words["$125.00"][0] == pytest.approx((150 + 900) / 1700, abs=0.01)


@pytest.mark.slow
def test_ocr_timeout_is_named() -> None:
    image = _text_image([(40, 60 + 50 * i, "Statement of charges " * 3) for i in range(9)])
    with pytest.raises(OcrTimeoutError, match="within"):
        ocr_image(image, timeout=0.01)


def test_ocr_merge_reads_adds_only_new_regions() -> None:
    from pipeline.document import Line, Word
    from pipeline.reading.ocr import OcrRead, merge_reads

    def line(text: str, box: tuple[float, float, float, float]) -> Line:
        return Line.from_words([Word(text=text, confidence=0.9, raw_confidence=90.0, bbox=box)])

    primary = OcrRead(
        lines=[line("Invoice", (0.1, 0.1, 0.3, 0.12))],
        psm=3,
        mean_raw_confidence=90.0,
        word_count=1,
    )
    extra = OcrRead(
        lines=[line("Invoice", (0.1, 0.1, 0.3, 0.121)), line("566904545", (0.1, 0.2, 0.3, 0.22))],
        psm=3,
        mean_raw_confidence=80.0,
        word_count=2,
    )
    merged = merge_reads(primary, extra)
    assert [ln.text for ln in merged.lines] == ["Invoice", "566904545"]
    assert merged.word_count == 2
    assert (
        merge_reads(primary, OcrRead(lines=[], psm=3, mean_raw_confidence=0, word_count=0))
        is primary
    )


def test_ocr_rule_removal_keeps_text_and_drops_boxes() -> None:
    from pipeline.reading.preprocess import remove_rules, rule_mask

    image = _text_image([(60, 60, "566904545")], size=(1400, 500))
    boxed = image.copy()
    boxed[40:44, 30:900] = 0
    boxed[130:134, 30:900] = 0
    boxed[40:134, 30:34] = 0
    assert rule_mask(boxed, dpi=300)[42, 500] and not rule_mask(boxed, dpi=300)[80, 75]
    cleaned = remove_rules(boxed, dpi=300)
    assert cleaned[42, 500] == 255 and cleaned[40:134, 30:34].min() == 255
    assert (cleaned < 128).sum() == pytest.approx((image < 128).sum(), rel=0.1)


def _doubtful_word(image: np.ndarray, text: str, raw: float) -> Word:
    ys, xs = np.nonzero(image < 128)
    h, w = image.shape
    box = (xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h)
    return Word(text=text, confidence=0.1, raw_confidence=raw, bbox=box)


@pytest.mark.slow
def test_ocr_reread_words_replaces_a_doubtful_code_with_the_enlarged_read() -> None:
    from pipeline.document import Line
    from pipeline.reading.ocr import reread_words

    image = Image.new("L", (400, 120), 255)
    font = ImageFont.truetype(FONT_CANDIDATES[0], 22)
    ImageDraw.Draw(image).text((40, 40), "J1885", fill=0, font=font)
    page = np.asarray(image, dtype=np.uint8).copy()
    # the first read took the J for a 9 and was unsure of it
    lines = [Line.from_words([_doubtful_word(page, "91885", 12.0)])]
    out, replaced = reread_words(page, lines)
    assert replaced == 1
    assert out[0].words[0].text == "J1885"
    assert out[0].words[0].raw_confidence > 22.0
    assert out[0].confidence == out[0].words[0].confidence


def test_ocr_reread_words_leaves_sure_and_wordy_reads_alone() -> None:
    from pipeline.document import Line
    from pipeline.reading.ocr import needs_reread, reread_words

    sure = Word(text="99213", confidence=0.95, raw_confidence=93.0, bbox=(0.1, 0.1, 0.2, 0.12))
    word = Word(text="Office", confidence=0.2, raw_confidence=20.0, bbox=(0.3, 0.1, 0.4, 0.12))
    assert not needs_reread(sure, 70.0) and not needs_reread(word, 70.0)
    assert needs_reread(sure.model_copy(update={"raw_confidence": 40.0}), 70.0)
    lines = [Line.from_words([sure, word])]
    blank = np.full((200, 300), 255, np.uint8)
    assert reread_words(blank, lines) == (lines, 0)  # nothing doubtful: no Tesseract call


def test_ocr_reread_words_survives_overlapping_and_degenerate_boxes() -> None:
    from pipeline.document import Line
    from pipeline.reading.ocr import reread_words

    page = np.full((300, 600), 255, np.uint8)
    words = [
        Word(text="2025-09-17", confidence=0.2, raw_confidence=20.0, bbox=(0.1, 0.1, 0.5, 0.15)),
        # a neighbour the reader boxed inside the previous word, and a zero-width box
        Word(text="0120", confidence=0.2, raw_confidence=20.0, bbox=(0.2, 0.1, 0.3, 0.15)),
        Word(text="12.94", confidence=0.2, raw_confidence=20.0, bbox=(0.9, 0.1, 0.9, 0.15)),
        Word(text="88.18", confidence=0.2, raw_confidence=20.0, bbox=(1.0, 1.0, 1.0, 1.0)),
    ]
    lines = [Line.from_words(words)]
    out, replaced = reread_words(page, lines)  # blank crops: nothing read, nothing replaced
    assert replaced == 0 and out == lines
