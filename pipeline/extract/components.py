"""The extraction steps as registered spaCy components with versioned names
(spaCy forbids "." in factory names, hence "claim_intake_icd10_v1").

The Doc carries the document's layout in extensions (`doc._.ci_pages`, `doc._.ci_lines`,
`doc._.ci_doc_type`) and each component adds its part to `doc._.ci_result`. Tokens are
the words the reader produced, so spaCy's own tools can be added later without
re-tokenising OCR text.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc

from pipeline.extract.confidence import Calibrator
from pipeline.extract.fields import extract_fields
from pipeline.extract.icd import extract_diagnoses
from pipeline.extract.line_items import extract_line_items
from pipeline.extract.models import DocumentExtraction
from pipeline.extract.vocab import load_vocab

__all__ = ["register_extensions", "FieldAnchors", "LineItems", "Icd10"]

_EXTENSIONS = (
    "ci_pages",
    "ci_lines",
    "ci_doc_type",
    "ci_result",
    "ci_code_tokens",
    "ci_table_lines",
)


def register_extensions() -> None:
    """Declare the Doc extensions; called by build_nlp, not at import."""
    for name in _EXTENSIONS:
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=None)


class _Step:
    def __init__(self, nlp: Language, name: str) -> None:
        self.name = name
        self.vocab = load_vocab(nlp.lang)
        self.calibrator = Calibrator()

    def _result(self, doc: Doc) -> DocumentExtraction:
        if doc._.ci_result is None:
            doc._.ci_result = DocumentExtraction(doc_type=doc._.ci_doc_type or "other")
        result: DocumentExtraction = doc._.ci_result
        return result


class FieldAnchors(_Step):
    """Label-anchored fields of the document's type."""

    def __call__(self, doc: Doc) -> Doc:
        result = self._result(doc)
        fields, evidence = extract_fields(
            result.doc_type,
            doc._.ci_pages,
            doc._.ci_lines,
            self.vocab,
            self.calibrator,
            skip_lines=doc._.ci_table_lines or set(),
        )
        result.fields.update(fields)
        result.evidence.update(evidence)
        return doc


class LineItems(_Step):
    """Table rows of bills; runs first so field labels are not sought inside the table."""

    def __init__(self, nlp: Language, name: str, doc_types: list[str]) -> None:
        super().__init__(nlp, name)
        self.doc_types = set(doc_types)

    def __call__(self, doc: Doc) -> Doc:
        result = self._result(doc)
        if result.doc_type not in self.doc_types:
            return doc
        found = extract_line_items(doc._.ci_pages, doc._.ci_lines, self.vocab, self.calibrator)
        result.line_items.extend(found.items)
        for i, ev in enumerate(found.evidence):
            result.evidence[f"line_items.{i}"] = ev
        doc._.ci_code_tokens = found.code_tokens
        doc._.ci_table_lines = found.table_lines
        return doc


class Icd10(_Step):
    """ICD-10-CM diagnoses, skipping tokens the line-item step read as procedure codes."""

    def __init__(self, nlp: Language, name: str, doc_types: list[str]) -> None:
        super().__init__(nlp, name)
        self.doc_types = set(doc_types)

    def __call__(self, doc: Doc) -> Doc:
        result = self._result(doc)
        if result.doc_type not in self.doc_types:
            return doc
        diagnoses, evidence = extract_diagnoses(
            doc._.ci_pages,
            doc._.ci_lines,
            self.vocab,
            self.calibrator,
            exclude=doc._.ci_code_tokens or set(),
        )
        result.diagnoses.extend(diagnoses)
        for i, ev in enumerate(evidence):
            result.evidence[f"diagnoses.{i}"] = ev
        return doc


@Language.factory("claim_intake_field_anchors_v1")
def make_field_anchors(nlp: Language, name: str) -> FieldAnchors:
    return FieldAnchors(nlp, name)


@Language.factory("claim_intake_line_items_v1", default_config={"doc_types": ["invoice"]})
def make_line_items(nlp: Language, name: str, doc_types: list[str]) -> LineItems:
    return LineItems(nlp, name, doc_types)


@Language.factory(
    "claim_intake_icd10_v1",
    default_config={
        "doc_types": ["medical_record", "diagnosis_certificate", "claim_form", "invoice"]
    },
)
def make_icd10(nlp: Language, name: str, doc_types: list[str]) -> Icd10:
    return Icd10(nlp, name, doc_types)
