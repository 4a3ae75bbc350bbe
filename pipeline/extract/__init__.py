"""Extraction (issue 5): fields, ICD-10 diagnoses and line items of one document, with
calibrated confidence and source boxes, as a spaCy pipeline assembled from pipeline.cfg.

    nlp = build_nlp("en")
    extraction = extract_document("invoice", pages, nlp)
"""

from __future__ import annotations

from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from pipeline.document import DOC_TYPES, Page
from pipeline.errors import ConfigError
from pipeline.extract import components
from pipeline.extract.confidence import Calibrator, ValueEvidence
from pipeline.extract.icd import merge_diagnoses
from pipeline.extract.layout import layout_lines
from pipeline.extract.models import DocumentExtraction, LineItemDraft
from pipeline.extract.vocab import available_languages, load_vocab

__all__ = [
    "CONFIG_PATH",
    "build_nlp",
    "set_calibrator",
    "extract_document",
    "merge_diagnoses",
    "DocumentExtraction",
    "LineItemDraft",
    "ValueEvidence",
    "Calibrator",
]

CONFIG_PATH = Path(__file__).resolve().parent / "pipeline.cfg"


def build_nlp(language: str = "en") -> Language:
    """spacy.blank(language) with the components of pipeline.cfg, using that language's vocabulary."""
    if language not in available_languages():
        raise ConfigError(
            f"no extraction vocabulary for language {language!r}; available: {available_languages()}"
        )
    load_vocab(language)  # fail early on a broken vocabulary file
    components.register_extensions()
    config = spacy.util.load_config(CONFIG_PATH)
    config["nlp"]["lang"] = language
    return spacy.util.load_model_from_config(config, auto_fill=True, validate=True)


def set_calibrator(nlp: Language, calibrator: Calibrator) -> None:
    """Use a fitted calibrator in every extraction component of `nlp`."""
    for _, component in nlp.pipeline:
        if hasattr(component, "calibrator"):
            component.calibrator = calibrator


def extract_document(doc_type: str, pages: list[Page], nlp: Language) -> DocumentExtraction:
    """Fields, diagnoses and line items of one document made of `pages` (in reading order)."""
    if doc_type not in DOC_TYPES:
        raise ConfigError(f"unknown doc_type {doc_type!r}; valid: {list(DOC_TYPES)}")
    components.register_extensions()
    lines = layout_lines(pages)
    words = [t.text for line in lines for t in line.tokens]
    doc = Doc(nlp.vocab, words=words)
    doc._.ci_pages = pages
    doc._.ci_lines = lines
    doc._.ci_doc_type = doc_type
    doc._.ci_result = DocumentExtraction(doc_type=doc_type)
    for _, proc in nlp.pipeline:
        doc = proc(doc)
    result: DocumentExtraction = doc._.ci_result
    return result
