"""Extraction over what OCR makes of scans: split rows and phrases, offset labels, specks,
look-alike characters, rules read as words. Pages are built word by word, with boxes."""

from __future__ import annotations

from pipeline.document import Line, Page, Word
from pipeline.extract import extract_document
from pipeline.extract.layout import Tok, layout_lines, merge_split_amounts, rows_of

CHAR_W = 0.008

Placed = tuple[float, float, str]  # x0, y0, phrase
"""A phrase whose words are laid out from (x0, y0), one character width each."""


def _words(x: float, y: float, phrase: str, height: float, conf: float) -> list[Word]:
    words = []
    for part in phrase.split(" "):
        w = CHAR_W * len(part)
        words.append(Word(text=part, confidence=conf, bbox=(x, y, x + w, y + height)))
        x += w + CHAR_W
    return words


def scan(lines: list[list[Placed]], height: float = 0.010, conf: float = 0.9) -> Page:
    """One Line per inner list, in the order given (readers do not sort rows for us)."""
    out = []
    for phrases in lines:
        words = [w for x, y, text in phrases for w in _words(x, y, text, height, conf)]
        out.append(Line.from_words(words))
    return Page(file="s.png", page=1, width=2550, height=3300, reader="ocr", lines=out)


def tok(text: str, x0: float, y0: float, x1: float, y1: float) -> Tok:
    return Tok(text, 0.9, (x0, y0, x1, y1), 0, 0, (x0, y0, x1, y1))


def test_layout_phrase_cut_into_two_lines_is_one_label(nlp) -> None:
    # "Name of Insured" arrives as "Name of" + "Insured": not two labels "Name" and "Insured"
    p = scan(
        [
            [(0.084, 0.138, "Name of")],
            [(0.150, 0.138, "Insured")],
            [(0.085, 0.152, "Jessica H.")],
            [(0.180, 0.153, "Sutton")],
        ]
    )
    r = extract_document("claim_form", [p], nlp)
    assert r.fields["patient_name"].value == "Jessica H. Sutton"
    assert [line.text for line in layout_lines([p])][0] == "Name of Insured"


def test_fields_value_below_in_a_row_the_reader_split(nlp) -> None:
    # the row under the label was read as two lines; the one further right starts a bit higher
    p = scan(
        [
            [(0.089, 0.171, "Patient")],
            [(0.520, 0.171, "Hoe")],
            [(0.087, 0.1845, "Gregory S. Rogers")],
            [(0.501, 0.183, "02/23/1983")],
        ]
    )
    r = extract_document("claim_form", [p], nlp)
    assert r.fields["patient_name"].value == "Gregory S. Rogers"
    assert r.evidence["fields.patient_name"].method == "label_below"


def test_fields_small_label_beside_a_larger_offset_value(nlp) -> None:
    # ID cards: small labels, large values, centred differently; the rows barely overlap
    label = 0.007
    p = Page(
        file="card.png",
        page=1,
        width=1000,
        height=630,
        reader="ocr",
        lines=[
            Line.from_words(_words(0.26, 0.161, "Subscriber", label, 0.95)),
            Line.from_words(_words(0.39, 0.152, "Sandra L. Thomas", 0.011, 0.95)),
            Line.from_words(_words(0.26, 0.175, "Subscriber ID", label, 0.95)),
            Line.from_words(_words(0.39, 0.168, "DBH482364602", 0.010, 0.95)),
            Line.from_words(_words(0.26, 0.190, "Date of Birth", label, 0.95)),
            Line.from_words(_words(0.39, 0.184, "1948-02-23", 0.009, 0.95)),
        ],
    )
    r = extract_document("id_document", [p], nlp)
    assert r.fields["patient_name"].value == "Sandra L. Thomas"
    assert r.fields["member_id"].value == "DBH482364602"
    assert r.fields["patient_dob"].value == "1948-02-23"
    assert r.evidence["fields.member_id"].method == "label_beside"


def test_fields_offset_value_belongs_to_the_nearer_label(nlp) -> None:
    # the value line sits between two label lines: the nearer label takes it
    p = scan(
        [
            [(0.10, 0.100, "Member ID")],
            [(0.10, 0.112, "Policy No.")],
            [(0.30, 0.109, "POL-55123")],
        ],
        height=0.008,
    )
    r = extract_document("id_document", [p], nlp)
    assert r.fields["policy_number"].value == "POL-55123"
    assert r.fields["member_id"].value is None


def test_fields_offset_values_paired_by_kind_when_they_drift_a_line(nlp) -> None:
    # a card whose values sit most of a line above their labels: the nearest line to "Name"
    # is the member id, but a name label takes the nearest line that reads as a name
    def line(x: float, y0: float, y1: float, text: str) -> Line:
        return Line.from_words(_words(x, y0, text, y1 - y0, 0.95))

    p = Page(
        file="card.png",
        page=1,
        width=1000,
        height=630,
        reader="ocr",
        lines=[
            line(0.385, 0.377, 0.405, "John Flowers"),
            line(0.389, 0.413, 0.436, "733100-06"),
            line(0.393, 0.449, 0.474, "06-Jul-1962"),
            line(0.216, 0.405, 0.417, "Name"),
            line(0.220, 0.437, 0.451, "ID No."),
            line(0.224, 0.467, 0.484, "Date of Birth"),
        ],
    )
    r = extract_document("id_document", [p], nlp)
    assert r.fields["patient_name"].value == "John Flowers"
    assert r.fields["patient_dob"].value == "1962-07-06"
    # the id drifted a whole line from its label: the label does not take it (a row-below
    # value on a form would be taken the same way); only the card's unlabelled-id reading
    # does, as the first line below the name that is nothing but an id
    assert r.fields["member_id"].value == "733100-06"
    assert r.evidence["fields.member_id"].method == "pattern"


def test_fields_value_line_riding_high_keeps_its_words(nlp) -> None:
    # the last word of the value sits a little higher than the rest: it is still the value
    p = Page(
        file="card.png",
        page=1,
        width=1000,
        height=630,
        reader="ocr",
        lines=[
            Line.from_words(
                [Word(text="Subscriber", confidence=0.98, bbox=(0.11, 0.1195, 0.17, 0.134))]
            ),
            Line.from_words(
                [
                    Word(text="Cynthia", confidence=0.98, bbox=(0.243, 0.1166, 0.303, 0.1287)),
                    Word(text="S.", confidence=0.98, bbox=(0.309, 0.1166, 0.322, 0.1247)),
                    Word(text="Brown", confidence=0.98, bbox=(0.328, 0.1148, 0.379, 0.1238)),
                ]
            ),
        ],
    )
    r = extract_document("id_document", [p], nlp)
    assert r.fields["patient_name"].value == "Cynthia S. Brown"


def test_fields_label_after_an_ocr_speck_still_anchors(nlp) -> None:
    p = scan([[(0.48, 0.214, "; Policy Effective Date")], [(0.518, 0.230, "Feb 5, 2025")]])
    r = extract_document("claim_form", [p], nlp)
    assert r.fields["policy_effective_date"].value == "2025-02-05"


def test_fields_heading_words_after_a_dash_are_not_labels(nlp) -> None:
    p = scan(
        [
            [(0.09, 0.144, "Part A - Patient / Insured Information")],
            [(0.20, 0.160, "S. Rogers")],
        ]
    )
    r = extract_document("claim_form", [p], nlp)
    assert r.fields["patient_name"].value is None


def test_fields_id_starting_with_dollar_is_an_s(nlp) -> None:
    p = scan([[(0.10, 0.10, "Member Number: $74171140")], [(0.10, 0.12, "Total: $74.50")]])
    r = extract_document("invoice", [p], nlp)
    assert r.fields["member_id"].value == "S74171140"
    assert r.fields["total"].value == 74.5


def test_fields_provider_letterhead_above_address_in_any_read_order(nlp) -> None:
    p = scan(
        [
            [(0.26, 0.088, "36375 Christopher Course Apt. 447, West Roberttown, WY 25661")],
            [(0.35, 0.046, "Patient Statement")],
            [(0.36, 0.073, "St. Brittany Medical Center")],
            [(0.07, 0.120, "Invoice Date: September 24, 2025")],
        ]
    )
    r = extract_document("invoice", [p], nlp)
    assert r.fields["provider_name"].value == "St. Brittany Medical Center"


def test_fields_provider_label_word_inside_a_description_is_not_a_name(nlp) -> None:
    p = scan(
        [
            [(0.07, 0.05, "Donnastad Regional Health")],
            [(0.31, 0.50, "Hospital discharge day management")],
        ]
    )
    r = extract_document("invoice", [p], nlp)
    assert r.fields["provider_name"].value == "Donnastad Regional Health"


def test_layout_rows_a_tall_rule_word_does_not_glue_rows() -> None:
    rows = [
        [tok("2025-09-09", 0.08, y, 0.17, y + 0.008), tok("55.20", 0.88, y, 0.92, y + 0.008)]
        for y in (0.375, 0.394, 0.414, 0.432)
    ]
    rule = tok("CO", 0.78, 0.393, 0.79, 0.438)  # a column rule read as a word
    found = rows_of([t for row in rows for t in row] + [rule])
    assert len(found) == 4
    assert [len(r) for r in found] == [2, 2, 3, 2]  # it joins the row nearest its centre
    assert rows_of([]) == []


def test_layout_amounts_split_at_the_point_in_three_ways() -> None:
    def joined(*parts: tuple[str, float]) -> list[str]:
        toks = [tok(text, x, 0.1, x + 0.008 * len(text), 0.108) for text, x in parts]
        return [t.text for t in merge_split_amounts(toks)]

    assert joined(("USD", 0.80), ("228", 0.87), (".", 0.897), ("80", 0.905)) == ["USD", "228.80"]
    assert joined(("27", 0.88), (".65", 0.90)) == ["27.65"]
    assert joined(("179", 0.87), ("-61", 0.90)) == ["179.61"]
    # a hyphen only stands for the point in the last cell: "2-10 units" is not money
    assert joined(("2", 0.50), ("-10", 0.51), ("units", 0.60)) == ["2", "-10", "units"]


def test_line_items_codes_with_a_table_rule_glued_on(nlp) -> None:
    p = scan(
        [
            [(0.07, 0.33, "Date"), (0.18, 0.33, "Code"), (0.28, 0.33, "Description")],
            [(0.78, 0.33, "Qty"), (0.86, 0.33, "Amount")],
            [(0.08, 0.35, "02/16/2026 |80048 |Basic metabolic panel")],
            [(0.81, 0.35, "1"), (0.88, 0.35, "28.88")],
            [(0.08, 0.37, "02/16/2026 [J0696 Injection ceftriaxone")],
            [(0.81, 0.37, "1"), (0.88, 0.37, "14.05")],
        ]
    )
    r = extract_document("invoice", [p], nlp)
    assert [(i.code, i.amount) for i in r.line_items] == [("80048", 28.88), ("J0696", 14.05)]
    assert r.line_items[0].description == "Basic metabolic panel"


def test_icd_leading_one_for_i_only_where_printed_as_a_code(nlp) -> None:
    # "I10" read as "110": repaired after an ICD marker, in parentheses, in a column of codes
    p = scan(
        [
            [(0.10, 0.10, "Diagnoses")],
            [(0.10, 0.12, "Essential (primary) hypertension - ICD-10-CM 110")],
            [(0.10, 0.14, "Acute respiratory failure with hypoxia (J96.01)")],
        ]
    )
    assert [d.code for d in extract_document("medical_record", [p], nlp).diagnoses] == [
        "I10",
        "J96.01",
    ]
    p = scan([[(0.10, 0.10, "Diagnosis:")], [(0.10, 0.12, "Essential hypertension (110)")]])
    assert [d.code for d in extract_document("medical_record", [p], nlp).diagnoses] == ["I10"]
    p = scan(
        [
            [(0.09, 0.217, "ICD-10-CM"), (0.24, 0.217, "Diagnosis")],
            [(0.09, 0.237, "A41.9"), (0.24, 0.237, "Sepsis, unspecified organism")],
            [(0.09, 0.257, "110"), (0.24, 0.257, "Essential (primary) hypertension")],
        ]
    )
    assert [d.code for d in extract_document("diagnosis_certificate", [p], nlp).diagnoses] == [
        "A41.9",
        "I10",
    ]


def test_icd_house_numbers_and_phones_near_a_diagnosis_title_are_not_codes(nlp) -> None:
    p = scan(
        [
            [(0.50, 0.05, "Diagnosis Certificate")],
            [(0.10, 0.07, "5366 Moore Roads Apt. 830, East Thomas")],
            [(0.10, 0.09, "Tel.: (816) 643-8761")],
            [(0.10, 0.11, "Patient: Ann Lee")],
        ]
    )
    assert extract_document("diagnosis_certificate", [p], nlp).diagnoses == []


def test_icd_dollar_sign_read_for_s_but_money_stays_money(nlp) -> None:
    p = scan(
        [
            [(0.10, 0.10, "Diagnosis")],
            [(0.10, 0.12, "1. Fracture of upper end of right tibia - ICD-10-CM $82.101A")],
            [(0.10, 0.14, "Copay collected $82.10")],
        ]
    )
    assert [d.code for d in extract_document("medical_record", [p], nlp).diagnoses] == ["S82.101A"]


def test_icd_code_cut_at_a_space_is_joined_when_that_makes_it_billable(nlp) -> None:
    p = scan([[(0.10, 0.10, "1. Headache, unspecified - ICD-10-CM R51 9")]])
    p.lines.insert(0, Line.from_words(_words(0.10, 0.08, "Assessment", 0.010, 0.9)))
    r = extract_document("medical_record", [p], nlp)
    assert [d.code for d in r.diagnoses] == ["R51.9"]
    p = scan([[(0.10, 0.08, "Diagnosis")], [(0.10, 0.10, "Essential hypertension I10 1")]])
    assert [d.code for d in extract_document("medical_record", [p], nlp).diagnoses] == ["I10"]


def test_fields_claim_type_tick_with_a_speck_between_box_and_word(nlp) -> None:
    p = scan([[(0.50, 0.26, "☒ Uf Inpatient / Hospital"), (0.07, 0.26, "☐ Outpatient")]])
    assert extract_document("claim_form", [p], nlp).fields["claim_type"].value == "inpatient"


def test_fields_claim_type_the_one_box_not_read_as_empty(nlp) -> None:
    # the tick was read as a speck ("Af"); every other option's box was read as empty
    p = scan(
        [
            [(0.15, 0.26, "Af Inpatient / Hospital")],
            [(0.05, 0.27, "☐ Outpatient")],
            [(0.31, 0.26, "☐ Accident")],
            [(0.40, 0.256, "☐ Critical Illness")],
        ]
    )
    r = extract_document("claim_form", [p], nlp)
    assert r.fields["claim_type"].value == "inpatient"
    guessed = r.fields["claim_type"].confidence
    p = scan([[(0.15, 0.26, "☒ Inpatient / Hospital")], [(0.05, 0.27, "☐ Outpatient")]])
    assert extract_document("claim_form", [p], nlp).fields["claim_type"].confidence > guessed


def test_fields_claim_type_an_empty_box_read_as_co_is_not_the_tick(nlp) -> None:
    # Seed 9595 pkt-0001: no option ticked; the first box was read "CO", the others as
    # empty boxes, and "CO" was taken for the tick (critical illness at 0.875)
    p = scan(
        [
            [(0.07, 0.295, "CO Critical ttiness")],
            [(0.20, 0.297, "☐ Accident")],
            [(0.30, 0.298, "☐ Inpatient/ Hospital")],
            [(0.46, 0.300, "☐ Outpatient")],
        ]
    )
    assert extract_document("claim_form", [p], nlp).fields["claim_type"].value is None


def test_fields_claim_type_box_outlines_read_as_letters_are_empty(nlp) -> None:
    # "[J" and "Cl" are an empty box's strokes: nothing is ticked, nothing is guessed
    p = scan(
        [
            [(0.06, 0.28, "☐ Outpatient"), (0.41, 0.28, "☐ Accident")],
            [(0.53, 0.28, "[J Critical Illness")],
            [(0.20, 0.26, "Clinpatient / Hospital")],
        ]
    )
    assert extract_document("claim_form", [p], nlp).fields["claim_type"].value is None
    # and an option missing from the read (misspelt beyond recognition) stops the guess
    p = scan([[(0.15, 0.26, "Af Inpatient")], [(0.05, 0.27, "☐ Outpatient ☐ Accident")]])
    assert extract_document("claim_form", [p], nlp).fields["claim_type"].value is None


def test_icd_words_of_letters_are_not_repaired_into_codes(nlp) -> None:
    # "MILLS" would read as M11.15 with I, L, L, S taken for digits
    p = scan(
        [[(0.06, 0.07, "Diagnosis Certificate")], [(0.05, 0.13, "1633 Cindy Mills, Carrollhaven")]]
    )
    assert extract_document("diagnosis_certificate", [p], nlp).diagnoses == []


def test_fields_id_with_its_hyphen_part_read_apart(nlp) -> None:
    p = scan([[(0.10, 0.10, "Member ID: 802858 -67")]])
    assert extract_document("id_document", [p], nlp).fields["member_id"].value == "802858-67"


def test_fields_head_of_a_garbled_label_anchors_but_not_inside_a_name(nlp) -> None:
    p = scan(
        [
            [(0.06, 0.05, "Thomas Medical Group")],
            [(0.245, 0.239, "Mciraer ID")],
            [(0.373, 0.239, "KRZ187342291")],
        ]
    )
    assert extract_document("id_document", [p], nlp).fields["member_id"].value == "KRZ187342291"
    r = extract_document("invoice", [p], nlp)
    assert r.fields["provider_name"].value == "Thomas Medical Group"


def test_fields_name_word_with_a_speck_in_front(nlp) -> None:
    p = scan([[(0.07, 0.11, "Name of Insured")], [(0.07, 0.13, "Nicole -T. Meyer")]])
    r = extract_document("diagnosis_certificate", [p], nlp)
    assert r.fields["patient_name"].value == "Nicole T. Meyer"


def test_line_items_confidence_rests_on_code_date_and_amount(nlp) -> None:
    header = [(0.07, 0.30, "Date"), (0.18, 0.30, "Code"), (0.28, 0.30, "Description")]
    header += [(0.80, 0.30, "Units"), (0.87, 0.30, "Amount")]
    p = scan(
        [
            header,
            [(0.07, 0.32, "03/09/2025 99223 Initial hospital care"), (0.87, 0.32, "428.41")],
            [(0.07, 0.34, "03/09/2025 eee and board semi-private"), (0.87, 0.34, "1971.41")],
            [(0.07, 0.36, "03/09/2025 O1885 Injection ketorolac"), (0.87, 0.36, "39.20")],
        ]
    )
    smudged = p.lines[1].words[2].model_copy(update={"confidence": 0.3})
    p.lines[1] = Line.from_words([*p.lines[1].words[:2], smudged, *p.lines[1].words[3:]])
    # a smudged description word is not the item's doubt
    items = extract_document("invoice", [p], nlp).line_items
    assert [(i.code, i.code_system) for i in items] == [
        ("99223", "CPT"),
        (None, None),
        ("01885", "CPT"),  # there is no O section of HCPCS: a repaired read
    ]
    clean, no_code, repaired = (i.confidence for i in items)
    assert clean > repaired > no_code


def test_fields_label_starting_a_reader_line_rejoined_to_a_value_stays_a_label(nlp) -> None:
    # "Open Access" | "Grp 78460" are rejoined as one phrase; "Grp" still starts a label
    p = scan(
        [
            [(0.112, 0.218, "Plan Type")],
            [(0.239, 0.219, "Open Access")],
            [(0.323, 0.220, "Grp 78460")],
        ]
    )
    assert extract_document("id_document", [p], nlp).fields["group_number"].value == "78460"


def test_line_items_cents_without_their_whole_part_are_no_amount(nlp) -> None:
    p = scan(
        [
            [(0.07, 0.30, "Date"), (0.18, 0.30, "Code"), (0.28, 0.30, "Description")],
            [(0.80, 0.30, "Units"), (0.87, 0.30, "Amount")],
            [(0.07, 0.32, "11/05/2025 J0696 Injection ceftriaxone"), (0.90, 0.32, ".98")],
            [(0.07, 0.34, "11/05/2025 80048 Basic metabolic panel"), (0.87, 0.34, "26.09")],
        ]
    )
    items = extract_document("invoice", [p], nlp).line_items
    assert [(i.code, i.amount) for i in items] == [("80048", 26.09)]


def test_fields_ocr_marks_in_values_read_through(nlp) -> None:
    # a lower-case initial, a hyphen set apart, a rule's speck before an id, a speck in a date
    p = scan(
        [
            [(0.08, 0.150, "Patient Name")],
            [(0.08, 0.165, "Cynthia s. Brown")],
            [(0.50, 0.150, "Date of Birth")],
            [(0.50, 0.165, "February 1,.1948")],
            [(0.08, 0.200, "Policy No.")],
            [(0.08, 0.215, "POL - 6603894")],
            [(0.50, 0.200, "Member ID")],
            [(0.50, 0.215, "-G15498635")],
        ]
    )
    r = extract_document("claim_form", [p], nlp)
    assert r.fields["patient_name"].value == "Cynthia S. Brown"
    assert r.fields["patient_dob"].value == "1948-02-01"
    assert r.fields["policy_number"].value == "POL-6603894"
    assert r.fields["member_id"].value == "G15498635"


def test_fields_id_then_dash_then_words_keeps_the_id_alone(nlp) -> None:
    p = scan([[(0.08, 0.150, "Member ID: M1234567 - Plan B")]])
    r = extract_document("claim_form", [p], nlp)
    assert r.fields["member_id"].value == "M1234567"


def test_fields_card_without_readable_labels_gives_name_and_member_id(nlp) -> None:
    # a copied card whose faint labels were lost: insurer, name, member id, policy, plan
    p = scan(
        [
            [(0.15, 0.190, "Harborview Assurance")],
            [(0.28, 0.220, "WENDY G. DANIELS")],
            [(0.28, 0.235, "382295-68")],
            [(0.28, 0.250, "POL-5971130")],
            [(0.28, 0.265, "Silver HMO")],
            [(0.28, 0.280, "Grp 79648")],
            [(0.26, 0.300, "Member services: 1-800-205-8745")],
        ]
    )
    r = extract_document("id_document", [p], nlp)
    assert r.fields["patient_name"].value == "WENDY G. DANIELS"
    assert r.fields["member_id"].value == "382295-68"
    assert r.evidence["fields.member_id"].method == "pattern"
    assert r.fields["policy_number"].value is None  # which id is the policy, only a label says


def test_fields_card_fallback_leaves_labelled_values_and_other_documents_alone(nlp) -> None:
    lines = [
        [(0.15, 0.190, "Northwind Mutual Insurance")],
        [(0.15, 0.220, "Member Name")],
        [(0.28, 0.220, "Scott Adkins")],
        [(0.15, 0.235, "Member ID")],
        [(0.28, 0.235, "006559-23")],
        [(0.28, 0.250, "POL-1234567")],
    ]
    card = extract_document("id_document", [scan(lines)], nlp)
    assert card.fields["member_id"].value == "006559-23"
    assert card.evidence["fields.member_id"].method == "label_beside"
    form = extract_document("claim_form", [scan(lines[:1] + lines[2:3] + lines[5:])], nlp)
    assert form.fields["patient_name"].value is None
    assert form.fields["member_id"].value is None


def test_icd_misread_digit_corrected_by_the_printed_description(nlp) -> None:
    # E11.9 read as E13.9: both are valid, the description beside it names E11.9 only
    p = scan(
        [
            [(0.10, 0.10, "Diagnoses")],
            [(0.10, 0.12, "E13.9 Type 2 diabetes mellitus without complications")],
            [(0.10, 0.14, "Other specified diabetes mellitus without complications (E13.9)")],
            [(0.10, 0.16, "E13.9 Follow-up in two weeks")],
        ]
    )
    codes = [d.code for d in extract_document("medical_record", [p], nlp).diagnoses]
    # the line whose description fits E13.9 keeps it; one without a description keeps it too
    assert codes == ["E11.9", "E13.9"]


def test_icd_comma_for_point_and_parenthesis_read_as_letter(nlp) -> None:
    p = scan(
        [
            [(0.10, 0.10, "Diagnosis")],
            [(0.10, 0.12, "W10,9XXA Fall (on) (from) unspecified stairs and steps")],
            [(0.10, 0.14, "Sprain of unspecified ligament of right ankle (S93.401Aj)")],
            [(0.10, 0.16, "Unspecified asthma, uncomplicated 345.909")],
        ]
    )
    codes = [d.code for d in extract_document("medical_record", [p], nlp).diagnoses]
    assert codes == ["W10.9XXA", "S93.401A", "J45.909"]


def test_line_items_code_with_g_read_for_six(nlp) -> None:
    p = scan(
        [
            [(0.07, 0.33, "Date"), (0.18, 0.33, "Code"), (0.28, 0.33, "Description")],
            [(0.78, 0.33, "Qty"), (0.86, 0.33, "Amount")],
            [(0.08, 0.35, "09/17/2025 JOG96 Injection ceftriaxone")],
            [(0.81, 0.35, "2"), (0.88, 0.35, "28.64")],
        ]
    )
    r = extract_document("invoice", [p], nlp)
    assert [(i.code, i.amount) for i in r.line_items] == [("J0696", 28.64)]


def test_icd_code_with_a_misread_letter_or_an_extra_character_fits_its_description(nlp) -> None:
    p = scan(
        [
            [(0.10, 0.10, "Diagnoses")],
            [(0.10, 0.12, "F11.9 Type 2 diabetes mellitus without complications")],
            [(0.10, 0.14, "1210 Essential (primary) hypertension")],
        ]
    )
    codes = [d.code for d in extract_document("medical_record", [p], nlp).diagnoses]
    assert codes == ["E11.9", "I10"]


def test_fields_an_id_in_prose_after_another_word_is_not_the_member_id(nlp) -> None:
    # the back of a card: "payer ID" is the insurer's, not the member's; the front's member
    # label was unreadable
    p = scan(
        [
            [(0.26, 0.13, "STEVEN STARK")],
            [(0.26, 0.40, "Providers: submit claims electronically, payer ID 60054")],
        ]
    )
    r = extract_document("id_document", [p], nlp)
    assert r.fields["member_id"].value != "60054"


def test_fields_an_id_does_not_take_a_word_of_the_line_below(nlp) -> None:
    # a skewed card: the date under the member number reaches into its row
    words = [
        Word(text="Member", confidence=0.9, bbox=(0.23, 0.140, 0.27, 0.150)),
        Word(text="Number", confidence=0.9, bbox=(0.275, 0.140, 0.32, 0.150)),
        Word(text="RRA131087990", confidence=0.9, bbox=(0.36, 0.140, 0.46, 0.150)),
        Word(text="1977", confidence=0.9, bbox=(0.465, 0.146, 0.50, 0.156)),
    ]
    p = Page(
        file="s.png",
        page=1,
        width=2550,
        height=3300,
        reader="ocr",
        lines=[Line.from_words(words[:3]), Line.from_words(words[3:])],
    )
    r = extract_document("id_document", [p], nlp)
    assert r.fields["member_id"].value == "RRA131087990"


def test_fields_claim_type_the_one_ink_heavy_box(nlp) -> None:
    # the tick read as "MW", the empty boxes as thin outlines ("ia", "im"): no known mark
    p = scan(
        [[(0.05, 0.26, "MW Outpatient ia Inpatient / Hospital im Accident ia Critical Illness")]]
    )
    assert extract_document("claim_form", [p], nlp).fields["claim_type"].value == "outpatient"
    # two ink-heavy boxes, or only one other box read: no guess
    p = scan([[(0.05, 0.26, "MW Outpatient Wi Inpatient / Hospital ia Accident")]])
    assert extract_document("claim_form", [p], nlp).fields["claim_type"].value is None
    p = scan([[(0.05, 0.26, "MW Outpatient ia Inpatient / Hospital")]])
    assert extract_document("claim_form", [p], nlp).fields["claim_type"].value is None


def _card(words: list[Word]) -> Page:
    return Page(
        file="s.png", page=1, width=2550, height=3300, reader="ocr", lines=[Line.from_words(words)]
    )


def test_fields_an_underline_read_as_zeros_is_no_part_of_an_id(nlp) -> None:
    # a form's fill-in rule under the value, read as a flat, wide "0"
    p = _card(
        [
            Word(text="Policy", confidence=0.9, bbox=(0.10, 0.207, 0.15, 0.223)),
            Word(text="No.", confidence=0.9, bbox=(0.155, 0.207, 0.18, 0.223)),
            Word(text="GRP125890", confidence=0.9, bbox=(0.20, 0.207, 0.31, 0.223)),
            Word(text="0", confidence=0.2, bbox=(0.315, 0.220, 0.44, 0.223)),
        ]
    )
    assert extract_document("claim_form", [p], nlp).fields["policy_number"].value == "GRP125890"


def test_fields_an_id_cut_at_its_hyphen_stays_whole(nlp) -> None:
    words = [
        Word(text="Policy", confidence=0.9, bbox=(0.10, 0.250, 0.15, 0.258)),
        Word(text="No.", confidence=0.9, bbox=(0.155, 0.250, 0.18, 0.258)),
        Word(text="64802", confidence=0.9, bbox=(0.20, 0.250, 0.26, 0.258)),
        Word(text="-", confidence=0.9, bbox=(0.2605, 0.253, 0.2635, 0.255)),
        Word(text="DWX", confidence=0.9, bbox=(0.264, 0.250, 0.30, 0.258)),
    ]
    assert (
        extract_document("id_document", [_card(words)], nlp).fields["policy_number"].value
        == "64802-DWX"
    )
    # spaced apart, a dash between an id and a word still ends the id
    spaced = words[:3] + [
        Word(text="-", confidence=0.9, bbox=(0.27, 0.253, 0.275, 0.255)),
        Word(text="HMO", confidence=0.9, bbox=(0.285, 0.250, 0.32, 0.258)),
    ]
    assert (
        extract_document("id_document", [_card(spaced)], nlp).fields["policy_number"].value
        == "64802"
    )


# A card photographed tilted about 6 degrees, as OCR read it (boxes on the stored photo,
# 1720x1345): its value column climbs to the right, each value half a row above its label,
# and only two lines are long enough to measure the tilt from.
_TILTED_CARD = [
    [
        ("Cascade", (0.251, 0.283, 0.345, 0.337)),
        ("Life", (0.355, 0.279, 0.41, 0.326)),
        ("Health", (0.47, 0.267, 0.575, 0.31)),
    ],
    [("Member", (0.256, 0.367, 0.31, 0.394)), ("Name", (0.318, 0.365, 0.362, 0.39))],
    [
        ("Kimberly", (0.442, 0.335, 0.53, 0.374)),
        ("C.", (0.54, 0.331, 0.56, 0.36)),
        ("English", (0.575, 0.319, 0.666, 0.358)),
    ],
    [("Member", (0.259, 0.419, 0.315, 0.441)), ("ID", (0.329, 0.415, 0.346, 0.431))],
    [("FTM754725113", (0.447, 0.378, 0.588, 0.417))],
    [("Policy", (0.263, 0.466, 0.31, 0.494)), ("No.", (0.32, 0.463, 0.357, 0.489))],
    [("POL-9911239", (0.451, 0.427, 0.581, 0.465))],
    [
        ("Date", (0.266, 0.512, 0.3, 0.539)),
        ("of", (0.306, 0.51, 0.325, 0.535)),
        ("Birth", (0.335, 0.507, 0.393, 0.533)),
    ],
    [("1969-06-22", (0.456, 0.477, 0.575, 0.513))],
]


def _tilted_card(skew: float) -> Page:
    lines = [
        Line.from_words([Word(text=t, confidence=0.9, bbox=box) for t, box in words])
        for words in _TILTED_CARD
    ]
    return Page(
        file="card.jpg", page=1, width=1720, height=1345, reader="ocr", skew=skew, lines=lines
    )


def test_fields_of_a_tilted_card_are_levelled_by_the_readers_skew(nlp) -> None:
    fields = extract_document("id_document", [_tilted_card(-6.2)], nlp).fields
    assert fields["member_id"].value == "FTM754725113"
    assert fields["policy_number"].value == "POL-9911239"
    assert fields["patient_dob"].value == "1969-06-22"
    # Without the skew (too few long lines to measure it from) the values slip a row.
    unlevelled = extract_document("id_document", [_tilted_card(0.0)], nlp).fields
    assert unlevelled["member_id"].value != "FTM754725113"


def _turned(page: Page, degrees: float) -> Page:
    """The page as a scanner skewed by `degrees` stores it: every box turned about the page's
    centre, in pixels (a page is taller than wide, so fractions alone would shear it)."""
    import math

    t = math.tan(math.radians(degrees))
    w, h = page.width, page.height

    def turn(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        cx, cy = (box[0] + box[2]) / 2 * w - w / 2, (box[1] + box[3]) / 2 * h - h / 2
        dx, dy = (cx - t * cy) - cx, (cy + t * cx) - cy
        return (box[0] + dx / w, box[1] + dy / h, box[2] + dx / w, box[3] + dy / h)

    lines = [
        Line.from_words([word.model_copy(update={"bbox": turn(word.bbox)}) for word in line.words])
        for line in page.lines
    ]
    return page.model_copy(update={"lines": lines})


def test_line_items_of_a_skewed_long_table_keep_their_columns(nlp) -> None:
    # 30 rows under one header on a page skewed 2.5 degrees: by the last row the columns have
    # moved 4 % of the width sideways from their headers, more than the gap between the
    # quantity column and the description's end
    header = [(0.07, 0.20, "Date"), (0.18, 0.20, "Code"), (0.28, 0.20, "Description")]
    header += [(0.70, 0.20, "Qty"), (0.80, 0.20, "Amount")]
    rows: list[list[Placed]] = [header]
    for i in range(30):
        y = 0.22 + i * 0.02
        date = f"03/{i % 28 + 1:02d}/2025"
        rows.append([(0.07, y, date), (0.18, y, "99223"), (0.28, y, "Initial hospital care")])
        rows.append([(0.71, y, str(i % 4 + 1)), (0.80, y, f"{100 + i}.25")])
    items = extract_document("invoice", [_turned(scan(rows), 2.5)], nlp).line_items
    assert len(items) == 30
    assert [i.quantity for i in items] == [float(i % 4 + 1) for i in range(30)]
    assert {i.description for i in items} == {"Initial hospital care"}


def test_line_items_quantity_with_a_column_rule_glued_on(nlp) -> None:
    p = scan(
        [
            [(0.07, 0.33, "Date"), (0.18, 0.33, "Code"), (0.28, 0.33, "Description")],
            [(0.78, 0.33, "Qty"), (0.86, 0.33, "Amount")],
            [(0.07, 0.35, "02/16/2026"), (0.18, 0.35, "80048"), (0.28, 0.35, "Basic panel")],
            [(0.79, 0.35, "1}"), (0.86, 0.35, "28.88")],
            [(0.07, 0.37, "02/16/2026"), (0.18, 0.37, "J0696"), (0.28, 0.37, "Injection")],
            [(0.79, 0.37, "|2|"), (0.86, 0.37, "28.10")],
            [(0.07, 0.39, "02/16/2026"), (0.18, 0.39, "J1885"), (0.28, 0.39, "Injection")],
            [(0.79, 0.39, "]"), (0.86, 0.39, "7.05")],
        ]
    )
    items = extract_document("invoice", [p], nlp).line_items
    # a rule alone is no quantity: "]" may have been a 1, or nothing
    assert [i.quantity for i in items] == [1.0, 2.0, None]


def test_line_items_header_word_misread_by_one_letter(nlp) -> None:
    # "Qty" read as "Oty": without the column the quantity joins the description
    p = scan(
        [
            [(0.07, 0.33, "DOS"), (0.18, 0.33, "CPT/HCPCS"), (0.28, 0.33, "Service")],
            [(0.78, 0.33, "Oty"), (0.86, 0.33, "Charges")],
            [(0.07, 0.35, "09/06/2025"), (0.18, 0.35, "99212"), (0.28, 0.35, "Office visit")],
            [(0.80, 0.35, "1"), (0.84, 0.35, "USD"), (0.88, 0.35, "79.21")],
        ]
    )
    (item,) = extract_document("invoice", [p], nlp).line_items
    assert (item.quantity, item.description, item.amount) == (1.0, "Office visit", 79.21)


def test_line_items_misread_header_words_need_one_kind_and_a_wordy_row() -> None:
    from pipeline.extract.line_items import find_header
    from pipeline.extract.vocab import load_vocab

    vocab = load_vocab("en")

    def row(*words: str) -> list[Tok]:
        return [
            tok(w, 0.1 + 0.15 * i, 0.3, 0.1 + 0.15 * i + 0.1, 0.31) for i, w in enumerate(words)
        ]

    kinds = find_header(row("Dale", "Code", "Descriptlon", "Amounl"), vocab)
    assert kinds is not None and [c.kind for c in kinds] == [
        "service_date",
        "code",
        "description",
        "amount",
    ]
    # a row holding digits is a row of the table, whatever its words look like
    assert find_header(row("Dale", "Code", "Descriptlon", "Amounl", "12"), vocab) is None


def test_line_items_header_rule_read_as_a_word_starts_no_column(nlp) -> None:
    # "— . Units": the rule left of the header word used to start the quantity column there,
    # cutting the descriptions that reach under it
    p = scan(
        [
            [(0.06, 0.27, "Service Date"), (0.28, 0.27, "Description of Service")],
            [(0.50, 0.27, "—"), (0.55, 0.27, "."), (0.62, 0.27, "Units")],
            [(0.76, 0.27, "Rate"), (0.86, 0.27, "Charges")],
            [(0.07, 0.30, "09/07/2026"), (0.20, 0.30, "99223")],
            [(0.28, 0.30, "Initial hospital care high MDM"), (0.66, 0.30, "1")],
            [(0.74, 0.30, "436.79"), (0.87, 0.30, "436.79")],
        ]
    )
    (item,) = extract_document("invoice", [p], nlp).line_items
    assert (item.description, item.quantity) == ("Initial hospital care high MDM", 1.0)


def test_line_items_description_running_past_its_header(nlp) -> None:
    # the "Quantity" header sits left of where the quantities are printed: the description's
    # words under it are still the description, and a column gap or a number ends it
    p = scan(
        [
            [(0.07, 0.28, "Date"), (0.19, 0.28, "Code"), (0.29, 0.28, "Description")],
            [(0.42, 0.28, "Quantity"), (0.86, 0.28, "Charges")],
            [(0.07, 0.31, "07/08/2025"), (0.19, 0.31, "A0427")],
            [(0.29, 0.31, "Ambulance service advanced life support"), (0.62, 0.31, "1")],
            [(0.75, 0.31, "USD"), (0.87, 0.31, "1,779.03")],
            [(0.07, 0.33, "07/08/2025"), (0.19, 0.33, "A0425")],
            [(0.29, 0.33, "Ground mileage"), (0.56, 0.33, "Dr Patel"), (0.87, 0.33, "70.89")],
        ]
    )
    items = extract_document("invoice", [p], nlp).line_items
    assert [(i.description, i.quantity) for i in items] == [
        ("Ambulance service advanced life support", 1.0),
        ("Ground mileage", None),
    ]


def test_line_items_description_without_the_marks_a_scan_adds(nlp) -> None:
    rows: list[list[Placed]] = [
        [(0.07, 0.20, "Date"), (0.18, 0.20, "Code"), (0.28, 0.20, "Description")],
        [(0.80, 0.20, "Amount")],
    ]
    read = [
        "— Injection ketorolac",  # a rule at the cell's left edge
        "Basic metabolic panel -",
        "Radiology diagnostic general.",  # a speck after the last word
        "Subsequent hospital care . low",  # a speck between words
        "Pharmacy IV solutions ———_—",  # shading
        "‘Injection ceftriaxone",
        "Chemotherapy administration IV.",
        "Office visit est.",  # an abbreviation keeps its stop
        "Room & board - semi-private (2 bed)",
    ]
    for i, text in enumerate(read):
        y = 0.22 + i * 0.02
        rows.append([(0.07, y, "03/02/2026"), (0.18, y, "99213"), (0.28, y, text)])
        rows.append([(0.80, y, f"{100 + i}.00")])
    items = extract_document("invoice", [scan(rows)], nlp).line_items
    assert [i.description for i in items] == [
        "Injection ketorolac",
        "Basic metabolic panel",
        "Radiology diagnostic general",
        "Subsequent hospital care low",
        "Pharmacy IV solutions",
        "Injection ceftriaxone",
        "Chemotherapy administration IV",
        "Office visit est.",
        "Room & board - semi-private (2 bed)",
    ]


def test_line_items_statement_with_payment_columns_takes_the_charge(nlp) -> None:
    # a statement that shows what was paid, adjusted and is still owed right of the charge:
    # the line's amount is the charge, not the figure in the last column
    p = scan(
        [
            [(0.05, 0.30, "Date"), (0.15, 0.30, "Code"), (0.25, 0.30, "Description")],
            [(0.50, 0.30, "Qty"), (0.57, 0.30, "Charges"), (0.67, 0.30, "Ins Paid")],
            [(0.77, 0.30, "Adjustment"), (0.89, 0.30, "Balance")],
            [(0.05, 0.32, "03/02/2026"), (0.15, 0.32, "99213"), (0.25, 0.32, "Office visit")],
            [(0.51, 0.32, "1"), (0.57, 0.32, "125.00"), (0.67, 0.32, "80.00")],
            [(0.77, 0.32, "20.00"), (0.89, 0.32, "25.00")],
            [(0.05, 0.34, "03/02/2026"), (0.15, 0.34, "85025"), (0.25, 0.34, "Blood count")],
            [(0.51, 0.34, "1"), (0.57, 0.34, "28.50"), (0.67, 0.34, "20.00")],
            [(0.77, 0.34, "0.00"), (0.89, 0.34, "8.50")],
            [(0.05, 0.37, "Total Charges"), (0.57, 0.37, "153.50")],
        ]
    )
    items = extract_document("invoice", [p], nlp).line_items
    assert [(i.code, i.quantity, i.amount) for i in items] == [
        ("99213", 1.0, 125.0),
        ("85025", 1.0, 28.5),
    ]


def test_line_items_payments_among_the_charges_are_not_items(nlp) -> None:
    p = scan(
        [
            [(0.05, 0.30, "Date"), (0.15, 0.30, "Code"), (0.25, 0.30, "Description")],
            [(0.80, 0.30, "Amount")],
            [(0.05, 0.32, "03/02/2026"), (0.15, 0.32, "99213"), (0.25, 0.32, "Office visit")],
            [(0.80, 0.32, "$125.00")],
            [(0.05, 0.34, "03/10/2026"), (0.25, 0.34, "Insurance payment - Aetna")],
            [(0.80, 0.34, "($80.00)")],
            [(0.05, 0.36, "03/11/2026"), (0.25, 0.36, "Contractual adjustment")],
            [(0.80, 0.36, "20.00")],
            [(0.25, 0.37, "Balance forward from page 1"), (0.80, 0.37, "506.00")],
            [(0.05, 0.38, "03/12/2026"), (0.25, 0.38, "Returned item fee")],  # no such word
            [(0.80, 0.38, "15.00")],
            [(0.05, 0.40, "03/12/2026"), (0.15, 0.40, "85025"), (0.25, 0.40, "Blood count")],
            [(0.80, 0.40, "$28.50")],
            [(0.05, 0.43, "Balance Due"), (0.80, 0.43, "$68.50")],
        ]
    )
    items = extract_document("invoice", [p], nlp).line_items
    assert [(i.description, i.amount) for i in items] == [
        ("Office visit", 125.0),
        ("Returned item fee", 15.0),
        ("Blood count", 28.5),
    ]


def test_line_items_code_shapes() -> None:
    from pipeline.extract.line_items import _read_code

    assert _read_code("99213-25") == ("99213", "CPT")
    assert _read_code("99213LT") == ("99213", "CPT")
    assert _read_code("6102458") is None  # an Rx number, not a CPT code with a modifier
    assert _read_code("00093-5057-98") == ("00093-5057-98", "NDC")
    assert _read_code("0093-5057-98") == ("0093-5057-98", "NDC")
    assert _read_code("00093505798") is None  # without hyphens a drug code is any number
    assert _read_code("J1885") == ("J1885", "HCPCS") and _read_code("0450") == ("0450", "REV")


def test_line_items_pharmacy_receipt(nlp) -> None:
    # Rx number, drug, NDC, quantity, days' supply, prescriber, then the price and what the
    # plan and the patient paid: the price is the line's amount
    header = [(0.07, 0.19, "Fill Date"), (0.14, 0.19, "Rx #"), (0.21, 0.19, "Drug Name")]
    header += [(0.41, 0.19, "NDC"), (0.51, 0.19, "Qty"), (0.54, 0.19, "Days")]
    header += [(0.58, 0.19, "Prescriber"), (0.72, 0.19, "Price"), (0.78, 0.19, "Plan Paid")]
    header += [(0.88, 0.19, "You Paid")]
    row = [(0.07, 0.21, "09/02/2025"), (0.14, 0.21, "6102458")]
    row += [(0.21, 0.21, "ATORVASTATIN 40 MG TAB"), (0.41, 0.21, "00093-5057-98")]
    row += [(0.51, 0.21, "30"), (0.56, 0.21, "30"), (0.58, 0.21, "CHEN, L")]
    row += [(0.71, 0.21, "18.49"), (0.80, 0.21, "12.49"), (0.91, 0.21, "6.00")]
    (item,) = extract_document("invoice", [scan([header, row])], nlp).line_items
    assert (item.code, item.code_system, item.description) == (
        "00093-5057-98",
        "NDC",
        "ATORVASTATIN 40 MG TAB",
    )
    assert (item.quantity, item.amount, item.service_date) == (30.0, 18.49, "2025-09-02")


def test_line_items_revenue_code_beside_a_procedure_code(nlp) -> None:
    # a hospital's UB-04-style lines: revenue code, description, HCPCS, date, units, charge;
    # the procedure code is the line's code and no word of its description. Right of the
    # row's first figure, a five-digit number is an amount that lost its point, not a code.
    rows = [
        [(0.07, 0.23, "0450"), (0.15, 0.23, "EMERGENCY ROOM"), (0.39, 0.23, "99284")],
        [(0.54, 0.23, "08/15/25"), (0.74, 0.23, "1"), (0.86, 0.23, "1,980.00")],
        [(0.07, 0.25, "0250"), (0.15, 0.25, "PHARMACY"), (0.54, 0.25, "08/15/25")],
        [(0.74, 0.25, "3"), (0.80, 0.25, "67.50"), (0.89, 0.25, "20250")],
    ]
    items = extract_document("invoice", [scan(rows)], nlp).line_items
    assert [(i.code, i.code_system, i.description) for i in items] == [
        ("99284", "CPT", "EMERGENCY ROOM"),
        ("0250", "REV", "PHARMACY"),
    ]


def test_fields_invoice_total_is_what_was_billed_not_the_balance(nlp) -> None:
    p = scan(
        [
            [(0.07, 0.10, "ITEMIZED STATEMENT")],
            [(0.55, 0.60, "Total Charges"), (0.80, 0.60, "$10,616.50")],
            [(0.55, 0.62, "Insurance Payments"), (0.80, 0.62, "(8,250.00)")],
            [(0.55, 0.64, "Balance Due"), (0.80, 0.64, "$2,366.50")],
        ]
    )
    assert extract_document("invoice", [p], nlp).fields["total"].value == 10616.5


def test_fields_dot_leaders_a_scan_reads_as_junk(nlp) -> None:
    # "Name of Patient ........ Darnell J. Whitfield": on a scan the dots read as a word
    p = scan(
        [
            [(0.11, 0.24, "Name of Patient"), (0.21, 0.24, ".................000065")],
            [(0.32, 0.24, "Darnell J. Whitfield")],
            [(0.54, 0.24, "Policy No."), (0.61, 0.24, "1.0.0..."), (0.72, 0.24, "PPO-55120-07")],
            [(0.11, 0.26, "Birth Date"), (0.18, 0.26, "..............0.cccecceeeeeeee")],
            [(0.32, 0.26, "11/02/1981"), (0.54, 0.26, "Member Number")],
            [(0.65, 0.26, "...........W8821047733")],
        ]
    )
    fields = extract_document("claim_form", [p], nlp).fields
    assert fields["patient_name"].value == "Darnell J. Whitfield"
    assert fields["policy_number"].value == "PPO-55120-07"
    assert fields["patient_dob"].value == "1981-11-02"
    assert fields["member_id"].value == "W8821047733"


def test_layout_leader_words() -> None:
    from pipeline.extract.layout import _without_leader

    assert _without_leader(".................000065") == ""
    assert _without_leader("1.0.0...") == ""
    assert _without_leader("...........W8821047733") == "W8821047733"
    assert _without_leader("$1,234.56...") == "$1,234.56"
    assert _without_leader("J.") == "J." and _without_leader("U.S.A.") == "U.S.A."


def test_fields_claim_type_box_a_few_words_before_its_option(nlp) -> None:
    def claim_type(*phrases: Placed) -> str | None:
        page = scan([[(0.07, 0.10, "CLAIM FORM")], list(phrases)])
        return extract_document("claim_form", [page], nlp).fields["claim_type"].value

    # "☒ Doctor's office / outpatient care": the box starts the option's phrase
    assert (
        claim_type(
            (0.10, 0.14, "This claim is for:"),
            (0.28, 0.14, "☒ Doctor's office / outpatient care"),
            (0.53, 0.14, "☐ Hospital stay ☐ Accident ☐ Critical illness"),
        )
        == "outpatient"
    )
    assert (
        claim_type(
            (0.09, 0.14, "☐ Outpatient / Physician"),
            (0.28, 0.14, "_[X] Inpatient Hospital ☐ Accident ☐ Critical Illness"),
        )
        == "inpatient"
    )
    # a text layer that prints each box glued to its option
    assert (
        claim_type(
            (0.07, 0.14, "☐Outpatient treatment ☐Inpatient / hospital confinement"),
            (0.55, 0.14, "☒Accidental injury ☐Critical illness benefit"),
        )
        == "accident"
    )
    # a box OCR glued onto the option's own word is that option's box, not the one before
    assert (
        claim_type(
            (0.07, 0.14, "☐ Outpatient ☐ Inpatient / Hospital"),
            (0.45, 0.14, "☒ MAccident (]critical Illness"),
        )
        == "accident"
    )


def test_fields_sex_boxes_under_the_label(nlp) -> None:
    p = scan(
        [
            [(0.07, 0.226, "Date of Birth (MM/DD/YYYY)"), (0.37, 0.226, "Sex")],
            [(0.59, 0.226, "Telephone")],
            [(0.07, 0.240, "07/14/1958"), (0.38, 0.240, "☐ M ☒ F"), (0.60, 0.240, "(717)")],
        ]
    )
    assert extract_document("claim_form", [p], nlp).fields["patient_sex"].value == "F"


def test_fields_admission_and_discharge_dates_in_prose(nlp) -> None:
    lines = [
        "Mr. Hughes is a 75-year-old man with severe COPD who was admitted to Mercy Lakes",
        "Hospital on January 12, 2025 after three days of worsening dyspnea.",
        "He improved steadily and was discharged home on January 18, 2025 with home health.",
        "Pulmonology clinic with Dr. Anand on January 27, 2025.",
    ]
    p = scan([[(0.07, 0.15 + 0.02 * i, text)] for i, text in enumerate(lines)])
    fields = extract_document("medical_record", [p], nlp).fields
    assert fields["admission_date"].value == "2025-01-12"
    assert fields["discharge_date"].value == "2025-01-18"
    # no label vouches for them: less sure than a labelled date
    assert fields["admission_date"].confidence < 0.95


def test_fields_emergency_arrival_is_the_visit_date(nlp) -> None:
    p = scan(
        [
            [(0.07, 0.10, "Patient: Tyler J Brennan"), (0.49, 0.10, "Arrival Date/Time:")],
            [(0.65, 0.10, "08/15/2025 18:20")],
            [(0.07, 0.11, "DOB: 12/02/1996"), (0.49, 0.11, "Mode of arrival: Ambulance")],
        ]
    )
    assert extract_document("medical_record", [p], nlp).fields["visit_date"].value == "2025-08-15"


def _dx(rows: list[list[Placed]], nlp) -> list[str]:
    return [d.code for d in extract_document("medical_record", [scan(rows)], nlp).diagnoses]


def test_diagnoses_a_table_of_codes_is_one_block_however_long(nlp) -> None:
    # undotted "I10" counts only inside a diagnosis block; the block is the whole table
    rows: list[list[Placed]] = [[(0.10, 0.30, "IMPRESSION")], [(0.10, 0.33, "ICD-10 Description")]]
    table = [("R07.89", "Other chest pain"), ("I48.0", "Paroxysmal atrial fibrillation")]
    table += [("E78.5", "Hyperlipidemia, unspecified"), ("I10", "Essential hypertension")]
    for i, (code, text) in enumerate(table):
        rows += [[(0.10, 0.35 + 0.02 * i, code)], [(0.23, 0.35 + 0.02 * i, text)]]
    rows += [[(0.10, 0.50, "PLAN: follow up in two weeks; BP 110 over 70.")]]
    assert _dx(rows, nlp) == ["R07.89", "I48.0", "E78.5", "I10"]


def test_diagnoses_unticked_options_of_a_checklist_are_not_diagnoses(nlp) -> None:
    rows: list[list[Placed]] = [
        [(0.07, 0.36, "DIAGNOSIS (ICD-10)")],
        [(0.07, 0.38, "☒ J02.0 Streptococcal pharyngitis"), (0.51, 0.38, "☐ J02.9 Acute")],
        [(0.07, 0.39, "☐ J06.9 Acute URI"), (0.51, 0.39, "☒ Z23 Encounter for immunization")],
        [(0.07, 0.41, "☐ I10 Essential hypertension"), (0.51, 0.41, "☐ E11.9 Type 2 DM")],
    ]
    assert _dx(rows, nlp) == ["J02.0", "Z23"]


def test_fields_labels_after_a_number_or_opening_an_aside(nlp) -> None:
    bill = scan(
        [
            [(0.07, 0.06, "St. Brendan Regional Medical Center")],
            [(0.07, 0.085, "NPI 1648293714 Federal Tax ID 23-1352290")],
        ]
    )
    assert extract_document("invoice", [bill], nlp).fields["tax_id"].value == "23-1352290"
    letter = scan(
        [
            [(0.12, 0.165, "April 22, 2025")],
            [(0.12, 0.215, "Re: Jonathan P. Meyer (DOB 10/30/1955)")],
            [(0.12, 0.258, "To whom it may concern:")],
        ]
    )
    fields = extract_document("diagnosis_certificate", [letter], nlp).fields
    assert fields["patient_name"].value == "Jonathan P. Meyer"
    assert fields["patient_dob"].value == "1955-10-30"


def test_fields_the_physician_who_signs_a_letter(nlp) -> None:
    letter = scan(
        [
            [(0.12, 0.06, "Riverside Cardiology Group")],
            [(0.12, 0.086, "Elena Vasquez, MD, FACC"), (0.32, 0.086, "Samuel Park, MD")],
            [(0.12, 0.26, "To whom it may concern:")],
            [(0.12, 0.29, "Mr. Meyer has been my patient since 2019.")],
            [(0.12, 0.49, "Yours sincerely,")],
            [(0.12, 0.558, "Elena Vasquez, MD, FACC")],
            [(0.12, 0.578, "Interventional Cardiology")],
        ]
    )
    fields = extract_document("diagnosis_certificate", [letter], nlp).fields
    assert fields["physician_name"].value == "Elena Vasquez, MD, FACC"
    assert fields["physician_name"].source is not None
    assert fields["physician_name"].source.bbox[1] > 0.5  # the signature, not the letterhead


def test_fields_another_cells_label_is_no_name(nlp) -> None:
    # a police report's row of cells: the name is under its label; the next cell's label
    # beside it, in capitals, reads like a name but is none
    p = scan(
        [
            [(0.07, 0.05, "TRAFFIC COLLISION REPORT")],
            [(0.06, 0.193, "NAME (LAST, FIRST, MIDDLE)")],
            [(0.46, 0.193, "DATE OF BIRTH")],
            [(0.64, 0.193, "SEX")],
            [(0.72, 0.193, "DRIVER LICENSE NO.")],
            [(0.07, 0.205, "BRENNAN, TYLER JAMES")],
            [(0.46, 0.205, "12/02/1996")],
            [(0.64, 0.205, "M")],
            [(0.73, 0.205, "8MKT441")],
        ]
    )
    name = extract_document("accident_report", [p], nlp).fields["patient_name"].value
    assert name == "TYLER JAMES BRENNAN"


def test_fields_labels_that_run_on_are_no_names(nlp) -> None:
    # "PHYSICIAN NAME AND DEGREE" over the name; "PATIENT ABLE TO RETURN TO WORK ON" is a
    # question, not the patient's name; "NAME OF PHYSICIAN / FACILITY" is no patient name
    cert = scan(
        [
            [(0.07, 0.10, "ATTENDING PHYSICIAN STATEMENT")],
            [(0.07, 0.20, "PATIENT NAME")],
            [(0.07, 0.215, "Walter B. Hughes")],
            [(0.07, 0.30, "PATIENT ABLE TO RETURN TO WORK ON")],
            [(0.07, 0.315, "02/03/2025")],
            [(0.07, 0.41, "PHYSICIAN NAME AND DEGREE")],
            [(0.50, 0.41, "SPECIALTY")],
            [(0.07, 0.424, "Priya Natarajan, MD")],
            [(0.51, 0.424, "Internal Medicine")],
        ]
    )
    fields = extract_document("diagnosis_certificate", [cert], nlp).fields
    assert fields["patient_name"].value == "Walter B. Hughes"
    assert fields["physician_name"].value == "Priya Natarajan, MD"


def test_line_items_count_misread_where_price_and_amount_agree(nlp) -> None:
    # A fax reads the count "1" as "4" or "7"; the price and the amount, both read, make the
    # count whole. A count they do not make whole (miles) stays as read.
    p = scan(
        [
            [(0.07, 0.17, "Service date"), (0.19, 0.17, "Code"), (0.27, 0.17, "Service")],
            [(0.66, 0.17, "Qty"), (0.77, 0.17, "Price"), (0.90, 0.17, "Total")],
            [(0.07, 0.19, "10/01/2026"), (0.19, 0.19, "99203"), (0.27, 0.19, "New patient visit")],
            [(0.67, 0.19, "4"), (0.77, 0.19, "185.00"), (0.89, 0.19, "185.00")],
            [(0.07, 0.21, "10/01/2026"), (0.19, 0.21, "Q4012"), (0.27, 0.21, "Splint, fiberglass")],
            [(0.67, 0.21, "7"), (0.77, 0.21, "22.00"), (0.89, 0.21, "44.00")],
            [
                (0.07, 0.23, "10/01/2026"),
                (0.19, 0.23, "97110"),
                (0.27, 0.23, "Therapeutic exercise"),
            ],
            [(0.67, 0.23, "3"), (0.77, 0.23, "45.00"), (0.89, 0.23, "135.00")],
            [(0.07, 0.25, "10/01/2026"), (0.19, 0.25, "A0425"), (0.27, 0.25, "Ground mileage")],
            [(0.67, 0.25, "14.6"), (0.77, 0.25, "12.50"), (0.89, 0.25, "182.50")],
            [(0.07, 0.27, "10/01/2026"), (0.19, 0.27, "A0428"), (0.27, 0.27, "BLS transport")],
            [(0.67, 0.27, "1"), (0.77, 0.27, "310.00"), (0.89, 0.27, "318.00")],
        ]
    )
    items = extract_document("invoice", [p], nlp).line_items
    assert [(i.code, i.quantity) for i in items] == [
        ("99203", 1.0),
        ("Q4012", 2.0),
        ("97110", 3.0),
        ("A0425", 14.6),
        ("A0428", 1.0),  # 318.00 is no whole count of 310.00: an amount misread, not the count
    ]


def test_line_items_table_whose_header_was_not_read(nlp) -> None:
    # A shaded header row OCR skipped: coded rows whose price and amount agree, in one code
    # column, are the charges; the line numbers before the codes are no description.
    rows = [
        [(0.09, 0.26, "1"), (0.12, 0.26, "L1833"), (0.20, 0.26, "Knee orthosis, prefab")],
        [(0.66, 0.26, "1"), (0.75, 0.26, "412.00"), (0.88, 0.26, "412.00")],
        [(0.09, 0.28, "2"), (0.12, 0.28, "A4565"), (0.20, 0.28, "Crutch tips replacement set")],
        [(0.66, 0.28, "2"), (0.77, 0.28, "7.50"), (0.90, 0.28, "15.00")],
    ]
    items = extract_document("invoice", [scan(rows)], nlp).line_items
    assert [(i.code, i.description, i.quantity, i.amount) for i in items] == [
        ("L1833", "Knee orthosis, prefab", 1.0, 412.0),
        ("A4565", "Crutch tips replacement set", 2.0, 15.0),
    ]
    # one such row alone is a code and an amount in passing
    assert extract_document("invoice", [scan(rows[:2])], nlp).line_items == []


def test_line_items_fee_schedule_without_header_is_no_charge(nlp) -> None:
    # a superbill lists every service with its fee; unticked, none is billed
    rows = [
        [(0.07, 0.30, "99202"), (0.15, 0.30, "New pt, straightforward"), (0.45, 0.30, "95.00")],
        [(0.07, 0.32, "99203"), (0.15, 0.32, "New pt, low"), (0.45, 0.32, "135.00")],
        [(0.07, 0.34, "87880"), (0.15, 0.34, "Rapid strep antigen"), (0.45, 0.34, "25.00")],
    ]
    assert extract_document("invoice", [scan(rows)], nlp).line_items == []


def test_line_items_superbill_gives_its_ticked_services_on_its_date_of_service(nlp) -> None:
    # two columns of boxed services with fees; only the ticked ones were given, on the one
    # date of service the form states above them
    rows = [
        [(0.08, 0.10, "Patient: Grace Lindqvist"), (0.66, 0.10, "Date of Service: 09/09/2025")],
        [(0.07, 0.17, "OFFICE VISIT - NEW"), (0.46, 0.17, "FEE")],
        [(0.50, 0.17, "OFFICE VISIT - EST"), (0.89, 0.17, "FEE")],
        [(0.07, 0.19, "☐"), (0.09, 0.19, "99202"), (0.15, 0.19, "New pt, straightforward")],
        [(0.44, 0.19, "110.00"), (0.51, 0.19, "☒"), (0.53, 0.19, "99213")],
        [(0.58, 0.19, "Est pt, low"), (0.88, 0.19, "135.00")],
        [(0.07, 0.21, "☒"), (0.09, 0.21, "87880"), (0.15, 0.21, "Rapid strep antigen")],
        [(0.45, 0.21, "28.00"), (0.51, 0.21, "☐"), (0.53, 0.21, "90715")],
        [(0.58, 0.21, "Tdap vaccine"), (0.88, 0.21, "58.00")],
        [(0.65, 0.30, "Total Charges"), (0.88, 0.30, "$163.00")],
    ]
    items = extract_document("invoice", [scan(rows)], nlp).line_items
    assert [(i.code, i.description, i.amount, i.service_date) for i in items] == [
        ("99213", "Est pt, low", 135.0, "2025-09-09"),
        ("87880", "Rapid strep antigen", 28.0, "2025-09-09"),
    ]


def test_line_items_undated_charges_keep_no_date_when_the_page_states_a_range(nlp) -> None:
    rows = [
        [(0.08, 0.10, "Dates of Service: 09/01/2025 - 09/03/2025")],
        [(0.07, 0.19, "☒"), (0.09, 0.19, "99213"), (0.15, 0.19, "Est pt, low")],
        [(0.44, 0.19, "135.00")],
    ]
    (item,) = extract_document("invoice", [scan(rows)], nlp).line_items
    assert (item.code, item.service_date) == ("99213", None)


_CAPTIONS_UNDER = [
    [(0.07, 0.104, "Rosa M. Delgado-Ibarra")],
    [(0.51, 0.104, "03/30/1964")],
    [(0.74, 0.104, "Female")],
    [(0.07, 0.124, "Patient full name"), (0.51, 0.124, "Date of birth"), (0.74, 0.124, "Gender")],
    [(0.07, 0.147, "U4471902815")],
    [(0.51, 0.147, "HMO-3310-A")],
    [(0.74, 0.147, "01/01/2025")],
    [(0.07, 0.166, "Member ID"), (0.51, 0.166, "Policy number")],
    [(0.74, 0.166, "Coverage start date")],
    [(0.07, 0.189, "88 Vallejo Street, San Mateo, CA 94401")],
    [(0.07, 0.209, "Mailing address")],
]


def test_fields_form_printing_captions_under_its_values(nlp) -> None:
    fields = extract_document("claim_form", [scan(_CAPTIONS_UNDER)], nlp).fields
    got = {k: fields[k].value for k in ("patient_name", "patient_dob", "patient_sex")}
    assert got == {
        "patient_name": "Rosa M. Delgado-Ibarra",
        "patient_dob": "1964-03-30",
        "patient_sex": "F",
    }
    got = {k: fields[k].value for k in ("member_id", "policy_number", "policy_effective_date")}
    assert got == {
        "member_id": "U4471902815",
        "policy_number": "HMO-3310-A",
        "policy_effective_date": "2025-01-01",
    }


def test_fields_values_under_their_labels_with_a_captioned_signature_line(nlp) -> None:
    # labels over values; only the signature line prints its captions under it
    rows = [
        [(0.07, 0.10, "Patient name"), (0.51, 0.10, "Date of birth")],
        [(0.07, 0.12, "Rosa Delgado")],
        [(0.51, 0.12, "03/30/1964")],
        [(0.07, 0.14, "Member ID"), (0.51, 0.14, "Policy number")],
        [(0.07, 0.16, "U4471902815")],
        [(0.51, 0.16, "HMO-3310-A")],
        [(0.07, 0.30, "Rosa Delgado")],
        [(0.51, 0.30, "07/08/2025")],
        [(0.07, 0.32, "Signature"), (0.51, 0.32, "Date")],
    ]
    fields = extract_document("claim_form", [scan(rows)], nlp).fields
    got = {
        k: fields[k].value for k in ("patient_name", "patient_dob", "member_id", "policy_number")
    }
    assert got == {
        "patient_name": "Rosa Delgado",
        "patient_dob": "1964-03-30",
        "member_id": "U4471902815",
        "policy_number": "HMO-3310-A",
    }


def test_fields_small_caption_over_a_value_in_larger_print(nlp) -> None:
    # a fax form's captions in small capitals; its values a size larger, a line below
    rows = [
        [(0.06, 0.261, "PATIENT NAME")],
        [(0.50, 0.261, "PATIENT DATE OF BIRTH")],
        [(0.07, 0.282, "Eli R. Whitcombe")],
        [(0.51, 0.282, "05/19/2015")],
        [
            (0.07, 0.373, "Claim type:"),
            (0.18, 0.373, "☐ Outpatient"),
            (0.33, 0.373, "CZ Inpatient"),
        ],
        [(0.49, 0.373, "IX] Accident"), (0.65, 0.373, "☐ Critical illness")],
    ]
    captions, values = scan(rows, height=0.0055), scan(rows, height=0.0088)
    # the values' print is larger than the captions'
    page = captions.model_copy(
        update={"lines": [*captions.lines[:2], *values.lines[2:4], *captions.lines[4:]]}
    )
    fields = extract_document("claim_form", [page], nlp).fields
    got = {k: fields[k].value for k in ("patient_name", "patient_dob", "claim_type")}
    assert got == {
        "patient_name": "Eli R. Whitcombe",
        "patient_dob": "2015-05-19",
        "claim_type": "accident",
    }


def test_fields_total_is_what_was_billed_not_what_is_left_to_pay(nlp) -> None:
    paid = [
        [(0.71, 0.307, "Subtotal"), (0.89, 0.307, "$207.00")],
        [(0.61, 0.326, "Paid by card 02/10/2025"), (0.88, 0.326, "-$207.00")],
        [(0.67, 0.351, "Balance due"), (0.90, 0.351, "$0.00")],
    ]
    assert extract_document("invoice", [scan(paid)], nlp).fields["total"].value == 207.0
    due_only = [[(0.67, 0.351, "Amount Due"), (0.90, 0.351, "$150.00")]]
    assert extract_document("invoice", [scan(due_only)], nlp).fields["total"].value == 150.0


def test_fields_a_label_qualifying_another_label_has_no_value_of_its_own(nlp) -> None:
    # "Facility" names the provider, but "Facility NPI" is the NPI's label
    rows = [
        [(0.10, 0.037, "Midtown Memphis General Hospital")],
        [(0.71, 0.037, "ITEMIZED STATEMENT")],
        [(0.06, 0.200, "Facility NPI 1266083496"), (0.26, 0.200, "Federal Tax ID 62-0871255")],
    ]
    fields = extract_document("invoice", [scan(rows)], nlp).fields
    assert fields["provider_npi"].value == "1266083496"
    assert fields["provider_name"].value == "Midtown Memphis General Hospital"


def test_fields_letterhead_without_logo_marks_titles_or_address(nlp) -> None:
    # a logo read as "Mi" (unsure) or "a=" before the name; a title a letter off; the
    # address's city line; none is the provider's name
    logo = scan([[(0.06, 0.044, "Mi")], [(0.10, 0.044, "Lone Star Urgent Care")]], conf=0.98)
    logo.lines[0].words[0] = logo.lines[0].words[0].model_copy(update={"confidence": 0.0})
    page = logo.model_copy(
        update={"lines": [Line.from_words([*logo.lines[0].words, *logo.lines[1].words])]}
    )
    assert extract_document("invoice", [page], nlp).fields["provider_name"].value == (
        "Lone Star Urgent Care"
    )
    rows = [
        [(0.71, 0.031, "TEMIZED STATEMENT")],
        [(0.06, 0.050, "Columbus, OH 43201")],
        [(0.06, 0.070, "a= Desert Palms Medical Center")],
    ]
    assert extract_document("invoice", [scan(rows)], nlp).fields["provider_name"].value == (
        "Desert Palms Medical Center"
    )


def test_fields_short_abbreviation_labels_only_in_capitals() -> None:
    # "MI" is a middle initial's label, "Mi" (a logo read as letters) is not; OCR's small
    # letters for capitals of the same shape still count ("DOs", "M.l")
    from pipeline.extract.fields import find_labels
    from pipeline.extract.vocab import load_vocab

    def labels(text: str) -> list[str]:
        lines = layout_lines([scan([[(0.07, 0.10, text)]])])
        return [hit.field for hit in find_labels(lines, load_vocab("en"))]

    assert labels("MI") == labels("M.l") == ["patient_middle_name"]
    assert labels("Mi") == []
    assert labels("DOB") == ["patient_dob"] and labels("Dob") == []
    assert labels("DOs") == labels("DOS")


def test_fields_values_printed_one_letter_per_box(nlp) -> None:
    def boxes(x: float, y: float, letters: str) -> list[Placed]:
        return [(x + 0.018 * i, y, c) for i, c in enumerate(letters)]

    rows = [
        [(0.07, 0.170, "Last name")],
        [(0.38, 0.170, "First name")],
        [(0.63, 0.170, "MI")],
        [*boxes(0.08, 0.183, "LIU")],
        [*boxes(0.38, 0.183, "JENNIFER")],
        [(0.63, 0.183, "K")],
        [(0.07, 0.320, "Member ID number")],
        [(0.33, 0.320, "Policy number")],
        [*boxes(0.08, 0.333, "CCH61044827")],
        [*boxes(0.34, 0.333, "WA-330912")],
    ]
    fields = extract_document("claim_form", [scan(rows)], nlp).fields
    got = {k: fields[k].value for k in ("patient_name", "member_id", "policy_number")}
    assert got == {
        "patient_name": "JENNIFER K LIU",
        "member_id": "CCH61044827",
        "policy_number": "WA-330912",
    }


def test_fields_instruction_whose_closing_parenthesis_a_fax_lost(nlp) -> None:
    # "(Last Name, First Name, Middle Initial)" read without its ")": still the label's
    # aside, not a "Last Name" label that cuts the patient's name at its comma
    rows = [
        [(0.05, 0.122, "2. PATIENT'S NAME (Last Name. First Name. Middle inidal:")],
        [(0.38, 0.122, "3 PATIENT'S BIRTH DATE")],
        [(0.06, 0.139, "RAMIREZ, DANIEL, J")],
        [(0.38, 0.139, "06 22 1990")],
    ]
    fields = extract_document("claim_form", [scan(rows)], nlp).fields
    assert fields["patient_name"].value == "DANIEL J RAMIREZ"


def test_line_items_a_second_code_header_names_the_service(nlp) -> None:
    # "CPT  Procedure": with no description header, "Procedure" heads the service's name;
    # "Rev  CPT/HCPCS  Description" keeps its description column
    rows = [
        [(0.08, 0.265, "Service Date"), (0.19, 0.265, "CPT"), (0.28, 0.265, "Procedure")],
        [(0.63, 0.265, "Units"), (0.77, 0.265, "Fee"), (0.88, 0.265, "Total")],
        [(0.08, 0.287, "12/06/2025"), (0.19, 0.287, "73610"), (0.28, 0.287, "X-ray ankle")],
        [(0.65, 0.287, "1"), (0.75, 0.287, "210.00"), (0.87, 0.287, "210.00")],
    ]
    (item,) = extract_document("invoice", [scan(rows)], nlp).line_items
    assert (item.code, item.description, item.amount) == ("73610", "X-ray ankle", 210.0)
    rows = [
        [(0.06, 0.221, "DATE"), (0.16, 0.221, "REV"), (0.22, 0.221, "CPT/HCPCS")],
        [(0.31, 0.221, "DESCRIPTION"), (0.71, 0.221, "QTY"), (0.88, 0.221, "CHARGES")],
        [(0.06, 0.237, "11/02/2025"), (0.16, 0.237, "0450"), (0.22, 0.237, "99284")],
        [(0.31, 0.237, "ER VISIT LEVEL 4"), (0.73, 0.237, "1"), (0.88, 0.237, "1,490.00")],
    ]
    (item,) = extract_document("invoice", [scan(rows)], nlp).line_items
    assert (item.code, item.description, item.amount) == ("99284", "ER VISIT LEVEL 4", 1490.0)


def test_line_items_a_lab_invoice_whose_one_fee_column_is_the_charge(nlp) -> None:
    rows = [
        [(0.06, 0.243, "Test No."), (0.18, 0.243, "CPT"), (0.28, 0.243, "Test Name")],
        [(0.91, 0.243, "Fee")],
        [(0.06, 0.262, "4455"), (0.18, 0.262, "87086"), (0.28, 0.262, "Urine culture")],
        [(0.89, 0.262, "$68.00")],
        [(0.06, 0.281, "4460"), (0.18, 0.281, "87088"), (0.28, 0.281, "Urine culture, isolation")],
        [(0.89, 0.281, "$54.00")],
    ]
    items = extract_document("invoice", [scan(rows)], nlp).line_items
    assert [(i.code, i.description, i.amount) for i in items] == [
        ("87086", "Urine culture", 68.0),
        ("87088", "Urine culture, isolation", 54.0),
    ]


def test_line_items_pharmacy_receipt_printing_each_fill_over_several_lines(nlp) -> None:
    rows = [
        [(0.29, 0.109, "BLUEBONNET PHARMACY #22")],
        [(0.22, 0.224, "02/10/2025")],
        [(0.22, 0.267, "PATIENT: RAMAN, PRIYA")],
        [(0.22, 0.316, "RX# 6124873")],
        [(0.70, 0.316, "23.40")],
        [(0.23, 0.335, "NITROFURANTOIN MONO/MAC 100MG CAP")],
        [(0.23, 0.356, "NDC 65862-0110-01"), (0.46, 0.356, "QTY 10")],
        [(0.23, 0.376, "DR E OYELARAN"), (0.41, 0.376, "DAYS 5")],
        [(0.22, 0.405, "RX# 6124874")],
        [(0.70, 0.405, "11.85")],
        [(0.23, 0.425, "PHENAZOPYRIDINE 200MG TAB")],
        [(0.23, 0.446, "NDC 00472-1411-06"), (0.46, 0.446, "QTY 6")],
        [(0.22, 0.520, "SUBTOTAL")],
        [(0.70, 0.520, "35.25")],
    ]
    items = extract_document("invoice", [scan(rows)], nlp).line_items
    assert [(i.code, i.description, i.quantity, i.amount) for i in items] == [
        ("65862-0110-01", "NITROFURANTOIN MONO/MAC 100MG CAP", 10.0, 23.4),
        ("00472-1411-06", "PHENAZOPYRIDINE 200MG TAB", 6.0, 11.85),
    ]


def test_line_items_header_naming_the_line_number_and_the_unit_price(nlp) -> None:
    # "Item" before the code is the line's number, "Description" after it the service;
    # "Unit" after "Qty" is the unit's price where no price header follows
    rows = [
        [(0.06, 0.25, "Item"), (0.10, 0.25, "HCPCS"), (0.20, 0.25, "Description")],
        [(0.63, 0.25, "Qty"), (0.75, 0.25, "Unit"), (0.86, 0.25, "Line total")],
        [(0.07, 0.27, "1"), (0.10, 0.27, "L1833"), (0.20, 0.27, "Knee orthosis, prefab")],
        [(0.64, 0.27, "1"), (0.75, 0.27, "412.00"), (0.88, 0.27, "412.00")],
        [(0.07, 0.29, "5"), (0.10, 0.29, "A4565"), (0.20, 0.29, "Crutch tips replacement set")],
        [(0.64, 0.29, "2"), (0.76, 0.29, "7.50"), (0.89, 0.29, "15.00")],
    ]
    items = extract_document("invoice", [scan(rows)], nlp).line_items
    assert [(i.code, i.description, i.quantity, i.unit_price, i.amount) for i in items] == [
        ("L1833", "Knee orthosis, prefab", 1.0, 412.0, 412.0),
        ("A4565", "Crutch tips replacement set", 2.0, 7.5, 15.0),
    ]


def test_fields_receipt_date_printed_without_a_label(nlp) -> None:
    # a pharmacy receipt prints its date alone, with the time of sale; a bill's lines print
    # theirs in a column beside other values, which is no such date
    receipt = [
        [(0.29, 0.109, "BLUEBONNET PHARMACY # 22")],
        [(0.22, 0.224, "02/10/2025")],
        [(0.69, 0.224, "19:12")],
        [(0.22, 0.316, "RX# 6124873")],
        [(0.70, 0.316, "23.40")],
    ]
    fields = extract_document("invoice", [scan(receipt)], nlp).fields
    assert fields["invoice_date"].value == "2025-02-10"
    assert fields["provider_name"].value == "BLUEBONNET PHARMACY #22"
    bill = [
        [(0.04, 0.192, "0450")],
        [(0.11, 0.192, "ED VISIT HIGH SEVERITY")],
        [(0.58, 0.192, "01/22/25")],
        [(0.79, 0.192, "2,140.00")],
    ]
    assert extract_document("invoice", [scan(bill)], nlp).fields["invoice_date"].value is None
