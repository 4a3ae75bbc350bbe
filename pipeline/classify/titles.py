"""Document titles as evidence of a page's type.

The page classifier learns from words and layout; a document it has never seen (a real police
report, a hospital's own bill) can leave it unsure among several types. Most documents say what
they are in a heading: "MOTOR VEHICLE ACCIDENT REPORT", "CERTIFICATE OF DIAGNOSIS". A short line
near the top of the page holding a known title (`data/classify/titles/<lang>.yaml`) multiplies
that type's score by TITLE_WEIGHT before the scores are renormalised, so a title settles a page
the model was unsure of, and does not overturn a page it was sure of (SURE). A type the title
makes the likeliest, or any title's type on a page the model gave less than SURE, is the
page's type even when its weighed score stays under the classifier's `min_confidence` (the
low confidence sends the page to review). A title of `other` ("EXPLANATION OF BENEFITS") names pages the model never
saw and takes for what they resemble (a bill): `other` starts as likely as the model's best
guess, so such a page is `other` whatever the model took it for. A page of a few words saying
it is empty ("This page intentionally left blank", `data/classify/blank_notices/<lang>.yaml`)
is `other` too.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.classify.pages import PageLabel, decide_doc_type
from pipeline.document import Page
from pipeline.extract.layout import upright_bbox

__all__ = [
    "TITLE_WEIGHT",
    "load_titles",
    "load_salutations",
    "load_clinician_marks",
    "clinician_letter",
    "load_record_sections",
    "record_sections",
    "load_blank_notices",
    "page_title",
    "page_heading",
    "says_blank",
    "weigh_titles",
]

TITLE_WEIGHT = 6.0
"""How much likelier a page headed by a type's title is of that type than the model alone said."""
SURE = 0.9
"""A model this sure of another type keeps it against a title; below it, the title decides
(a real police report's tables look like a bill to a model trained on our own reports)."""
_TOP = 0.25  # a heading starts in the top quarter of the page
_MAX_WORDS = 8  # a heading is short; a sentence that mentions "claim form" is not one
_MIN_SHARE = 0.4  # and the title is a good part of it ("ITEMIZED STATEMENT OF CHARGES")
_LETTER_TOP = 0.4  # a letter's salutation comes after its letterhead, date and "Re:" line
_TITLES_DIR = Path(__file__).resolve().parents[1] / "data" / "classify" / "titles"
_SALUTATIONS_DIR = _TITLES_DIR.parent / "salutations"
_BLANK_NOTICES_DIR = _TITLES_DIR.parent / "blank_notices"
_CLINICIAN_MARKS_DIR = _TITLES_DIR.parent / "clinician_marks"
_RECORD_SECTIONS_DIR = _TITLES_DIR.parent / "record_sections"
_MIN_SECTIONS = 2  # section headings that make a page a clinical record
_BLANK_NOTICE_WORDS = 12  # a notice page holds the notice and perhaps a form or page number
_NOT_A_HEADING = re.compile(r"[\d:]")  # values and labels: "Date of receipt: 03/02/2026"
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _key(text: str) -> str:
    """Letters and digits, lower-cased, words one space apart (CJK text has no spaces)."""
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())


@lru_cache(maxsize=8)
def load_titles(language: str) -> tuple[tuple[str, str], ...]:
    """(doc_type, title key) pairs of the language, longest title first; none when the
    language has no title list."""
    return _load_pairs(_TITLES_DIR / f"{language}.yaml")


@lru_cache(maxsize=8)
def load_salutations(language: str) -> tuple[tuple[str, str], ...]:
    """(doc_type, salutation key) pairs: how a letter of that type opens ("To whom it may
    concern"), read like titles but further down the page."""
    return _load_pairs(_SALUTATIONS_DIR / f"{language}.yaml")


@lru_cache(maxsize=8)
def load_blank_notices(language: str) -> tuple[str, ...]:
    """Keys of what a page printed only to be empty says, longest first."""
    notices: list[str] = _read_yaml(_BLANK_NOTICES_DIR / f"{language}.yaml") or []
    return tuple(sorted((_key(n) for n in notices), key=len, reverse=True))


@lru_cache(maxsize=8)
def load_clinician_marks(language: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """(degrees as printed, phrase keys) that show a letter is a clinician's; none when the
    language lists none."""
    data: dict[str, list[str]] = _read_yaml(_CLINICIAN_MARKS_DIR / f"{language}.yaml") or {}
    degrees = frozenset(str(d) for d in data.get("degrees") or [])
    return degrees, tuple(_key(str(p)) for p in data.get("phrases") or [])


def clinician_letter(page: Page, marks: tuple[frozenset[str], tuple[str, ...]]) -> bool:
    """Whether a letter shows a clinician wrote it: a degree after a name ("Miriam Feld,
    MD") or words of a patient ("my patient"). A claimant's cover letter to the claims
    department shows neither."""
    degrees, phrases = marks
    for word in page.words:
        text = word.text.rstrip(",;:")
        if text in degrees or text.rstrip(".") in degrees:
            return True
    return _says_any(page, phrases)


@lru_cache(maxsize=8)
def load_record_sections(language: str) -> frozenset[str]:
    """Keys of the section headings of clinical notes and reports ("Findings")."""
    sections: list[str] = _read_yaml(_RECORD_SECTIONS_DIR / f"{language}.yaml") or []
    return frozenset(_key(str(s)) for s in sections)


def record_sections(page: Page, sections: frozenset[str]) -> int:
    """How many distinct clinical section headings the page prints, each a line of its own
    (a colon may end it, text may follow it: "Impression: ...")."""
    found: set[str] = set()
    for line in page.lines:
        head = line.text.split(":", 1)[0] if ":" in line.text else line.text
        key = _key(head)
        if key in sections:
            found.add(key)
    return len(found)


def says_blank(page: Page, notices: tuple[str, ...]) -> bool:
    """Whether the page holds a few words only, one of them a notice that it is empty."""
    if not notices or not page.words or len(page.words) > _BLANK_NOTICE_WORDS:
        return False
    return _says_any(page, notices)


def _says_any(page: Page, keys: tuple[str, ...]) -> bool:
    """Whether the page's text holds one of the phrase keys: whole words, or anywhere in
    CJK text (which has no spaces)."""
    if not keys:
        return False
    text = _key(" ".join(line.text for line in page.lines))
    padded = f" {text} "
    return any((k in text) if _CJK.search(k) else (f" {k} " in padded) for k in keys)


def _read_yaml(path: Path) -> Any:
    """A data file's content, or None when the language has no such file."""
    import yaml

    if not path.is_file():
        return None
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _load_pairs(path: Path) -> tuple[tuple[str, str], ...]:
    data: dict[str, list[str]] = _read_yaml(path) or {}
    pairs = [(doc_type, _key(title)) for doc_type, titles in data.items() for title in titles]
    return tuple(sorted(pairs, key=lambda pair: -len(pair[1])))


def _upright_top(page: Page, bbox: tuple[float, float, float, float]) -> float:
    """The top of a box on the page turned upright (boxes are kept in the stored frame)."""
    return upright_bbox(bbox, page.rotation)[1]


def page_title(page: Page, titles: tuple[tuple[str, str], ...], top: float = _TOP) -> str | None:
    """The doc type whose title heads the page: the topmost short line above `top` holding
    one (the longest title in it when several match), or None. A colon may end the line
    ("To whom it may concern:")."""
    heading = page_heading(page, titles, top)
    return heading[0] if heading is not None else None


def page_heading(
    page: Page, titles: tuple[tuple[str, str], ...], top: float = _TOP
) -> tuple[str, str] | None:
    """(doc type, title key) of the title heading the page, as `page_title` finds it."""
    if not titles:
        return None
    for line in sorted(page.lines, key=lambda ln: _upright_top(page, ln.bbox)):
        if _upright_top(page, line.bbox) > top:
            break
        text = line.text.rstrip().rstrip(":,")
        if _NOT_A_HEADING.search(text):
            continue
        key = _key(text)
        cjk = bool(_CJK.search(key))
        size = len(key.replace(" ", "")) if cjk else len(key.split())
        if not key or (not cjk and size > _MAX_WORDS):
            continue
        padded = f" {key} "
        for doc_type, title in titles:
            found = title in key if cjk else f" {title} " in padded
            title_size = len(title.replace(" ", "")) if cjk else len(title.split())
            if found and title_size >= _MIN_SHARE * size:
                return doc_type, title
    return None


def weigh_titles(
    pages: list[Page], labels: list[PageLabel], language: str, min_confidence: float
) -> list[PageLabel]:
    """`labels` with each titled page's scores weighed by its title and its type decided
    again; pages without a title, or without scores (empty pages), are left as they are."""
    titles, salutations = load_titles(language), load_salutations(language)
    marks = load_clinician_marks(language)
    sections = load_record_sections(language)
    out: list[PageLabel] = []
    for page, label in zip(pages, labels, strict=True):
        doc_type = None
        if page.words and label.scores:
            doc_type = page_title(page, titles)
            if doc_type is None:
                # a salutation speaks for a physician's letter only when a clinician wrote it
                saluted = page_title(page, salutations, _LETTER_TOP)
                if saluted is not None and clinician_letter(page, marks):
                    doc_type = saluted
            if doc_type is None and record_sections(page, sections) >= _MIN_SECTIONS:
                doc_type = "medical_record"
        if doc_type is None or doc_type not in label.scores:
            out.append(label)
            continue
        base = dict(label.scores)
        if doc_type == "other":
            # A heading that names none of the claim documents ("EXPLANATION OF BENEFITS"):
            # the model never saw such pages and takes them for what they look like, so
            # `other` starts as likely as its best guess before the title weighs.
            base["other"] = max(base.values())
        weighed = {t: p * (TITLE_WEIGHT if t == doc_type else 1.0) for t, p in base.items()}
        total = sum(weighed.values()) or 1.0
        scores = {t: p / total for t, p in weighed.items()}
        decided, confidence = decide_doc_type(scores, min_confidence)
        if max(scores, key=scores.__getitem__) == doc_type or max(base.values()) < SURE:
            # the title's type leads once weighed, or the model was not sure of its own
            # guess: the heading decides (a low confidence still sends the page to review)
            decided, confidence = doc_type, scores[doc_type]
        out.append(PageLabel(doc_type=decided, confidence=confidence, scores=scores))
    return out
