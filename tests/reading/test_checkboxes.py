from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.document import Line, Page, Word
from pipeline.reading.checkboxes import (
    EMPTY,
    MARKED,
    Checkbox,
    add_checkbox_words,
    detect_checkboxes,
)


def _form(dpi: int) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """A white page with three boxes in a row: ticked (✓), empty, crossed (X)."""
    scale = dpi / 100
    image = np.full((int(400 * scale), int(800 * scale)), 255, np.uint8)
    side = int(18 * scale)
    boxes = []
    for i, kind in enumerate(("tick", "empty", "cross")):
        x, y = int((60 + i * 220) * scale), int(200 * scale)
        cv2.rectangle(image, (x, y), (x + side, y + side), 0, max(1, int(1.5 * scale)))
        if kind == "tick":
            pts = np.array(
                [
                    [x + side * 0.2, y + side * 0.5],
                    [x + side * 0.45, y + side * 0.85],
                    [x + side * 1.1, y - side * 0.2],
                ],
                np.int32,
            )
            cv2.polylines(image, [pts], False, 0, max(2, int(2.5 * scale)))
        if kind == "cross":
            cv2.line(image, (x + 3, y + 3), (x + side - 3, y + side - 3), 0, max(1, int(2 * scale)))
            cv2.line(image, (x + side - 3, y + 3), (x + 3, y + side - 3), 0, max(1, int(2 * scale)))
        cv2.putText(
            image,
            "Option",
            (x + side + int(10 * scale), y + side),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6 * scale,
            0,
            1,
        )
        boxes.append((x, y, side))
    return image, boxes


@pytest.mark.parametrize("dpi", [100, 150, 200, 300])
def test_checkboxes_found_and_read_at_common_resolutions(dpi):
    image, truth = _form(dpi)
    found = detect_checkboxes(image, dpi)
    assert [b.marked for b in found] == [True, False, True]
    for box, (x, y, _) in zip(found, truth, strict=True):
        assert abs(box.x0 - x) <= 3 and abs(box.y0 - y) <= 3


def test_checkboxes_none_on_text_or_table_rules():
    image = np.full((300, 800), 255, np.uint8)
    cv2.putText(image, "DOB BODE PDQ", (40, 100), cv2.FONT_HERSHEY_DUPLEX, 1.2, 0, 3)
    cv2.line(image, (40, 200), (760, 200), 0, 2)
    cv2.rectangle(image, (40, 220), (760, 280), 0, 2)
    assert detect_checkboxes(image, 100) == []


def test_checkboxes_blank_and_black_pages_are_quiet():
    assert detect_checkboxes(np.full((200, 200), 255, np.uint8), 100) == []
    assert detect_checkboxes(np.zeros((200, 200), np.uint8), 100) == []


def _word(text, x0, y0, x1, y1, conf=0.95):
    return Word(text=text, confidence=conf, bbox=(x0, y0, x1, y1))


def test_checkboxes_mark_joins_the_line_of_its_label():
    label = _word("Inpatient", 0.20, 0.50, 0.30, 0.52)
    page = Page(file="f.pdf", page=1, width=100, height=100, lines=[Line.from_words([label])])
    box = Checkbox(x0=170, y0=498, x1=188, y1=522, marked=True, fill=0.4, confidence=0.9)
    out = add_checkbox_words(page, [box], 1000, 1000)
    assert [w.text for w in out.lines[0].words] == [MARKED, "Inpatient"]


def test_checkboxes_box_on_a_real_word_is_a_letter_and_dropped():
    word = _word("Date:", 0.10, 0.10, 0.16, 0.12)
    page = Page(file="f.pdf", page=1, width=100, height=100, lines=[Line.from_words([word])])
    letter = Checkbox(x0=100, y0=100, x1=115, y1=120, marked=True, fill=0.4, confidence=0.9)
    assert add_checkbox_words(page, [letter], 1000, 1000).lines[0].words == [word]


def test_checkboxes_reader_guess_for_a_box_is_replaced():
    guess = _word("O", 0.171, 0.50, 0.187, 0.52, conf=0.4)
    label = _word("Accident", 0.20, 0.50, 0.29, 0.52)
    page = Page(
        file="f.pdf", page=1, width=100, height=100, lines=[Line.from_words([guess, label])]
    )
    box = Checkbox(x0=170, y0=498, x1=188, y1=522, marked=False, fill=0.0, confidence=0.9)
    out = add_checkbox_words(page, [box], 1000, 1000)
    assert [w.text for w in out.lines[0].words] == [EMPTY, "Accident"]


def test_checkboxes_bottom_stroke_starting_left_of_the_top_still_makes_a_box():
    # Skew or a tick's ink can start a box's bottom stroke a pixel or two left of its top.
    image = np.full((200, 300), 255, np.uint8)
    x, y, side = 100, 80, 36
    cv2.line(image, (x, y), (x + side, y), 0, 3)
    cv2.line(image, (x - 2, y + side), (x + side - 2, y + side), 0, 3)
    cv2.line(image, (x, y), (x - 1, y + side), 0, 3)
    cv2.line(image, (x + side, y), (x + side - 1, y + side), 0, 3)
    tick = np.array([[x + 7, y + 18], [x + 15, y + 30], [x + 40, y - 6]], np.int32)
    cv2.polylines(image, [tick], False, 0, 5)
    found = detect_checkboxes(image, 300)
    assert len(found) == 1 and found[0].marked
    assert abs(found[0].x0 - x) <= 3 and abs(found[0].y0 - y) <= 3


def test_checkboxes_mark_joins_the_word_right_of_it_inside_a_line():
    # The reader made one line of two choices; a second box sits between them.
    words = [
        _word("☐", 0.40, 0.50, 0.42, 0.52),
        _word("Accident", 0.43, 0.50, 0.51, 0.52),
        _word("Inpatient", 0.56, 0.50, 0.64, 0.52),
        _word("Hospital", 0.67, 0.50, 0.75, 0.52),
    ]
    other = [
        _word("Critical", 0.23, 0.505, 0.31, 0.525),
        _word("Illness", 0.32, 0.505, 0.39, 0.525),
    ]
    page = Page(
        file="f.pdf",
        page=1,
        width=100,
        height=100,
        lines=[Line.from_words(other), Line.from_words(words)],
    )
    box = Checkbox(x0=533, y0=500, x1=551, y1=520, marked=False, fill=0.0, confidence=0.9)
    out = add_checkbox_words(page, [box], 1000, 1000)
    texts = [[w.text for w in line.words] for line in out.lines]
    assert ["☐", "Accident", EMPTY, "Inpatient", "Hospital"] in texts
    assert ["Critical", "Illness"] in texts
