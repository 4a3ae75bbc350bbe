"""Reading a digital PDF page's own text, and deciding whether that text can be trusted.

A text layer is exact when a program wrote it, but many "digital" PDFs are scans with no
layer, a layer of `(cid:12)` glyph ids, a scanner's poor invisible OCR, or just a stamped
header over an image. Those must go to OCR instead, so every layer gets a quality score.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from pipeline.document import Line, Page, Word
from pipeline.reading.layout import DEFAULT_GAP_FACTOR, group_into_lines

__all__ = [
    "TEXT_LAYER_CONFIDENCE",
    "LanguageProfile",
    "LANGUAGE_PROFILES",
    "TextLayerRule",
    "TextLayerDecision",
    "words_from_plumber_page",
    "read_text_layer",
    "text_layer_quality",
    "uncovered_ink_fraction",
    "decide_text_layer",
    "image_area_fraction",
]

TEXT_LAYER_CONFIDENCE = 0.99
"""A word a program wrote into the PDF is right unless the PDF lies; the layer checks catch most lies."""

_CID = re.compile(r"\(cid:\d+\)")


class LanguageProfile(BaseModel):
    """What plausible text of one language looks like, for judging a text layer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    letters: str = Field(description="regex character class body of the language's letters")
    vowels: str = Field(
        default="", description="letters whose absence marks a non-word (alphabetic scripts)"
    )
    extra_chars: str = Field(
        default="", description="non-ASCII characters normal in this language's documents"
    )
    max_consonant_run: int = 5


LANGUAGE_PROFILES: dict[str, LanguageProfile] = {
    "en": LanguageProfile(
        letters="A-Za-z",
        vowels="aeiouyAEIOUY",
        extra_chars="–—‘’“”•·°§€£¥©®™½¼¾±×…éèáàíóúñçüöäÉ",
    ),
    "zh": LanguageProfile(
        letters="A-Za-z\u4e00-\u9fff\u3400-\u4dbf",
        vowels="",
        extra_chars="，。、；：？！“”‘’（）《》【】—…·￥　",
    ),
}


class TextLayerRule(BaseModel):
    """Thresholds for trusting a text layer; defaults tuned on generated pages, see tests/reading."""

    model_config = ConfigDict(extra="forbid")

    min_words: int = Field(default=3, ge=0)
    min_quality: float = Field(default=0.6, ge=0.0, le=1.0)
    max_uncovered_ink: float = Field(
        default=0.4,
        ge=0.0,
        le=1.0,
        description="share of ink outside text boxes before OCR is needed",
    )
    min_image_area: float = Field(
        default=0.3, ge=0.0, le=1.0, description="image share of the page before coverage is judged"
    )
    min_ink_for_coverage: float = Field(
        default=0.003,
        ge=0.0,
        description="ink share of the page below which coverage is not judged",
    )


class TextLayerDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    use_text_layer: bool
    quality: float
    uncovered_ink: float | None = None
    reason: str


_CHAR_ATTRS = frozenset(
    {"_text", "matrix", "fontname", "ncs", "graphicstate", "adv", "upright", "bbox", "size"}
    | {"x0", "y0", "x1", "y1", "width", "height", "mcid", "tag"}
)
"""An LTChar's attributes in the pdfminer.six this was written for; a char with others goes
through pdfplumber's own conversion."""

_PLAIN = (float, int, str, bool, type(None))


def _char_object(page: Any, obj: Any, mb_x0: float, mb_top: float) -> dict[str, Any] | None:
    """pdfplumber's dict of an LTChar (`Page.process_object`) built directly, or None when
    the char is not the plain kind this handles.

    pdfplumber converts every attribute of every object through a generic resolver; on a
    form page of 500 glyphs that was a third of the time spent reading its text layer.
    """
    attrs = obj.__dict__
    if attrs.keys() != _CHAR_ATTRS or isinstance(obj.fontname, bytes):
        return None
    matrix, mcid, tag = obj.matrix, obj.mcid, obj.tag
    if not (
        type(mcid) in _PLAIN and type(tag) in _PLAIN and all(type(v) in _PLAIN for v in matrix)
    ):
        return None
    ncs = getattr(getattr(obj, "ncs", None), "name", None)
    if not isinstance(ncs, str):
        return None
    text = obj.get_text()
    if page.pdf.unicode_norm is not None:
        text = unicodedata.normalize(page.pdf.unicode_norm, text)
    gs = obj.graphicstate
    x0, x1 = obj.x0, obj.x1
    if mb_x0 != 0:
        x0, x1 = x0 + mb_x0, x1 + mb_x0
    top = (page.height - obj.y1) + mb_top
    return {
        "matrix": matrix,
        "fontname": obj.fontname,
        "adv": obj.adv,
        "upright": obj.upright,
        "x0": x0,
        "y0": obj.y0,
        "x1": x1,
        "y1": obj.y1,
        "width": obj.width,
        "height": obj.height,
        "size": obj.size,
        "mcid": mcid,
        "tag": tag,
        "object_type": "char",
        "page_number": page.page_number,
        "ncs": ncs,
        "text": text,
        "stroking_color": gs.scolor if isinstance(gs.scolor, tuple) else (gs.scolor,),
        "non_stroking_color": gs.ncolor if isinstance(gs.ncolor, tuple) else (gs.ncolor,),
        "top": top,
        "bottom": (page.height - obj.y0) + mb_top,
        "doctop": page.initial_doctop + top,
    }


def fast_chars(plumber_page: Any) -> Any:
    """`plumber_page` converting its chars without pdfplumber's generic resolver; every
    other object (and any char out of the ordinary) still goes through pdfplumber.
    tests/reading/test_textlayer.py checks the dicts are pdfplumber's own."""
    from pdfminer.layout import LTChar

    generic = plumber_page.process_object
    mb_x0, mb_top = (float(v) for v in plumber_page.mediabox[:2])

    def process_object(obj: Any) -> dict[str, Any]:
        if type(obj) is LTChar:
            converted = _char_object(plumber_page, obj, mb_x0, mb_top)
            if converted is not None:
                return converted
        return generic(obj)

    plumber_page.process_object = process_object
    return plumber_page


_SYMBOL_FONTS: dict[str, dict[str, str]] = {
    # Adobe ZapfDingbats by its built-in encoding: what PDF form checkboxes draw ("4" is
    # the tick of an AcroForm box, "8" its cross, "n" a filled square, "o"-"r" empty boxes)
    "zapfdingbats": {
        "3": "✓",
        "4": "✔",
        "5": "✕",
        "6": "✖",
        "7": "✗",
        "8": "✘",
        "l": "●",
        "m": "❍",
        "n": "■",
        "o": "❏",
        "p": "❐",
        "q": "❑",
        "r": "❒",
        "u": "◆",
    },
    # Microsoft Wingdings by its code points: the boxes of forms typed in a word processor
    "wingdings": {"¨": "☐", "o": "□", "þ": "☑", "ý": "☒", "x": "☒", "ü": "✓", "û": "✗"},
}
"""Glyphs of symbol fonts whose text layer gives the letter of the code point, not the
symbol: a ticked box reads "n" or "4" unless mapped. Keys are lower-case font names without
their subset prefix ("ABCDEF+ZapfDingbats"); "ZaDb" is ZapfDingbats' name in form fields."""

_SYMBOL_FONT_ALIASES = {"zadb": "zapfdingbats", "dingbats": "zapfdingbats"}


def _symbol_table(fontname: str) -> dict[str, str] | None:
    name = str(fontname).split("+", 1)[-1].lower().replace("-", "").replace(" ", "")
    for alias, table in _SYMBOL_FONT_ALIASES.items():
        if name.startswith(alias):
            return _SYMBOL_FONTS[table]
    return next((t for font, t in _SYMBOL_FONTS.items() if name.startswith(font)), None)


def _map_symbol_glyphs(chars: list[dict[str, Any]]) -> None:
    """Give checkbox glyphs of symbol fonts their symbols, in place."""
    tables: dict[str, dict[str, str] | None] = {}
    for char in chars:
        fontname = str(char.get("fontname", ""))
        if fontname not in tables:
            tables[fontname] = _symbol_table(fontname)
        table = tables[fontname]
        if table is None:
            continue
        text = char["text"]
        if len(text) == 1 and 0xF020 <= ord(text) <= 0xF0FF:
            text = chr(ord(text) - 0xF000)  # a symbol font's code point in the private use area
        char["text"] = table.get(text, char["text"])


def _plumber_words(plumber_page: Any) -> list[tuple[Word, str]]:
    x_origin, y_origin, x_end, y_end = (float(v) for v in plumber_page.bbox)
    _map_symbol_glyphs(plumber_page.chars)
    width = max(x_end - x_origin, 1e-6)
    height = max(y_end - y_origin, 1e-6)
    # pdfplumber assumes rotated glyphs read top-to-bottom; glyphs turned the other way
    # (matrix b > 0, a page shown with /Rotate 270) read bottom-to-top.
    turned = [c for c in plumber_page.chars if not c.get("upright", True)]
    upward = sum(1 for c in turned if float(c["matrix"][1]) > 0)
    rotated_dir = "btt" if turned and upward > len(turned) / 2 else "ttb"
    found: list[tuple[Word, str]] = []
    for raw in plumber_page.extract_words(
        keep_blank_chars=False, use_text_flow=False, char_dir_rotated=rotated_dir
    ):
        text = str(raw["text"]).strip()
        if not text:
            continue
        word = Word(
            text=text,
            confidence=TEXT_LAYER_CONFIDENCE,
            bbox=(
                (float(raw["x0"]) - x_origin) / width,
                (float(raw["top"]) - y_origin) / height,
                (float(raw["x1"]) - x_origin) / width,
                (float(raw["bottom"]) - y_origin) / height,
            ),
        )
        found.append((word, str(raw.get("direction", "ltr"))))
    return found


def words_from_plumber_page(plumber_page: Any) -> list[Word]:
    """Words of a pdfplumber page with boxes in page fractions of the page as displayed
    (pdfplumber applies /Rotate), origin top-left of the crop box."""
    return [word for word, _ in _plumber_words(plumber_page)]


# Vertical text (a portrait page shown turned by /Rotate): map boxes so lines run left to
# right, group, then restore the original boxes. Values: (transform, rotation to upright).
_VERTICAL = {
    "ttb": (lambda b: (b[1], 1.0 - b[2], b[3], 1.0 - b[0]), 270),
    "btt": (lambda b: (1.0 - b[3], b[0], 1.0 - b[1], b[2]), 90),
}


def read_text_layer(
    plumber_page: Any, file: str, page_number: int, gap_factor: float = DEFAULT_GAP_FACTOR
) -> Page:
    """One pdfplumber page as a Page tree read from its text layer (sizes in PDF points).

    Boxes refer to the page as displayed. When most words run vertically there, lines are
    grouped along the text and `rotation` says how to turn the page to read it upright.
    """
    x0, y0, x1, y1 = (float(v) for v in plumber_page.bbox)
    width, height = max(x1 - x0, 1e-6), max(y1 - y0, 1e-6)
    found = _plumber_words(plumber_page)
    words = [word for word, _ in found]
    directions = [direction for _, direction in found]
    rotation = 0
    dominant = max(set(directions), key=directions.count) if directions else "ltr"
    if dominant in _VERTICAL:
        transform, rotation = _VERTICAL[dominant]
        turned = [Word(text=w.text, confidence=w.confidence, bbox=transform(w.bbox)) for w in words]
        back = {id(t): w for t, w in zip(turned, words, strict=True)}
        grouped = group_into_lines(turned, aspect=width / height, gap_factor=gap_factor)
        lines = [Line.from_words([back[id(t)] for t in line.words]) for line in grouped]
    else:
        lines = group_into_lines(words, aspect=height / width, gap_factor=gap_factor)
    return Page(
        file=file,
        page=page_number,
        width=width,
        height=height,
        reader="text_layer",
        rotation=rotation,
        lines=lines,
    )


def _char_ok(char: str, profile: LanguageProfile) -> bool:
    if char in profile.extra_chars:
        return True
    if " " <= char <= "~":
        return True
    if re.fullmatch(f"[{profile.letters}]", char):
        return True
    # Accented Latin letters are names; anything else (symbols, private-use, control,
    # replacement characters) is what a broken font mapping emits.
    return unicodedata.category(char).startswith("L") and "LATIN" in unicodedata.name(char, "")


def _word_like(token: str, profile: LanguageProfile) -> bool:
    core = token.strip(".,:;!?()[]{}\"'«»“”‘’<>")
    if not core:
        return True
    letters = re.findall(f"[{profile.letters}]", core)
    digits = sum(ch.isdigit() for ch in core)
    if digits and digits + sum(ch in "-/.,:$€£%#+()" for ch in core) + len(letters) >= len(core):
        # Numbers, dates, money, codes (J18.9, 99213, A-1234) are normal in claim documents.
        return True
    if len(letters) < len(core) * 0.6:
        return False
    if not profile.vowels or len(letters) <= 3:
        return True
    word = "".join(letters)
    vowels = sum(ch in profile.vowels for ch in word)
    if vowels == 0 and not word.isupper():
        return False
    run = 0
    for ch in word:
        run = 0 if ch in profile.vowels else run + 1
        if run > profile.max_consonant_run:
            return False
    # Mis-mapped fonts produce mixed case inside words (e.g. "tHqZr").
    inner = word[1:]
    return not (
        any(c.isupper() for c in inner) and any(c.islower() for c in inner) and not word.isupper()
    )


def text_layer_quality(page: Page, language: str = "en") -> float:
    """How much of the layer is plausible text, 0-1: clean characters times word-like tokens.

    0.0 for an empty layer; `(cid:NN)` tokens, control / private-use characters and
    letter soup pull it down.
    """
    profile = LANGUAGE_PROFILES.get(language)
    if profile is None:
        raise ValueError(
            f"no text-layer profile for language {language!r}; known: {sorted(LANGUAGE_PROFILES)}"
        )
    tokens = [w.text for w in page.words]
    if not tokens:
        return 0.0
    text = " ".join(tokens)
    cid_chars = sum(len(m) for m in _CID.findall(text))
    rest = _CID.sub("", text).replace(" ", "")
    total = cid_chars + len(rest)
    if total == 0:
        return 0.0
    good_chars = sum(_char_ok(ch, profile) for ch in rest)
    char_score = good_chars / total
    plain_tokens = [t for t in tokens if not _CID.search(t)]
    cid_tokens = len(tokens) - len(plain_tokens)
    word_score = (sum(_word_like(t, profile) for t in plain_tokens)) / (
        len(plain_tokens) + cid_tokens
    )
    return round(char_score * word_score, 4)


def uncovered_ink_fraction(
    page: Page, gray: np.ndarray, ink_contrast: float = 40.0, margin: float = 0.004
) -> tuple[float, float]:
    """(share of the page that is ink, share of that ink lying outside every text-layer word box).

    `gray` is the page rendered small (72 DPI is plenty). A scanned page with an invisible
    layer has its ink under the boxes; an image page with a stamped header does not.
    """
    if gray.ndim == 3:
        gray = gray.mean(axis=2)
    # Ink is judged against the page's own paper colour, so a faint scan still shows ink.
    paper = float(np.percentile(gray, 90))
    ink = gray < max(paper - ink_contrast, 1.0)
    total_ink = int(ink.sum())
    height, width = ink.shape
    ink_share = total_ink / float(height * width)
    if total_ink == 0:
        return 0.0, 0.0
    covered = np.zeros_like(ink)
    for word in page.words:
        x0, y0, x1, y1 = word.bbox
        c0 = max(0, int((x0 - margin) * width))
        c1 = min(width, int(np.ceil((x1 + margin) * width)))
        r0 = max(0, int((y0 - margin) * height))
        r1 = min(height, int(np.ceil((y1 + margin) * height)))
        covered[r0:r1, c0:c1] = True
    outside = int((ink & ~covered).sum())
    return ink_share, outside / total_ink


def image_area_fraction(plumber_page: Any) -> float:
    """Share of the page covered by embedded raster images (a scan inside a PDF covers ~all)."""
    x0, y0, x1, y1 = (float(v) for v in plumber_page.bbox)
    page_area = max((x1 - x0) * (y1 - y0), 1e-6)
    covered = 0.0
    for image in plumber_page.images:
        left, right = max(float(image["x0"]), x0), min(float(image["x1"]), x1)
        top, bottom = max(float(image["top"]), y0), min(float(image["bottom"]), y1)
        covered += max(0.0, right - left) * max(0.0, bottom - top)
    return min(1.0, covered / page_area)


def decide_text_layer(
    page: Page,
    gray: np.ndarray | None = None,
    language: str = "en",
    rule: TextLayerRule | None = None,
    image_area: float | None = None,
) -> TextLayerDecision:
    """Trust the text layer, or send the page to OCR, and say why (for the page's warnings).

    Ink outside the words only counts when raster images cover a good part of the page
    (`image_area`, None = unknown, counted): on a vector-only page that ink is table rules
    and logos, and the layer is still the whole text.
    """
    rule = rule or TextLayerRule()
    words = page.words
    quality = text_layer_quality(page, language)
    uncovered: float | None = None
    ink_share = 0.0
    if gray is not None:
        ink_share, uncovered = uncovered_ink_fraction(page, gray)
    scanned = image_area is not None and image_area >= rule.min_image_area
    if len(words) < rule.min_words:
        if scanned:
            return TextLayerDecision(
                use_text_layer=False,
                quality=quality,
                uncovered_ink=uncovered,
                reason=f"text layer has {len(words)} words over a page-sized image",
            )
        if gray is not None and ink_share < rule.min_ink_for_coverage:
            # Nothing to read either way: a blank or near-blank digital page.
            return TextLayerDecision(
                use_text_layer=True,
                quality=quality,
                uncovered_ink=uncovered,
                reason=f"text layer has {len(words)} words and the page has almost no ink",
            )
        return TextLayerDecision(
            use_text_layer=False,
            quality=quality,
            uncovered_ink=uncovered,
            reason=f"text layer has {len(words)} words (< {rule.min_words})",
        )
    if quality < rule.min_quality:
        return TextLayerDecision(
            use_text_layer=False,
            quality=quality,
            uncovered_ink=uncovered,
            reason=f"text layer quality {quality:.2f} < {rule.min_quality} (garbled or glyph ids)",
        )
    if (
        uncovered is not None
        and (image_area is None or image_area >= rule.min_image_area)
        and ink_share >= rule.min_ink_for_coverage
        and uncovered > rule.max_uncovered_ink
    ):
        return TextLayerDecision(
            use_text_layer=False,
            quality=quality,
            uncovered_ink=uncovered,
            reason=f"{uncovered:.0%} of the ink lies outside the text layer's words",
        )
    return TextLayerDecision(
        use_text_layer=True, quality=quality, uncovered_ink=uncovered, reason="text layer is real"
    )
