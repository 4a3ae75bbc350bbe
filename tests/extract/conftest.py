"""Hand-built pages for extraction tests: rows of phrases placed at given x, y fractions."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pipeline.document import Line, Page, Word

Row = tuple[float, list[tuple[float, str]]]
CHAR_W = 0.008


def make_page(rows: list[Row], conf: float = 0.99, file: str = "p.pdf", number: int = 1) -> Page:
    """Each phrase becomes words laid out left to right from x at one character width each."""
    lines = []
    for y, phrases in rows:
        words = []
        for x, phrase in phrases:
            cx = x
            for part in phrase.split(" "):
                w = CHAR_W * len(part)
                words.append(Word(text=part, confidence=conf, bbox=(cx, y, cx + w, y + 0.012)))
                cx += w + CHAR_W
        lines.append(Line.from_words(words))
    return Page(file=file, page=number, width=612, height=792, reader="text_layer", lines=lines)


@pytest.fixture
def page() -> Callable[..., Page]:
    return make_page


@pytest.fixture(scope="session")
def nlp():  # type: ignore[no-untyped-def]
    from pipeline.extract import build_nlp

    return build_nlp("en")
