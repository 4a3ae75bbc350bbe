from __future__ import annotations

import pickle

import pytest

from pipeline.classify.pages import (
    UNREADABLE_CONFIDENCE,
    PageClassifier,
    decide_doc_type,
    load_page_classifier,
    save_page_classifier,
)
from pipeline.classify.train import ocr_noise, phrase_pages
from pipeline.document import Page
from pipeline.errors import NotFittedError, UntrustedModelError
from tests.helpers import make_page


@pytest.fixture(scope="module")
def fitted() -> PageClassifier:
    pages, labels = phrase_pages(per_type=25, seed=3)
    return PageClassifier().fit(pages, labels)


def test_pages_classifier_learns_phrases_and_reads_noisy_text(fitted):
    invoice = make_page(
        ["ITEMIZED STATEMENT", "Date of Service  CPT Code  Units  Charges", "Amount Due $120.00"]
    )
    record = make_page(
        [
            "DISCHARGE SUMMARY",
            "Admission Date 03/01/2026",
            "Hospital Course",
            "Discharge Medications",
        ]
    )
    labels = fitted.label([invoice, record])
    assert [lab.doc_type for lab in labels] == ["invoice", "medical_record"]
    import random

    noisy = ocr_noise(invoice, random.Random(0), rate=0.08)
    assert fitted.label([noisy])[0].doc_type == "invoice"


def test_pages_empty_page_is_other(fitted):
    empty = Page(file="a.pdf", page=1, width=612, height=792)
    label = fitted.label([empty])[0]
    assert label.doc_type == "other" and label.confidence > 0.9


def test_pages_unreadable_page_is_other_but_uncertain(fitted):
    failed = Page(
        file="a.tif",
        page=1,
        width=612,
        height=792,
        reader="none",
        warnings=["Tesseract did not finish a 2550x3302 page within 30.0 s (psm=11)"],
    )
    label = fitted.label([failed])[0]
    assert label.doc_type == "other" and label.confidence == UNREADABLE_CONFIDENCE < 0.5


def test_pages_unfitted_model_raises_named_error():
    with pytest.raises(NotFittedError):
        PageClassifier().predict_proba([make_page(["x"])])


def test_pages_unknown_label_is_refused():
    with pytest.raises(ValueError, match="valid"):
        PageClassifier().fit([make_page(["a b c"]), make_page(["d e f"])], ["invoice", "bill"])


def test_pages_skops_round_trip_and_pickle_refused(fitted, tmp_path):
    path = save_page_classifier(fitted, tmp_path / "pc.skops")
    loaded = load_page_classifier(path)
    page = make_page(["MEMBER ID CARD", "RxBIN 610014", "Group No. 7781"])
    assert loaded.label([page])[0].doc_type == fitted.label([page])[0].doc_type == "id_document"
    assert loaded.predict_proba([page]).tolist() == fitted.predict_proba([page]).tolist()
    # Vocabulary indices are stored as plain ints, not one numpy array file per term.
    assert {type(i) for i in loaded.words_.vocabulary_.values()} == {int}
    fake = tmp_path / "evil.skops"
    fake.write_bytes(pickle.dumps({"not": "a model"}))
    with pytest.raises(UntrustedModelError):
        load_page_classifier(fake)


def test_pages_doubtful_page_keeps_a_type_that_clearly_leads():
    # a badly scanned bill: invoice well ahead of the rest though under min_confidence
    bill = {"invoice": 0.436, "medical_record": 0.237, "id_document": 0.165, "other": 0.162}
    assert decide_doc_type(bill, min_confidence=0.45) == ("invoice", 0.436)
    # two types nearly tied: no fair guess
    tied = {"invoice": 0.40, "medical_record": 0.35, "other": 0.25}
    assert decide_doc_type(tied, min_confidence=0.45) == ("other", pytest.approx(0.60))
    # far ahead but unlikely in itself
    faint = {"invoice": 0.25, "medical_record": 0.1, "claim_form": 0.1}
    assert decide_doc_type(faint, min_confidence=0.45)[0] == "other"
    assert decide_doc_type({"claim_form": 0.9, "invoice": 0.1}, 0.45) == ("claim_form", 0.9)
