"""Page classification: which of the contract's document types a page belongs to.

A scikit-learn estimator over what a page says (word and character n-grams, robust to
OCR noise) and how it looks (how much of it is a table of money, dates, a small card).
Pages the model is unsure of become `other` rather than a confident wrong type.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from pipeline.document import DOC_TYPES, Page
from pipeline.errors import ModelNotFoundError, NotFittedError, UntrustedModelError

__all__ = [
    "UNREADABLE_CONFIDENCE",
    "CLEAR_LEAD",
    "CLEAR_LEAD_FLOOR",
    "PageLabel",
    "decide_doc_type",
    "PageClassifier",
    "page_text_for_model",
    "page_layout_features",
    "LAYOUT_FEATURES",
    "save_page_classifier",
    "load_page_classifier",
]

UNREADABLE_CONFIDENCE = 0.2
"""How sure `other` is for a page no reader could read: about the share of `other` pages."""

CLEAR_LEAD = 1.5
"""A doubtful page keeps its likeliest type when that type is this many times as likely as
the next one: a badly scanned bill that reads 0.44 invoice / 0.24 record is a bill read
badly, not a document of no required type. It keeps its low confidence, so it is flagged
for an adjuster; calling it `other` would tell the claimant to send a bill they sent."""

CLEAR_LEAD_FLOOR = 0.3
"""...and only when that type is at least this likely: below it, no type is a fair guess."""

_MONEY = re.compile(r"\$?\d{1,3}(?:[,.]\d{3})*[.,]\d{2}\b")
_DATE = re.compile(r"\b\d{1,4}[/.-]\d{1,2}[/.-]\d{2,4}\b")
_DIGIT = re.compile(r"\d")
_SPACE = re.compile(r"\s+")

LAYOUT_FEATURES: tuple[str, ...] = (
    "log_words",
    "log_lines",
    "money_share",
    "date_share",
    "digit_share",
    "text_width",
    "text_height",
    "mean_confidence",
)


class PageLabel(BaseModel):
    """The document type given to one page, with the model's probability."""

    model_config = ConfigDict(extra="forbid")

    doc_type: str
    confidence: float = Field(ge=0.0, le=1.0)
    scores: dict[str, float] = Field(default_factory=dict)


def decide_doc_type(scores: dict[str, float], min_confidence: float) -> tuple[str, float]:
    """The type a page is given from the model's probabilities, and how sure it is.

    The likeliest type when it is at least `min_confidence`, or when it leads the next by
    CLEAR_LEAD (and reaches CLEAR_LEAD_FLOOR); otherwise `other`, as sure as the likeliest
    type was not.
    """
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    doc_type, confidence = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    if confidence >= min_confidence:
        return doc_type, confidence
    if confidence >= CLEAR_LEAD_FLOOR and confidence >= CLEAR_LEAD * runner_up:
        return doc_type, confidence
    return "other", 1.0 - confidence


def page_text_for_model(page: Page) -> str:
    """Lower-cased text with digits folded, so invoice numbers and amounts do not become vocabulary."""
    text = _DIGIT.sub("0", page.text.lower())
    return _SPACE.sub(" ", text).strip()


def page_layout_features(page: Page) -> list[float]:
    """Numbers about the page's look, in the order of LAYOUT_FEATURES."""
    words = page.words
    lines = page.lines
    if not words:
        return [0.0] * len(LAYOUT_FEATURES)
    line_texts = [line.text for line in lines]
    money_lines = sum(1 for t in line_texts if _MONEY.search(t))
    date_lines = sum(1 for t in line_texts if _DATE.search(t))
    chars = sum(len(w.text) for w in words) or 1
    digits = sum(len(_DIGIT.findall(w.text)) for w in words)
    x0 = min(w.bbox[0] for w in words)
    y0 = min(w.bbox[1] for w in words)
    x1 = max(w.bbox[2] for w in words)
    y1 = max(w.bbox[3] for w in words)
    return [
        math.log1p(len(words)),
        math.log1p(len(lines)),
        money_lines / max(1, len(lines)),
        date_lines / max(1, len(lines)),
        digits / chars,
        x1 - x0,
        y1 - y0,
        sum(w.confidence for w in words) / len(words),
    ]


class PageClassifier(ClassifierMixin, BaseEstimator):
    """Logistic regression over word/char TF-IDF and layout features of a page.

    `fit(pages, doc_types)` takes `Page` objects; `min_confidence` turns doubtful pages
    into `other`. Parameters follow the scikit-learn contract: stored, not used, in __init__.
    """

    def __init__(self, C: float = 8.0, min_confidence: float = 0.45, max_features: int = 20000):
        self.C = C
        self.min_confidence = min_confidence
        self.max_features = max_features

    def _matrix(self, pages: Sequence[Page], fit: bool) -> sp.csr_matrix:
        texts = [page_text_for_model(p) for p in pages]
        layout = np.asarray([page_layout_features(p) for p in pages], dtype=float)
        if fit:
            self.words_ = TfidfVectorizer(
                ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=self.max_features
            )
            self.chars_ = TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=(3, 5),
                min_df=2,
                sublinear_tf=True,
                max_features=self.max_features,
            )
            self.layout_ = StandardScaler()
            word_m = self.words_.fit_transform(texts)
            char_m = self.chars_.fit_transform(texts)
            layout_m = self.layout_.fit_transform(layout)
        else:
            word_m = self.words_.transform(texts)
            char_m = self.chars_.transform(texts)
            layout_m = self.layout_.transform(layout)
        # Clipped: a page unlike any training page (or a feature that barely varied in
        # training) must not outvote what the page says.
        layout_m = np.clip(layout_m, -3.0, 3.0)
        return sp.hstack([word_m, char_m, sp.csr_matrix(layout_m * 0.25)]).tocsr()

    def fit(self, pages: Sequence[Page], y: Sequence[str]) -> PageClassifier:
        unknown = sorted(set(y) - set(DOC_TYPES))
        if unknown:
            raise ValueError(f"unknown doc types {unknown}; valid: {list(DOC_TYPES)}")
        matrix = self._matrix(pages, fit=True)
        self.model_ = LogisticRegression(C=self.C, max_iter=2000)
        self.model_.fit(matrix, list(y))
        self.classes_ = self.model_.classes_
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("PageClassifier is not fitted; call fit() or load a trained model")

    def predict_proba(self, pages: Sequence[Page]) -> np.ndarray:
        self._check_fitted()
        return np.asarray(self.model_.predict_proba(self._matrix(pages, fit=False)))

    def predict(self, pages: Sequence[Page]) -> np.ndarray:
        return np.asarray([label.doc_type for label in self.label(pages)])

    def label(self, pages: Sequence[Page]) -> list[PageLabel]:
        """One PageLabel per page; empty pages are `other` with the confidence that they are empty.

        A page that could not be read at all (no reader succeeded, it is not blank, the reader
        said why) is `other` too, but with UNREADABLE_CONFIDENCE: it may be any document, so
        it goes to an adjuster instead of passing as a known separator or blank sheet.
        """
        if not pages:
            return []
        proba = self.predict_proba(pages)
        labels = []
        for page, row in zip(pages, proba, strict=True):
            scores = {str(c): float(p) for c, p in zip(self.classes_, row, strict=True)}
            if not page.words:
                unreadable = page.reader == "none" and not page.blank and bool(page.warnings)
                confidence = UNREADABLE_CONFIDENCE if unreadable else 0.99
                labels.append(PageLabel(doc_type="other", confidence=confidence, scores=scores))
                continue
            doc_type, confidence = decide_doc_type(scores, self.min_confidence)
            labels.append(PageLabel(doc_type=doc_type, confidence=confidence, scores=scores))
        return labels


_TRUSTED = [
    "pipeline.classify.pages.PageClassifier",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.linear_model._logistic.LogisticRegression",
    "numpy.float64",
    "numpy.int64",
    "numpy.dtype",
    "builtins.float",
    "builtins.int",
    "builtins.str",
]


def save_page_classifier(model: PageClassifier, path: Path) -> Path:
    import skops.io as sio

    path.parent.mkdir(parents=True, exist_ok=True)
    for vectorizer in (getattr(model, "words_", None), getattr(model, "chars_", None)):
        if vectorizer is not None and hasattr(vectorizer, "vocabulary_"):
            # numpy ints become one array file each in the skops zip (25,000 of them, 4 s to
            # load); Python ints are stored inline (1 s). Same vocabulary, same predictions.
            vectorizer.vocabulary_ = {term: int(i) for term, i in vectorizer.vocabulary_.items()}
    sio.dump(model, path)
    return path


def load_page_classifier(path: Path) -> PageClassifier:
    """Load a skops file, refusing any type outside the classifier's own parts."""
    import skops.io as sio

    if not path.exists():
        raise ModelNotFoundError(f"page classifier {path} not found; run `make models` to train it")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # noqa: BLE001 - skops raises many types for a non-skops file
        raise UntrustedModelError(f"{path} is not a skops model file: {exc}") from exc
    refused = sorted(set(untrusted) - set(_TRUSTED))
    if refused:
        raise UntrustedModelError(f"{path} holds types that are not trusted: {refused}")
    model = sio.load(path, trusted=untrusted)
    if not isinstance(model, PageClassifier):
        raise UntrustedModelError(f"{path} holds a {type(model).__name__}, not a PageClassifier")
    return model
