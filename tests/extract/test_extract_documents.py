"""Extraction over hand-built pages: labels beside and above, OCR noise, tables, diagnoses."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from pipeline.extract import Calibrator, extract_document, merge_diagnoses
from pipeline.extract.confidence import FEATURE_NAMES
from pipeline.schema import Diagnosis


def test_fields_label_beside(page, nlp) -> None:
    p = page(
        [
            (0.10, [(0.1, "Patient Name: John Q. Smith"), (0.6, "DOB: 01/15/1980")]),
            (0.15, [(0.1, "Member ID: xyz 123 456"), (0.6, "Policy No.: POL-77881")]),
        ]
    )
    r = extract_document("id_document", [p], nlp)
    assert r.fields["patient_name"].value == "John Q. Smith"
    assert r.fields["patient_dob"].value == "1980-01-15"
    assert r.fields["member_id"].value == "XYZ123456"
    assert r.fields["policy_number"].value == "POL-77881"
    src = r.fields["patient_dob"].source
    assert src is not None and src.page == 1 and src.bbox[0] > 0.6
    assert r.evidence["fields.patient_dob"].method == "label_beside"
    assert len(r.evidence["fields.patient_dob"].features) == len(FEATURE_NAMES)


def test_fields_label_above_value(page, nlp) -> None:
    p = page(
        [
            (0.10, [(0.1, "Member ID"), (0.5, "Group/Policy #")]),
            (0.125, [(0.1, "ABC 998877"), (0.5, "GP-4410")]),
        ]
    )
    r = extract_document("id_document", [p], nlp)
    assert r.fields["member_id"].value == "ABC998877"
    assert r.fields["policy_number"].value == "GP-4410"
    assert r.evidence["fields.member_id"].method == "label_below"


def test_fields_ocr_noisy_label(page, nlp) -> None:
    p = page([(0.1, [(0.1, "Pat1ent Narne: Mary Jones"), (0.6, "D.0.B. 3/4/75")])], conf=0.8)
    r = extract_document("diagnosis_certificate", [p], nlp)
    assert r.fields["patient_name"].value == "Mary Jones"
    assert r.fields["patient_dob"].value == "1975-03-04"


def test_fields_dob_label_chosen_among_two_dates(page, nlp) -> None:
    p = page(
        [
            (0.1, [(0.1, "Date of Visit: 03/02/2026"), (0.55, "Date of Birth: 07/19/1961")]),
            (0.15, [(0.1, "Patient: Ann Lee")]),
        ]
    )
    r = extract_document("medical_record", [p], nlp)
    assert r.fields["patient_dob"].value == "1961-07-19"
    assert r.fields["visit_date"].value == "2026-03-02"
    assert r.fields["admission_date"].value is None
    assert r.fields["admission_date"].confidence == 0 and r.fields["admission_date"].source is None


def test_fields_total_not_subtotal_and_account_not_invoice(page, nlp) -> None:
    p = page(
        [
            (0.05, [(0.1, "Lakeside Family Clinic")]),
            (0.10, [(0.1, "Account No.: 556677"), (0.6, "Invoice #: A-1009")]),
            (0.15, [(0.1, "NPI: 1234567893")]),
            (0.80, [(0.6, "Subtotal: $400.00")]),
            (0.83, [(0.6, "Tax: $12.00")]),
            (0.86, [(0.6, "Amount Due: $412.00")]),
        ]
    )
    r = extract_document("invoice", [p], nlp)
    assert r.fields["total"].value == 412.0
    assert r.fields["invoice_number"].value == "A-1009"
    assert r.fields["provider_npi"].value == "1234567893"
    assert r.fields["provider_name"].value == "Lakeside Family Clinic"


@pytest.mark.parametrize(
    ("marks", "expected"),
    [
        ("[ ] Outpatient [X] Inpatient [ ] Accident", "inpatient"),
        ("☐ Outpatient ☐ Inpatient ☒ Accident", "accident"),
        ("|X| Outpatient [ ] Inpatient", "outpatient"),
        ("Xl Critical Illness [ ] Accident", "critical_illness"),
        ("[ ] Outpatient [ ] Inpatient", None),
    ],
)
def test_fields_claim_type_checkbox(page, nlp, marks: str, expected: str | None) -> None:
    p = page([(0.3, [(0.1, "Type of claim:")]), (0.32, [(0.1, marks)])])
    r = extract_document("claim_form", [p], nlp)
    assert r.fields["claim_type"].value == expected


def _table_pages(page):  # type: ignore[no-untyped-def]
    p1 = page(
        [
            (0.05, [(0.1, "Springfield General Hospital")]),
            (0.25, [(0.1, "Diagnosis: J189, E11.9")]),
            (
                0.30,
                [
                    (0.05, "Date"),
                    (0.17, "CPT"),
                    (0.27, "Description"),
                    (0.6, "Units"),
                    (0.7, "Unit Price"),
                    (0.85, "Amount"),
                ],
            ),  # fmt: skip
            (
                0.33,
                [
                    (0.05, "03/02/2026"),
                    (0.17, "99213"),
                    (0.27, "Office visit, established"),
                    (0.6, "1"),
                    (0.7, "125.00"),
                    (0.85, "125.00"),
                ],
            ),  # fmt: skip
            (0.345, [(0.27, "patient level 3")]),
            (
                0.36,
                [
                    (0.05, "03/02/2026"),
                    (0.17, "J1100"),
                    (0.27, "Dexamethasone inj"),
                    (0.6, "2"),
                    (0.7, "10.00"),
                    (0.85, "20.00"),
                ],
            ),  # fmt: skip
        ],
        file="bill.pdf",
        number=1,
    )
    p2 = page(
        [
            (0.05, [(0.1, "Page 2 of 2")]),
            (
                0.10,
                [
                    (0.05, "03/03/2026"),
                    (0.17, "0450"),
                    (0.27, "Emergency room"),
                    (0.6, "1"),
                    (0.7, "$1,500.00"),
                    (0.85, "$1,500.00"),
                ],
            ),  # fmt: skip
            (0.13, [(0.6, "Total Charges"), (0.85, "$1,645.00")]),
            (0.20, [(0.05, "03/09/2026"), (0.17, "99214"), (0.6, "Paid, thank you 20.00")]),
        ],
        file="bill.pdf",
        number=2,
    )
    return [p1, p2]


def test_line_items_two_pages_wrapped_and_total(page, nlp) -> None:
    r = extract_document("invoice", _table_pages(page), nlp)
    items = r.line_items
    assert [i.code for i in items] == ["99213", "J1100", "0450"]
    assert [i.code_system for i in items] == ["CPT", "HCPCS", "REV"]
    assert items[0].description == "Office visit, established patient level 3"
    assert (items[1].quantity, items[1].unit_price, items[1].amount) == (2.0, 10.0, 20.0)
    assert items[2].service_date == "2026-03-03" and items[2].amount == 1500.0
    assert items[2].source is not None and items[2].source.page == 2
    assert r.fields["total"].value == 1645.0
    assert "line_items.2" in r.evidence


def test_line_items_without_header(page, nlp) -> None:
    p = page(
        [
            (0.3, [(0.05, "03/02/2026 99213 Office visit $125.00")]),
            (0.33, [(0.05, "03/04/2026 85025 Blood count 1 $40.00")]),
            (0.40, [(0.05, "Call 555-0100 on 03/05/2026")]),
        ]
    )
    r = extract_document("invoice", [p], nlp)
    assert [(i.code, i.amount) for i in r.line_items] == [("99213", 125.0), ("85025", 40.0)]
    assert r.line_items[0].quantity is None


def test_icd_codes_with_and_without_dot_and_ocr_zero(page, nlp) -> None:
    p = page(
        [
            (0.1, [(0.1, "Diagnoses: J189; E11.9; R5O.9")]),
            (0.2, [(0.1, "Seen on 03/02/2026 at 62704 Springfield, NPI 1234567893")]),
            (0.3, [(0.1, "Procedure 99213 performed")]),
        ]
    )
    r = extract_document("medical_record", [p], nlp)
    codes = [d.code for d in r.diagnoses]
    assert codes == ["J18.9", "E11.9", "R50.9"]
    assert all(d.valid and d.description for d in r.diagnoses)
    assert r.diagnoses[0].description == "Pneumonia, unspecified organism"


def test_icd_cpt_and_hcpcs_not_taken_as_diagnoses(page, nlp) -> None:
    r = extract_document("invoice", _table_pages(page), nlp)
    codes = [d.code for d in r.diagnoses]
    assert codes == ["J18.9", "E11.9"]
    assert "J11.00" not in codes


def test_icd_dotless_code_outside_diagnosis_context_ignored(page, nlp) -> None:
    p = page([(0.1, [(0.1, "Reference K3510 attached")]), (0.2, [(0.1, "Seen for I10")])])
    r = extract_document("medical_record", [p], nlp)
    assert r.diagnoses == []


def test_merge_diagnoses_keeps_most_confident() -> None:
    a = Diagnosis(code="J18.9", valid=True, confidence=0.6)
    b = Diagnosis(code="J18.9", valid=True, confidence=0.9)
    c = Diagnosis(code="E11.9", valid=True, confidence=0.8)
    merged = merge_diagnoses([[a], [b, c]])
    assert [(d.code, d.confidence) for d in merged] == [("J18.9", 0.9), ("E11.9", 0.8)]


def test_extract_document_unknown_doc_type_names_options(page, nlp) -> None:
    with pytest.raises(ConfigError, match="invoice"):
        extract_document("bill", [page([(0.1, [(0.1, "x")])])], nlp)


def test_build_nlp_unknown_language_names_options() -> None:
    from pipeline.extract import build_nlp

    with pytest.raises(ConfigError, match="en"):
        build_nlp("xx")


def test_confidence_calibrator_fit_and_round_trip() -> None:
    good = [1.0, 1.0, 1.0, 1, 0, 0, 0, 0, 1.0, 0.5, 0.0]
    bad = [0.4, 0.6, 0.0, 0, 0, 1, 0, 0, 0.0, 0.5, 2.0]
    cal = Calibrator().fit([good, bad] * 10, [True, False] * 10)
    assert cal.predict(good) > 0.8 > 0.2 > cal.predict(bad)
    again = Calibrator.from_json(cal.to_json())
    assert again.predict(good) == cal.predict(good)
    default = Calibrator()
    assert default.predict(good) > default.predict(bad)


def test_fields_chinese_labels_from_the_zh_vocabulary(page) -> None:
    from pipeline.extract import build_nlp

    zh = build_nlp("zh")
    p = page(
        [
            (0.10, [(0.1, "患者姓名：张三"), (0.6, "出生日期： 1980年1月15日")]),
            (0.15, [(0.1, "发票号码： 0012345")]),
            (0.50, [(0.6, "合计： ¥1,204.50")]),
        ]
    )
    r = extract_document("invoice", [p], zh)
    assert r.fields["patient_name"].value == "张三"
    assert r.fields["patient_dob"].value == "1980-01-15"
    assert r.fields["invoice_number"].value == "0012345"
    assert r.fields["total"].value == 1204.5


def test_line_items_amount_split_at_decimal_point_by_ocr(page, nlp) -> None:
    p = page(
        [
            (0.30, [(0.05, "Date"), (0.17, "Code"), (0.27, "Description"), (0.85, "Amount")]),
            (0.33, [(0.05, "03/02/2026"), (0.17, "99213"), (0.27, "Office visit"), (0.85, "275.")]),
            (0.33, [(0.893, "52")]),
            (0.40, [(0.60, "Balance Due"), (0.85, "275. 52")]),
        ]
    )
    r = extract_document("invoice", [p], nlp)
    assert [(i.code, i.amount) for i in r.line_items] == [("99213", 275.52)]
    assert r.fields["total"].value == 275.52


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("Sex: Female", "F"),
        ("Gender: M", "M"),
        ("Sex: [ ] M [X] F", "F"),
        ("Sex: ☒ Male ☐ Female", "M"),
        ("Sex: [ ] M [ ] F", None),
        ("Sex: M F", None),
        ("Sex: unknown", None),
    ],
)
def test_fields_patient_sex_written_or_ticked(page, nlp, row: str, expected: str | None) -> None:
    p = page([(0.10, [(0.1, "Patient Name: Mary Jones")]), (0.15, [(0.1, row)])])
    r = extract_document("claim_form", [p], nlp)
    assert r.fields["patient_sex"].value == expected
    assert r.fields["patient_name"].value == "Mary Jones"


def test_fields_patient_sex_in_chinese(page) -> None:
    from pipeline.extract import build_nlp

    p = page([(0.10, [(0.1, "患者姓名：张三"), (0.6, "性别： 女")])])
    r = extract_document("medical_record", [p], build_nlp("zh"))
    assert r.fields["patient_sex"].value == "F"
