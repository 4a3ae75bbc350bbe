"""Titles heading a page as evidence of its type."""

from __future__ import annotations

from pipeline.classify.pages import PageLabel
from pipeline.classify.titles import load_titles, page_title, weigh_titles
from pipeline.document import Line, Page, Word


def _page(lines: list[tuple[float, str]], rotation: int = 0) -> Page:
    built = []
    for y, text in lines:
        words, x = [], 0.1
        for token in text.split():
            words.append(
                Word(text=token, confidence=0.99, bbox=(x, y, x + 0.01 * len(token), y + 0.015))
            )
            x += 0.01 * len(token) + 0.01
        built.append(Line.from_words(words))
    return Page(file="p.pdf", page=1, width=612, height=792, rotation=rotation, lines=built)


UNSURE = {
    "accident_report": 0.18,
    "claim_form": 0.15,
    "diagnosis_certificate": 0.294,
    "id_document": 0.087,
    "invoice": 0.101,
    "medical_record": 0.185,
    "other": 0.003,
}


def test_titles_a_heading_settles_a_page_the_model_was_unsure_of() -> None:
    page = _page([(0.05, "MOTOR VEHICLE ACCIDENT REPORT"), (0.1, "Date of Crash: 02/27/2026")])
    assert page_title(page, load_titles("en")) == "accident_report"
    unsure = PageLabel(doc_type="other", confidence=0.706, scores=UNSURE)
    (label,) = weigh_titles([page], [unsure], "en", min_confidence=0.45)
    assert label.doc_type == "accident_report" and label.confidence > 0.5
    assert abs(sum(label.scores.values()) - 1.0) < 1e-9


def test_titles_do_not_overturn_a_sure_page() -> None:
    page = _page([(0.05, "PATIENT STATEMENT")])
    scores = {"invoice": 0.02, "claim_form": 0.97, "other": 0.01}
    sure = PageLabel(doc_type="claim_form", confidence=0.97, scores=scores)
    (label,) = weigh_titles([page], [sure], "en", min_confidence=0.45)
    assert label.doc_type == "claim_form"


def test_titles_only_short_headings_near_the_top_count() -> None:
    titles = load_titles("en")
    low = _page([(0.05, "St. Brigid Regional Hospital"), (0.6, "ACCIDENT REPORT")])
    assert page_title(low, titles) is None
    sentence = _page([(0.05, "Please send this page with the claim form you return to us by mail")])
    assert page_title(sentence, titles) is None
    value = _page([(0.05, "Date of receipt: 03/02/2026")])
    assert page_title(value, titles) is None
    longer = _page(
        [(0.04, "St. Brigid Regional Hospital"), (0.08, "ITEMIZED STATEMENT OF CHARGES")]
    )
    assert page_title(longer, titles) == "invoice"
    # boxes are kept as the page was stored: on a page stored upside down the heading is
    # at the bottom of the stored frame, the top of the page turned upright
    turned = _page([(0.9, "DISCHARGE SUMMARY")], rotation=180)
    assert page_title(turned, titles) == "medical_record"
    assert page_title(_page([(0.9, "DISCHARGE SUMMARY")]), titles) is None
    assert page_title(_page([(0.05, "诊断证明书")]), load_titles("zh")) == "diagnosis_certificate"
    # the claimant's accident questionnaire is the packet's account of the accident; a claim
    # form's section heading "Accident Details" is not a title
    asked = _page([(0.045, "Harborview Benefit Mutual"), (0.065, "ACCIDENT DETAILS QUESTIONNAIRE")])
    assert page_title(asked, titles) == "accident_report"
    assert page_title(_page([(0.1, "Part 2 - Accident Details")]), titles) is None
    assert load_titles("xx") == ()


def test_titles_a_leading_title_decides_under_the_models_threshold() -> None:
    # a police report the model spread over four types: weighed, the title's type leads at
    # 0.25, under min_confidence, and the page is still the title's type (at that confidence)
    page = _page([(0.04, "MILLBROOK POLICE DEPARTMENT"), (0.06, "TRAFFIC COLLISION REPORT")])
    scores = {
        "accident_report": 0.05,
        "claim_form": 0.26,
        "medical_record": 0.22,
        "invoice": 0.20,
        "diagnosis_certificate": 0.17,
        "id_document": 0.08,
        "other": 0.02,
    }
    unsure = PageLabel(doc_type="other", confidence=0.74, scores=scores)
    (label,) = weigh_titles([page], [unsure], "en", min_confidence=0.45)
    assert label.doc_type == "accident_report"
    assert label.confidence == label.scores["accident_report"] < 0.45


def test_titles_of_other_overturn_the_look_alike() -> None:
    # an explanation of benefits has a bill's table; the model, sure, calls it an invoice
    page = _page([(0.05, "GREAT LAKES HEALTH PLAN"), (0.06, "EXPLANATION OF BENEFITS")])
    scores = {"invoice": 0.97, "claim_form": 0.01, "id_document": 0.01, "other": 0.01}
    sure = PageLabel(doc_type="invoice", confidence=0.97, scores=scores)
    (label,) = weigh_titles([page], [sure], "en", min_confidence=0.45)
    assert label.doc_type == "other" and label.confidence > 0.8


def test_titles_a_physicians_letter_opens_to_whom_it_may_concern() -> None:
    from pipeline.classify.titles import load_salutations

    lines = [
        (0.06, "Riverside Cardiology Group"),
        (0.17, "April 22, 2025"),
        (0.21, "Re: Jonathan P. Meyer (DOB 10/30/1955)"),
        (0.26, "To whom it may concern:"),
        (0.29, "Mr. Meyer has been my patient since 2019. He presented to the emergency"),
    ]
    page = _page(lines)
    assert page_title(page, load_titles("en")) is None  # no heading, and below the top
    assert page_title(page, load_salutations("en"), top=0.4) == "diagnosis_certificate"
    scores = {"diagnosis_certificate": 0.31, "medical_record": 0.30, "invoice": 0.17}
    scores |= {"claim_form": 0.12, "other": 0.10}
    unsure = PageLabel(doc_type="other", confidence=0.69, scores=scores)
    (label,) = weigh_titles([page], [unsure], "en", min_confidence=0.45)
    assert label.doc_type == "diagnosis_certificate"
    low = _page([(0.05, "Riverside Cardiology Group"), (0.5, "To whom it may concern:")])
    assert page_title(low, load_salutations("en"), top=0.4) is None


def test_titles_a_physicians_letter_to_the_claims_department() -> None:
    from pipeline.classify.titles import load_salutations

    page = _page(
        [
            (0.04, "Lakeshore Oncology Associates"),
            (0.12, "March 3, 2025"),
            (0.22, "Dear Claims Department,"),
            (0.25, "I am writing to confirm the diagnosis of my patient"),
        ]
    )
    assert page_title(page, load_salutations("en"), top=0.4) == "diagnosis_certificate"


def test_titles_a_sheet_that_says_it_is_blank() -> None:
    from pipeline.classify.titles import load_blank_notices, says_blank

    notices = load_blank_notices("en")
    assert says_blank(_page([(0.49, "This page intentionally left blank")]), notices)
    assert says_blank(
        _page([(0.49, "- Intentionally Left Blank -"), (0.95, "Form 7 p. 4")]), notices
    )
    # a page that says more is a document, whatever a line of it says
    long = _page(
        [(0.1, "Discharge instructions for the patient and family")]
        + [(0.2 + 0.05 * i, f"Step {i} rest and drink fluids") for i in range(3)]
        + [(0.5, "This page intentionally left blank")]
    )
    assert not says_blank(long, notices)
    assert not says_blank(_page([(0.5, "Blank pages were removed")]), notices)
    assert says_blank(_page([(0.5, "此页空白")]), load_blank_notices("zh"))
    assert load_blank_notices("xx") == ()


def test_titles_decide_where_the_model_was_not_sure() -> None:
    # a real police report's grids look like a bill to the model; its heading says what it is
    page = _page([(0.069, "TRAFFIC COLLISION REPORT - PUBLIC COPY"), (0.1, "DATE OF COLLISION")])
    scores = {
        "invoice": 0.54,
        "medical_record": 0.16,
        "claim_form": 0.14,
        "accident_report": 0.04,
        "diagnosis_certificate": 0.06,
        "id_document": 0.04,
        "other": 0.02,
    }
    unsure = PageLabel(doc_type="invoice", confidence=0.54, scores=scores)
    (label,) = weigh_titles([page], [unsure], "en", min_confidence=0.45)
    assert label.doc_type == "accident_report"
    assert label.confidence < 0.45  # decided, and still sent to review


def test_titles_of_incident_reports_certifications_and_fax_covers() -> None:
    titles = load_titles("en")
    incident = _page(
        [(0.04, "Ridgeline Distribution Inc."), (0.085, "EMPLOYEE INCIDENT / INJURY REPORT")]
    )
    assert page_title(incident, titles) == "accident_report"
    certified = _page([(0.09, "PHYSICIAN'S CERTIFICATION OF DIAGNOSIS")])
    assert page_title(certified, titles) == "diagnosis_certificate"
    assert page_title(_page([(0.05, "FAX COVER SHEET")]), titles) == "other"
    # a letterhead's "Fax:" label on a line of its own is no heading
    assert page_title(_page([(0.05, "Fax:")]), titles) is None


def test_titles_of_physician_statements_daily_notes_crash_reports_and_rx_printouts() -> None:
    from pipeline.classify.titles import load_salutations

    titles = load_titles("en")
    assert page_title(_page([(0.045, "STATEMENT OF ATTENDING PHYSICIAN")]), titles) == (
        "diagnosis_certificate"
    )
    note = _page([(0.037, "Tidewater Physical Therapy & Rehab"), (0.06, "Daily Treatment Note")])
    assert page_title(note, titles) == "medical_record"
    crash = _page([(0.02, "STATE OF OREGON — TRAFFIC CRASH REPORT (POLICE)")])
    assert page_title(crash, titles) == "accident_report"
    printout = _page(
        [(0.039, "WALGROVE PHARMACY"), (0.081, "PRESCRIPTION HISTORY / PATIENT PROFILE")]
    )
    assert page_title(printout, titles) == "other"
    letter = _page([(0.051, "Rosalind M. Achebe, MD"), (0.161, "To the Claims Department:")])
    assert page_title(letter, load_salutations("en"), top=0.4) == "diagnosis_certificate"


def test_titles_a_claimants_cover_letter_is_no_physicians_letter() -> None:
    # it opens as a physician's letter does, but nobody signs with a degree or writes of a
    # patient: the salutation does not decide
    lines = [
        (0.09, "Robert Ellison"),
        (0.18, "March 24, 2025"),
        (0.30, "Re: Hospital confinement claim - policy GH-20571"),
        (0.34, "Dear Claims Department,"),
        (0.36, "Please find enclosed my claim for my hospital stay at St. Brendan Regional"),
        (0.43, "summary and the attending physician's statement completed by Dr. Nasser."),
        (0.64, "Sincerely,"),
        (0.70, "Robert Ellison"),
    ]
    scores = {"other": 0.40, "diagnosis_certificate": 0.30, "medical_record": 0.30}
    unsure = PageLabel(doc_type="other", confidence=0.40, scores=scores)
    (label,) = weigh_titles([_page(lines)], [unsure], "en", min_confidence=0.35)
    assert label.doc_type == "other"
    signed = [*lines[:-1], (0.70, "Samir Nasser, MD")]
    (label,) = weigh_titles([_page(signed)], [unsure], "en", min_confidence=0.35)
    assert label.doc_type == "diagnosis_certificate"


def test_titles_clinician_marks_load_per_language() -> None:
    from pipeline.classify.titles import load_clinician_marks

    degrees, phrases = load_clinician_marks("en")
    assert "MD" in degrees and "my patient" in phrases
    assert load_clinician_marks("zh")[1]  # 患者 ...
    assert load_clinician_marks("xx") == (frozenset(), ())


def test_titles_section_headings_make_a_page_a_clinical_record() -> None:
    from pipeline.classify.titles import load_record_sections, record_sections

    lines = [
        (0.045, "Puget Sound Open MRI"),
        (0.101, "MRI Lumbar Spine Without Contrast"),
        (0.126, "Patient: Jennifer K. Liu   Date of Birth: 1987-03-14"),
        (0.262, "Technique"),
        (0.367, "Findings"),
        (0.520, "Impression: mild left L4-L5 protrusion"),
    ]
    page = _page(lines)
    assert record_sections(page, load_record_sections("en")) == 3
    scores = {"other": 0.60, "medical_record": 0.25, "invoice": 0.15}
    unsure = PageLabel(doc_type="other", confidence=0.60, scores=scores)
    (label,) = weigh_titles([page], [unsure], "en", min_confidence=0.45)
    assert label.doc_type == "medical_record"
    # one heading is no record ("Plan" on a price list)
    one = _page([(0.10, "Choice PPO 1500"), (0.20, "Plan"), (0.30, "Deductible $1,500")])
    (label,) = weigh_titles([one], [unsure], "en", min_confidence=0.45)
    assert label.doc_type == "other"
    assert "主诉" in load_record_sections("zh") and load_record_sections("xx") == frozenset()
