"""Layouts seen in real and rendered documents: rows split into lines, titles, prose, grids."""

from __future__ import annotations

from pipeline.extract import extract_document
from pipeline.extract.fields import FAILED_CHECK_CONFIDENCE, find_labels
from pipeline.extract.layout import layout_lines
from pipeline.extract.vocab import load_vocab


def test_fields_value_on_a_separate_line_of_the_same_row(page, nlp) -> None:
    # readers split a row at wide gaps: label and value arrive as two Line objects
    p = page(
        [
            (0.15, [(0.10, "Name")]),
            (0.15, [(0.23, "AARON K. MUNOZ")]),
            (0.17, [(0.10, "Member ID")]),
            (0.17, [(0.23, "FXE062832118")]),
            (0.50, [(0.60, "Balance Due")]),
            (0.50, [(0.85, "$12,837.95")]),
        ]
    )
    r = extract_document("id_document", [p], nlp)
    assert r.fields["patient_name"].value == "AARON K. MUNOZ"
    assert r.fields["member_id"].value == "FXE062832118"
    inv = extract_document("invoice", [p], nlp)
    assert inv.fields["total"].value == 12837.95


def test_fields_titles_are_not_names(page, nlp) -> None:
    p = page(
        [
            (0.05, [(0.55, "Physician's Statement of Diagnosis")]),
            (0.10, [(0.60, "Patient Statement")]),
            (0.15, [(0.10, "I certify that I examined the patient. Patient: Joy R. Bryant, born")]),
            (0.165, [(0.10, "1951-10-05. She was seen by me.")]),
            (0.40, [(0.10, "Signed: Lindsay Morales, MD")]),
        ]
    )
    r = extract_document("diagnosis_certificate", [p], nlp)
    assert r.fields["physician_name"].value == "Lindsay Morales, MD"
    assert r.fields["patient_name"].value == "Joy R. Bryant"
    assert r.fields["patient_dob"].value == "1951-10-05"


def test_icd_years_and_phone_numbers_near_diagnosis_label_are_not_codes(page, nlp) -> None:
    p = page(
        [
            (0.05, [(0.5, "Statement of Diagnosis")]),
            (0.10, [(0.1, "Date of Birth: October 5, 1951")]),
            (0.12, [(0.1, "First consultation: March 12, 2025 Tel (274) 937-4963")]),
            (0.20, [(0.1, "ICD-10-CM Diagnosis")]),
            (0.22, [(0.1, "R07.9 Chest pain, unspecified")]),
        ]
    )
    r = extract_document("diagnosis_certificate", [p], nlp)
    assert [d.code for d in r.diagnoses] == ["R07.9"]


def test_line_items_split_header_with_total_column(page, nlp) -> None:
    p = page(
        [
            (0.22, [(0.07, "Date")]),
            (0.22, [(0.18, "CPT/HCPCS Description")]),
            (0.22, [(0.79, "Qty")]),
            (0.22, [(0.88, "Total")]),
            (0.24, [(0.07, "2025-06-29")]),
            (0.24, [(0.18, "80053")]),
            (0.24, [(0.27, "Comprehensive metabolic panel")]),
            (0.24, [(0.81, "1")]),
            (0.24, [(0.88, "39.60")]),
            (0.26, [(0.07, "2025-06-29"), (0.18, "85025"), (0.27, "Blood count"), (0.81, "2")]),
            (0.26, [(0.88, "57.06")]),
            (0.30, [(0.67, "Amount Due")]),
            (0.30, [(0.88, "96.66")]),
        ]
    )
    r = extract_document("invoice", [p], nlp)
    assert r.fields["total"].value == 96.66
    assert [(i.code, i.quantity, i.amount) for i in r.line_items] == [
        ("80053", 1.0, 39.6),
        ("85025", 2.0, 57.06),
    ]
    assert r.line_items[0].description == "Comprehensive metabolic panel"


def test_fields_ocr_noise_in_dates_and_money(page, nlp) -> None:
    p = page(
        [
            (0.10, [(0.1, "Invoice No: 77812"), (0.6, "Invoice Date: O3/O5/2026")]),
            (0.50, [(0.6, "Total Due: $1,2O4.5O")]),
        ],
        conf=0.7,
    )
    r = extract_document("invoice", [p], nlp)
    assert r.fields["invoice_date"].value == "2026-03-05"
    assert r.fields["total"].value == 1204.5
    clean = extract_document("invoice", [page([(0.5, [(0.6, "Total Due: $1,204.50")])])], nlp)
    assert r.fields["total"].confidence < clean.fields["total"].confidence


def test_layout_rotated_scan_boxes_in_stored_frame(page, nlp) -> None:
    from pipeline.document import Line, Word
    from pipeline.extract.layout import upright_bbox

    upright = page(
        [
            (0.10, [(0.1, "Invoice No.: 4471"), (0.6, "Date: 04/29/2026")]),
            (0.50, [(0.6, "Balance Due")]),
            (0.50, [(0.85, "$2,420.01")]),
        ]
    )
    # the reader turned the stored page 270 degrees to read it and reports stored-frame boxes
    stored = upright.model_copy(
        update={
            "rotation": 270,
            "lines": [
                Line.from_words(
                    [
                        Word(text=w.text, confidence=w.confidence, bbox=upright_bbox(w.bbox, 90))
                        for w in line.words
                    ]
                )
                for line in upright.lines
            ],
        }
    )
    r = extract_document("invoice", [stored], nlp)
    assert r.fields["invoice_number"].value == "4471"
    assert r.fields["invoice_date"].value == "2026-04-29"
    assert r.fields["total"].value == 2420.01
    src = r.fields["total"].source
    want = upright_bbox(upright.lines[2].words[0].bbox, 90)
    assert src is not None and all(abs(a - b) < 1e-9 for a, b in zip(src.bbox, want, strict=True))


def test_fields_numbered_form_boxes_with_instructions(page, nlp) -> None:
    """A CMS-1500's boxes: item numbers before labels, fill-in instructions in parentheses
    after them, the value under the label, dates in "MM | DD | YY" boxes."""
    p = page(
        [
            (0.10, [(0.05, "1a. INSURED'S I.D. NUMBER (For Program in Item 1)")]),
            (0.125, [(0.06, "XGH448120937")]),
            (
                0.16,
                [
                    (0.05, "2. PATIENT'S NAME (Last Name, First Name, Middle Initial)"),
                    (0.55, "3. PATIENT'S BIRTH DATE"),
                ],
            ),
            (0.185, [(0.06, "HARTWELL, DENISE M"), (0.56, "07 | 22 | 1968")]),
            (0.22, [(0.05, "11. INSURED'S POLICY GROUP OR FECA NUMBER")]),
            (0.245, [(0.06, "GRP-77120")]),
        ]
    )
    r = extract_document("claim_form", [p], nlp)
    assert r.fields["member_id"].value == "XGH448120937"
    assert r.fields["patient_name"].value == "DENISE M HARTWELL"
    assert r.fields["patient_dob"].value == "1968-07-22"
    assert r.fields["policy_number"].value == "GRP-77120"
    assert r.evidence["fields.policy_number"].label == "Insured's Policy Group or FECA Number"


def test_fields_item_number_before_a_short_label(page, nlp) -> None:
    p = page(
        [
            (0.10, [(0.05, "25. FEDERAL TAX I.D. NUMBER"), (0.40, "28. TOTAL CHARGE")]),
            (0.125, [(0.06, "84-1234567"), (0.41, "$ 295.55")]),
            (0.16, [(0.05, "33. BILLING PROVIDER INFO & PH #")]),
            (0.185, [(0.06, "PINE RIDGE FAMILY MEDICINE")]),
        ]
    )
    r = extract_document("invoice", [p], nlp)
    assert r.fields["total"].value == 295.55
    assert r.fields["provider_name"].value == "PINE RIDGE FAMILY MEDICINE"
    assert r.fields["tax_id"].value == "84-1234567"


def test_fields_instruction_in_parentheses_is_part_of_the_label(page, nlp) -> None:
    p = page(
        [
            (0.10, [(0.05, "Date of Birth (MM/DD/YYYY) 07/22/1968")]),
            (0.13, [(0.05, "Patient Name (as on ID card) Denise Hartwell")]),
            (0.16, [(0.05, "DOB (07/22/1968)")]),
        ]
    )
    r = extract_document("medical_record", [p], nlp)
    assert r.fields["patient_dob"].value == "1968-07-22"
    assert r.fields["patient_name"].value == "Denise Hartwell"
    hits = find_labels(layout_lines([p]), load_vocab("en"))
    assert [(h.field, h.end) for h in hits] == [
        ("patient_dob", 4),
        ("patient_name", 6),
        ("patient_dob", 1),
    ]


def test_fields_name_printed_in_boxes_of_its_own(page, nlp) -> None:
    labels = ["Member's Last Name", "First Name", "M.I.", "Member ID Number"]
    values = ["Hartwell", "Denise", "M", "XGH448120937"]
    columns = [0.05, 0.35, 0.60, 0.70]
    # one reader line per box, as readers split a row at wide gaps
    p = page(
        [(0.10, [(x, text)]) for x, text in zip(columns, labels, strict=True)]
        + [(0.125, [(x + 0.01, text)]) for x, text in zip(columns, values, strict=True)]
    )
    r = extract_document("claim_form", [p], nlp)
    assert r.fields["patient_name"].value == "Denise M Hartwell"
    assert r.fields["member_id"].value == "XGH448120937"
    source = r.fields["patient_name"].source
    assert source is not None and source.bbox[0] < 0.07 and source.bbox[2] > 0.36


def test_fields_name_boxes_only_when_no_label_gives_the_whole_name(page, nlp) -> None:
    p = page(
        [
            (0.10, [(0.05, "Patient Name: Ann Lee")]),
            (0.13, [(0.05, "Last Name"), (0.35, "First Name")]),
            (0.155, [(0.06, "Baker"), (0.36, "Tom")]),
        ]
    )
    r = extract_document("claim_form", [p], nlp)
    assert r.fields["patient_name"].value == "Ann Lee"
    lonely = page([(0.10, [(0.05, "Last Name")]), (0.125, [(0.06, "Baker")])])
    assert extract_document("claim_form", [lonely], nlp).fields["patient_name"].value is None


def test_fields_ub04_boxes_numbered_without_a_point(page, nlp) -> None:
    """UB-04 boxes: bare item numbers, dates filled in without separators, the next box's
    label beside a label that has its value below."""
    p = page(
        [
            (0.10, [(0.05, "8 PATIENT NAME")]),
            (0.125, [(0.05, "HARTWELL, DENISE M")]),
            (0.16, [(0.05, "10 BIRTHDATE")]),
            (0.185, [(0.05, "07221968")]),
            (0.22, [(0.05, "60 INSURED'S UNIQUE ID")]),
            (0.22, [(0.40, "62 INSURANCE GROUP NO.")]),
            (0.245, [(0.05, "XGH448120937")]),
            (0.245, [(0.40, "GRP-77120")]),
            (0.28, [(0.05, "56 NPI 1598765430")]),
        ]
    )
    r = extract_document("invoice", [p], nlp)
    assert r.fields["patient_name"].value == "DENISE M HARTWELL"
    assert r.fields["patient_dob"].value == "1968-07-22"
    assert r.fields["member_id"].value == "XGH448120937"
    assert r.fields["provider_npi"].value == "1598765430"


def test_fields_an_id_ends_at_a_word(page, nlp) -> None:
    p = page([(0.10, [(0.05, "Member ID: 62 INSURANCE GROUP NO.")])])
    assert extract_document("invoice", [p], nlp).fields["member_id"].value is None


def test_fields_npi_failing_its_check_digit_is_kept_for_review(page, nlp) -> None:
    p = page([(0.10, [(0.05, "NPI: 1467582931")])])
    field = extract_document("invoice", [p], nlp).fields["provider_npi"]
    assert field.value == "1467582931"
    assert field.confidence <= FAILED_CHECK_CONFIDENCE
    both = page([(0.10, [(0.05, "NPI: 1467582931")]), (0.13, [(0.05, "NPI: 1598765430")])])
    assert extract_document("invoice", [both], nlp).fields["provider_npi"].value == "1598765430"


def test_line_items_totals_row_ends_the_table(page, nlp) -> None:
    p = page(
        [
            (
                0.20,
                [(0.05, "Rev"), (0.15, "Description"), (0.45, "Units"), (0.60, "Total Charges")],
            ),
            (0.23, [(0.05, "0120"), (0.15, "ROOM-BOARD/SEMI"), (0.45, "3"), (0.60, "4,350.00")]),
            (0.26, [(0.05, "0300"), (0.15, "LABORATORY"), (0.45, "1"), (0.60, "62.00")]),
            (0.29, [(0.05, "0001"), (0.15, "PAGE 1 OF 1"), (0.45, "TOTALS"), (0.60, "4,412.00")]),
        ]
    )
    r = extract_document("invoice", [p], nlp)
    assert [(i.code, i.amount) for i in r.line_items] == [("0120", 4350.0), ("0300", 62.0)]
    assert r.fields["total"].value == 4412.0


def test_line_items_date_column_filled_in_without_separators(page, nlp) -> None:
    p = page(
        [
            (
                0.20,
                [
                    (0.05, "Rev. Cd."),
                    (0.15, "Description"),
                    (0.40, "Serv. Date"),
                    (0.60, "Total Charges"),
                ],
            ),
            (0.23, [(0.05, "0300"), (0.15, "LABORATORY"), (0.40, "030526"), (0.60, "62.00")]),
            (0.26, [(0.05, "0250"), (0.15, "PHARMACY"), (0.40, "030626"), (0.60, "22.50")]),
        ]
    )
    items = extract_document("invoice", [p], nlp).line_items
    assert [(i.code, i.service_date) for i in items] == [
        ("0300", "2026-03-05"),
        ("0250", "2026-03-06"),
    ]


def test_fields_a_label_written_with_its_colon_needs_the_colon(page, nlp) -> None:
    """ "Pt:" heads a clinic note's patient line; "PT" without a colon is physical therapy."""
    note = page(
        [(0.10, [(0.05, "Pt: Hartwell, Denise")]), (0.13, [(0.05, "Pt : Hartwell, Denise")])]
    )
    assert extract_document("medical_record", [note], nlp).fields["patient_name"].value == (
        "Denise Hartwell"
    )
    therapy = page([(0.10, [(0.05, "PT Evaluation Moderate Complexity")])])
    assert extract_document("medical_record", [therapy], nlp).fields["patient_name"].value is None


def test_fields_family_name_first_with_a_comma_is_turned_round(page, nlp) -> None:
    rows = [
        ("Patient: HARTWELL, DENISE M", "DENISE M HARTWELL"),
        ("Patient: John Smith, Jr.", "John Smith, Jr."),
        ("Patient: Van Der Berg, Anna", "Anna Van Der Berg"),
    ]
    for printed, expected in rows:
        r = extract_document("medical_record", [page([(0.1, [(0.05, printed)])])], nlp)
        assert r.fields["patient_name"].value == expected
    cert = page([(0.1, [(0.05, "Attending physician: Alan K. Whitfield, MD")])])
    physician = extract_document("diagnosis_certificate", [cert], nlp).fields["physician_name"]
    assert physician.value == "Alan K. Whitfield, MD"


def test_fields_a_dependents_claim_names_the_patient_not_the_member(page, nlp) -> None:
    # the member (policyholder) fills in part 1, the patient (a spouse) part 2
    p = page(
        [
            (0.15, [(0.08, "Part 1 - Employee / Member")]),
            (
                0.17,
                [(0.08, "Member Name: Maureen T. O'Donnell"), (0.52, "Member ID: SCX558120934")],
            ),
            (0.19, [(0.08, "Date of Birth: 01-29-1985"), (0.52, "Policy Number: PPO-2241175")]),
            (0.28, [(0.08, "Part 2 - Patient")]),
            (0.30, [(0.08, "Is the patient the member? [ ] Yes [X] No")]),
            (0.32, [(0.08, "Patient Name: Brian K. O'Donnell"), (0.52, "Relationship: Spouse")]),
            (0.34, [(0.08, "Patient DOB: 06-12-1983")]),
        ]
    )
    r = extract_document("claim_form", [p], nlp)
    assert r.fields["patient_name"].value == "Brian K. O'Donnell"
    assert r.fields["patient_dob"].value == "1983-06-12"
    assert r.fields["member_id"].value == "SCX558120934"
    # a form whose patient section is left blank: the policyholder is the patient
    blank = page(
        [
            (0.236, [(0.07, "Policyholder name (last, first, MI)"), (0.50, "Date of birth")]),
            (0.253, [(0.07, "OYELARAN, MARCUS T"), (0.51, "02/11/1990")]),
            (
                0.392,
                [(0.08, "SECTION 3 - PATIENT (complete if the patient is not the policyholder)")],
            ),
            (0.410, [(0.07, "Patient name"), (0.50, "Patient date of birth")]),
            (0.446, [(0.07, "Relationship to policyholder"), (0.50, "Sex")]),
        ]
    )
    assert extract_document("claim_form", [blank], nlp).fields["patient_name"].value == (
        "MARCUS T OYELARAN"
    )
    # the member's own claim: the member is the patient
    own = page([(0.17, [(0.08, "Member Name: Maureen T. O'Donnell")])])
    assert extract_document("claim_form", [own], nlp).fields["patient_name"].value == (
        "Maureen T. O'Donnell"
    )


def test_fields_a_dependents_card_names_the_dependent(page, nlp) -> None:
    p = page(
        [
            (0.13, [(0.32, "Sierra Crest Health")]),
            (0.18, [(0.26, "Subscriber MAUREEN T O'DONNELL")]),
            (0.20, [(0.26, "Name BRIAN K O'DONNELL")]),
            (0.22, [(0.26, "ID SCX558120934")]),
        ]
    )
    r = extract_document("id_document", [p], nlp)
    assert r.fields["patient_name"].value == "BRIAN K O'DONNELL"
    # the subscriber above, the dependent the card is for below, numbered
    numbered = page(
        [
            (0.175, [(0.08, "Subscriber")]),
            (0.186, [(0.08, "MARTIN E GALLOWAY")]),
            (0.270, [(0.08, "Dependent (02)")]),
            (0.281, [(0.08, "TERESA L GALLOWAY")]),
        ]
    )
    assert extract_document("id_document", [numbered], nlp).fields["patient_name"].value == (
        "TERESA L GALLOWAY"
    )


def test_fields_a_heading_over_another_heading_does_not_outrank_the_insured(page, nlp) -> None:
    # "Patient Address" has no name beside it; below it is the next part's heading
    p = page(
        [
            (0.146, [(0.07, "Part A - Patient / Insured Information")]),
            (0.170, [(0.07, "Name of Insured: Laura Tucker"), (0.50, "D.O.B. 03-May-1946")]),
            (0.234, [(0.07, "Patient Address: 692 Mark Prairie, South Brentstad, KS 99220")]),
            (0.272, [(0.07, "Part B - Claim Type")]),
        ]
    )
    r = extract_document("claim_form", [p], nlp)
    assert r.fields["patient_name"].value == "Laura Tucker"


def test_fields_scanner_noise_does_not_outrank_a_legible_value(page, nlp) -> None:
    from pipeline.document import Line

    # a blank "Patient DOB" box under scanner grain, read before the member's clear name
    noise = page([(0.12, [(0.08, "Patient"), (0.15, "DOBBS o. = aoa soba")])])
    words = [
        w.model_copy(update={"confidence": 0.0}) if w.text != "Patient" else w
        for w in noise.lines[0].words
    ]
    noisy = noise.model_copy(update={"lines": [Line.from_words(words)]})
    clean = page([(0.17, [(0.08, "Member Name: Aisha N. Rahman")])])
    p = clean.model_copy(update={"lines": noisy.lines + clean.lines})
    r = extract_document("claim_form", [p], nlp)
    assert r.fields["patient_name"].value == "Aisha N. Rahman"


def test_fields_a_date_of_birth_in_character_boxes(page, nlp) -> None:
    p = page(
        [
            (0.180, [(0.07, "Date of Birth (MM DD YYYY)"), (0.41, "Policy Number")]),
            (0.196, [(0.07, "0"), (0.09, "9"), (0.12, "1"), (0.14, "8"), (0.18, "1 9 7 1")]),
            (0.196, [(0.42, "CI-4471108")]),
        ]
    )
    r = extract_document("claim_form", [p], nlp)
    assert r.fields["patient_dob"].value == "1971-09-18"
    assert r.fields["patient_dob"].source.bbox[0] == 0.07
    grouped = page([(0.18, [(0.07, "Date of Birth:"), (0.20, "09 18 1971")])])
    assert extract_document("claim_form", [grouped], nlp).fields["patient_dob"].value == (
        "1971-09-18"
    )
    # a count of digits no date has is no date
    odd = page([(0.18, [(0.07, "Date of Birth:"), (0.20, "0 9 1 8 1 9 7")])])
    assert extract_document("claim_form", [odd], nlp).fields["patient_dob"].value is None


def test_fields_a_number_sign_printed_against_its_value(page, nlp) -> None:
    p = page(
        [
            (0.049, [(0.09, "Penobscot Valley Hospital"), (0.78, "Detail Statement")]),
            (0.072, [(0.09, "480 Hammond St"), (0.78, "Statement #PVH-551902")]),
            (0.085, [(0.76, "Statement Date 10/15/2025")]),
        ]
    )
    r = extract_document("invoice", [p], nlp)
    assert r.fields["invoice_number"].value == "PVH-551902"
    assert r.fields["invoice_date"].value == "2025-10-15"


def test_fields_a_numbered_box_effective_date_of_coverage(page, nlp) -> None:
    p = page(
        [
            (0.233, [(0.55, "10. HOME PHONE"), (0.74, "11. EFFECTIVE DATE OF COVERAGE")]),
            (0.250, [(0.55, "(717) 555-0183"), (0.75, "01/01/2024")]),
        ]
    )
    r = extract_document("claim_form", [p], nlp)
    assert r.fields["policy_effective_date"].value == "2024-01-01"


def test_fields_a_therapy_evaluation_is_the_visit(page, nlp) -> None:
    p = page(
        [
            (0.097, [(0.07, "PHYSICAL THERAPY INITIAL EVALUATION")]),
            (0.124, [(0.07, "Patient:"), (0.28, "Delaney, Marcus J.")]),
            (0.141, [(0.07, "Date of Birth:"), (0.28, "07/30/1991")]),
            (0.157, [(0.07, "Date of Evaluation:"), (0.28, "04/02/2025")]),
        ]
    )
    r = extract_document("medical_record", [p], nlp)
    assert r.fields["visit_date"].value == "2025-04-02"
    assert r.fields["patient_dob"].value == "1991-07-30"
    operated = page(
        [
            (0.088, [(0.07, "OPERATIVE REPORT")]),
            (0.118, [(0.07, "Patient:"), (0.22, "Marcus T. Oyelaran")]),
            (0.134, [(0.07, "DOB:"), (0.22, "02/11/1990"), (0.50, "Date of operation:")]),
            (0.134, [(0.65, "06/17/2025")]),
        ]
    )
    assert extract_document("medical_record", [operated], nlp).fields["visit_date"].value == (
        "2025-06-17"
    )


def test_line_items_a_date_the_scan_broke_into_pieces(page, nlp) -> None:
    header = [
        (0.07, "Date"),
        (0.18, "CPT"),
        (0.27, "Description"),
        (0.70, "Units"),
        (0.88, "Charge"),
    ]
    p = page(
        [
            (0.27, header),
            (0.31, [(0.07, "03/1"), (0.104, "1/2025"), (0.18, "87880"), (0.27, "Rapid strep")]),
            (0.31, [(0.73, "1"), (0.89, "38.00")]),
            (0.33, [(0.07, "03/"), (0.096, "1"), (0.106, "1/2025"), (0.18, "J0696")]),
            (0.33, [(0.27, "Ceftriaxone sodium inj"), (0.73, "1"), (0.89, "24.75")]),
            # a count and a price are no date, however close
            (0.35, [(0.07, "3"), (0.09, "12.50"), (0.18, "96372"), (0.27, "Injection")]),
            (0.35, [(0.73, "1"), (0.89, "48.00")]),
        ]
    )
    items = extract_document("invoice", [p], nlp).line_items
    assert [(i.code, i.service_date) for i in items] == [
        ("87880", "2025-03-11"),
        ("J0696", "2025-03-11"),
        ("96372", None),
    ]


def test_fields_a_signature_block_with_the_physicians_specialty(page, nlp) -> None:
    p = page(
        [
            (0.093, [(0.07, "ATTENDING PHYSICIAN STATEMENT")]),
            (0.145, [(0.07, "Patient name"), (0.50, "Date of birth")]),
            (0.165, [(0.07, "Marcus T. Oyelaran"), (0.51, "02/11/1990")]),
            (0.453, [(0.08, "H. Voss"), (0.55, "06/24/2025")]),
            (0.478, [(0.07, "Signature of attending physician"), (0.54, "Date")]),
            (0.497, [(0.07, "Helena Voss, MD - General Surgery")]),
            (0.512, [(0.07, "NPI 1882046711 Tel (937) 555-0112")]),
        ]
    )
    r = extract_document("diagnosis_certificate", [p], nlp)
    assert r.fields["physician_name"].value == "Helena Voss, MD"
    # a degree inside a sentence is no signature
    prose = page([(0.5, [(0.07, "Seen by Helena Voss, MD on 06/17/2025 in clinic")])])
    assert (
        extract_document("diagnosis_certificate", [prose], nlp).fields["physician_name"].value
        is None
    )


def test_fields_a_label_word_running_on_in_a_letterhead_is_no_label(page, nlp) -> None:
    p = page(
        [
            (0.043, [(0.07, "St. Brendan Regional Medical Center")]),
            (0.061, [(0.71, "Patient Financial Services (937) 555-0110")]),
            (0.089, [(0.07, "ITEMIZED STATEMENT OF HOSPITAL CHARGES")]),
            (0.116, [(0.07, "Patient:"), (0.19, "Marcus T. Oyelaran")]),
            (0.131, [(0.07, "DOB:"), (0.19, "02/11/1990")]),
        ]
    )
    r = extract_document("invoice", [p], nlp)
    assert r.fields["patient_name"].value == "Marcus T. Oyelaran"
    # a date's own form checks it: a label without a colon still gives it
    dated = page(
        [
            (0.094, [(0.60, "Invoice Date 10/06/2025")]),
            (0.339, [(0.07, "Date of service:"), (0.26, "10/01/2025")]),
        ]
    )
    assert extract_document("invoice", [dated], nlp).fields["invoice_date"].value == "2025-10-06"


def test_fields_a_copay_beside_the_policy_label_is_no_policy_number(page, nlp) -> None:
    p = page(
        [
            (0.186, [(0.08, "INGRID S HALVORSEN"), (0.41, "$25")]),
            (0.207, [(0.08, "Member ID"), (0.41, "PT/OT")]),
            (0.218, [(0.08, "NWH-7710-33482"), (0.41, "$25/visit")]),
            (0.238, [(0.08, "Policy No.")]),
            (0.243, [(0.41, "$100")]),
            (0.249, [(0.08, "NWH-POL-556019")]),
        ]
    )
    r = extract_document("id_document", [p], nlp)
    assert r.fields["policy_number"].value == "NWH-POL-556019"
    # an S read as "$" in a long id is still the id
    s_read = page([(0.2, [(0.08, "Policy No."), (0.20, "$74171140")])])
    assert extract_document("id_document", [s_read], nlp).fields["policy_number"].value == (
        "S74171140"
    )


def test_fields_a_card_with_pharmacy_numbers_in_a_second_column(page, nlp) -> None:
    # the member id's label is lost in the scan ("Ip"); the Rx BIN beside the name is no id
    p = page(
        [
            (0.137, [(0.08, "Bluestem Assurance Co.")]),
            # the reader splits each row at the gap between the card's two columns
            (0.175, [(0.08, "Member")]),
            (0.175, [(0.41, "Rx BIN")]),
            (0.186, [(0.08, "THEODORE NAKAMURA-BELL")]),
            (0.186, [(0.41, "004336")]),
            (0.204, [(0.41, "Rx PCN")]),
            (0.207, [(0.08, "Ip")]),
            (0.218, [(0.08, "BSA-6620148-01")]),
            (0.218, [(0.41, "ADV")]),
            (0.238, [(0.08, "Group/Policy")]),
            (0.238, [(0.41, "BSARX")]),
            (0.249, [(0.08, "BSA-G-30021")]),
        ]
    )
    r = extract_document("id_document", [p], nlp)
    assert r.fields["patient_name"].value == "THEODORE NAKAMURA-BELL"
    assert r.fields["member_id"].value == "BSA-6620148-01"
    assert r.fields["policy_number"].value == "BSA-G-30021"


def test_fields_a_word_one_letter_off_a_label_is_the_weaker_anchor(page, nlp) -> None:
    # an employer's incident report: "injured:" is no "Insured" label
    p = page(
        [
            (0.085, [(0.07, "EMPLOYEE INCIDENT / INJURY REPORT")]),
            (0.126, [(0.07, "Employee name")]),
            (0.148, [(0.07, "Dwayne K. Abernathy")]),
            (0.166, [(0.07, "Date of incident")]),
            (0.183, [(0.07, "04/15/2025")]),
            (0.374, [(0.07, "Body part(s) injured:"), (0.33, "DC Back ☒ Hand ☐ Leg")]),
        ]
    )
    r = extract_document("accident_report", [p], nlp)
    assert r.fields["patient_name"].value == "Dwayne K. Abernathy"
    assert r.fields["accident_date"].value == "2025-04-15"


def test_fields_a_scanned_box_read_with_mismatched_sides(page, nlp) -> None:
    p = page(
        [
            (0.088, [(0.06, "STUDENT HEALTH PLAN - CLAIM FORM")]),
            (0.120, [(0.06, "Claim for:"), (0.17, "{X] Outpatient { ] In-patient { ] Accident")]),
            (0.195, [(0.07, "Student name")]),
            (0.208, [(0.06, "Villanueva, Jasper N.")]),
        ]
    )
    r = extract_document("claim_form", [p], nlp)
    assert r.fields["claim_type"].value == "outpatient"
    assert r.fields["patient_name"].value == "Jasper N. Villanueva"


def test_fields_a_ub04_style_invoice_or_bill_number_box(page, nlp) -> None:
    p = page(
        [
            (0.032, [(0.04, "1"), (0.37, "3a PAT. CNTL #"), (0.64, "4 TYPE OF BILL")]),
            (0.040, [(0.05, "PRAIRIE LUTHERAN HOSPITAL"), (0.37, "PLH-991280"), (0.64, "0111")]),
            (0.053, [(0.37, "b. MED. REC. #"), (0.64, "INVOICE / BILL NO.")]),
            (0.066, [(0.37, "PL0044179"), (0.64, "PLH-UB-0904-7713")]),
        ]
    )
    r = extract_document("invoice", [p], nlp)
    assert r.fields["invoice_number"].value == "PLH-UB-0904-7713"


def test_fields_a_date_the_scan_broke_under_its_label(page, nlp) -> None:
    p = page(
        [
            (0.129, [(0.54, "Statement #:"), (0.67, "BUE-INV-250418-2207")]),
            (0.144, [(0.54, "Statement date:"), (0.67, "04/1"), (0.701, "8/2025")]),
        ]
    )
    r = extract_document("invoice", [p], nlp)
    assert r.fields["invoice_date"].value == "2025-04-18"
    assert r.fields["invoice_number"].value == "BUE-INV-250418-2207"


def test_vocab_ranked_labels_must_be_labels_of_the_field() -> None:
    import pytest
    from pydantic import ValidationError

    from pipeline.extract.vocab import FieldVocab

    for language in ("en", "zh"):
        load_vocab(language)  # the shipped files pass
    with pytest.raises(ValidationError, match="does not have"):
        FieldVocab(kind="name", labels=["Patient"], defer=["Member Name"])
    with pytest.raises(ValidationError, match="both preferred and deferred"):
        FieldVocab(kind="name", labels=["Patient"], prefer=["Patient"], defer=["Patient"])


def test_fields_captions_questions_and_providers_are_no_persons_name(page, nlp) -> None:
    # a landscape form's caption under the box read as the box's value, a question, a facility
    for beside in ("PATIENT NAME", "IS PATIENT COVERED", "Mercy Valley Hospital Emergency Dept."):
        p = page([(0.2, [(0.05, "Name:"), (0.30, beside)])])
        assert extract_document("claim_form", [p], nlp).fields["patient_name"].value is None
    signed = page(
        [
            (0.1, [(0.05, "Physician:"), (0.30, "St. Lisa Medical Center")]),
            (0.5, [(0.05, "Gina Stafford, MD")]),
        ]
    )
    r = extract_document("diagnosis_certificate", [signed], nlp)
    assert r.fields["physician_name"].value == "Gina Stafford, MD"


def test_line_items_modifier_pointer_and_surgeon_columns_stay_out_of_descriptions(
    page, nlp
) -> None:
    header = [
        (0.07, "DOS"),
        (0.14, "CPT/HCPCS"),
        (0.24, "Mod"),
        (0.29, "Description"),
        (0.59, "Surgeon"),
        (0.72, "Dx ptr"),
        (0.80, "Units"),
        (0.89, "Charge"),
    ]
    p = page(
        [
            (0.208, header),
            (
                0.226,
                [
                    (0.07, "09/24/2026"),
                    (0.14, "97110"),
                    (0.24, "GP"),
                    (0.29, "Therapeutic exercise, ea 15 min"),
                    (0.59, "E. Navarro, MD"),
                    (0.72, "A,B"),
                    (0.81, "2"),
                    (0.89, "90.00"),
                ],
            ),
        ]
    )
    (item,) = extract_document("invoice", [p], nlp).line_items
    assert (item.code, item.quantity, item.amount) == ("97110", 2.0, 90.0)
    assert item.description == "Therapeutic exercise, ea 15 min"


def test_fields_a_ticked_box_before_a_two_word_option(page, nlp) -> None:
    p = page(
        [
            (0.319, [(0.07, "SECTION II — CLAIM")]),
            (
                0.342,
                [
                    (0.07, "Benefit being claimed:"),
                    (0.25, "☐ Outpatient / physician"),
                    (0.42, "☒ Hospital inpatient"),
                    (0.60, "☐ Accident medical"),
                    (0.77, "☐ Critical illness"),
                ],
            ),
        ]
    )
    assert extract_document("claim_form", [p], nlp).fields["claim_type"].value == "inpatient"


def test_fields_a_two_column_form_whose_right_labels_sit_a_little_lower(page, nlp) -> None:
    p = page(
        [
            (0.216, [(0.06, "3. Patient's name (last, first, middle)")]),
            (0.232, [(0.51, "11. Provider / facility name")]),
            (0.239, [(0.09, "Fontaine, Aurelio B.")]),
            (0.256, [(0.54, "Tidewater Physical Therapy & Rehab")]),
        ]
    )
    r = extract_document("claim_form", [p], nlp)
    assert r.fields["patient_name"].value == "Aurelio B. Fontaine"
    # a blank answer still reads nothing: the next row of values is the next question's
    blank = page(
        [
            (0.216, [(0.06, "3. Patient's name (last, first, middle)")]),
            (0.262, [(0.06, "4. Patient's date of birth")]),
            (0.285, [(0.09, "12/01/1972")]),
        ]
    )
    assert extract_document("claim_form", [blank], nlp).fields["patient_name"].value is None
