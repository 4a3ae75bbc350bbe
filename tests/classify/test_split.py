from __future__ import annotations

from pipeline.classify.pages import PageLabel
from pipeline.classify.split import (
    PageMarker,
    document_key,
    page_letterhead,
    page_marker,
    page_npis,
    same_key,
    split_packet,
)
from tests.helpers import make_page


def _label(doc_type: str) -> PageLabel:
    return PageLabel(doc_type=doc_type, confidence=0.95)


def test_split_marker_and_key_parsing():
    page = make_page(["ITEMIZED STATEMENT", "Invoice No: INV-2231", "Page 2 of 3"])
    assert page_marker(page).index == 2 and page_marker(page).total == 3
    assert document_key(page) == "INV-2231"
    assert page_marker(make_page(["Page 4 of 3"])) is None


def test_split_groups_consecutive_pages_of_one_document():
    pages = [
        make_page(["CLAIM FORM"], page=1),
        make_page(["Invoice No: A-100", "Page 1 of 3"], page=2),
        make_page(["Invoice No: A-100", "Page 2 of 3"], page=3),
        make_page(["Invoice No: A-100", "Page 3 of 3"], page=4),
        make_page(["Progress note"], page=5),
    ]
    labels = [
        _label("claim_form"),
        _label("invoice"),
        _label("invoice"),
        _label("invoice"),
        _label("medical_record"),
    ]
    spans = split_packet(pages, labels)
    assert [s.doc_type for s in spans] == ["claim_form", "invoice", "medical_record"]
    assert spans[1].pages == [1, 2, 3]
    covered = sorted(p for s in spans for p in s.pages)
    assert covered == list(range(5))


def test_split_two_invoices_in_one_pdf_become_two_documents():
    pages = [
        make_page(["Invoice No: A-100", "Page 1 of 1"], page=1),
        make_page(["Invoice No: B-200", "Page 1 of 1"], page=2),
    ]
    spans = split_packet(pages, [_label("invoice"), _label("invoice")])
    assert len(spans) == 2
    assert {s.key for s in spans} == {"A-100", "B-200"}


def test_split_shuffled_pages_are_reordered_by_marker():
    pages = [
        make_page(["Statement", "Page 2 of 2"], page=1),
        make_page(["Claim form"], page=2),
        make_page(["Statement", "Page 1 of 2"], page=3),
    ]
    spans = split_packet(pages, [_label("invoice"), _label("claim_form"), _label("invoice")])
    invoice = next(s for s in spans if s.doc_type == "invoice")
    assert invoice.pages == [2, 0]


def test_split_unmarked_pages_in_different_files_are_separate_documents():
    pages = [
        make_page(["Itemized bill"], file="a.pdf", page=1),
        make_page(["Itemized bill"], file="b.pdf", page=1),
    ]
    spans = split_packet(pages, [_label("invoice"), _label("invoice")])
    assert len(spans) == 2


def test_split_every_page_exactly_once_for_mixed_labels():
    kinds = ["invoice", "other", "invoice", "medical_record", "medical_record", "other"]
    pages = [make_page([f"text {i}"], page=i + 1) for i in range(len(kinds))]
    spans = split_packet(pages, [_label(k) for k in kinds])
    covered = sorted(p for s in spans for p in s.pages)
    assert covered == list(range(len(kinds)))


def test_split_number_under_its_label_in_a_header_row():
    # header layout: labels on one row, values on the next ("Statement No.  Statement Date");
    # the next column's label is not the number, the value under the label is
    first = make_page(["Statement No. Statement Date", "ST7558968 2025-03-14", "Page 1/3"], page=1)
    assert document_key(first) == "ST7558968"
    assert document_key(make_page(["Invoice # Bill Date", "March 2, 2025"])) is None
    pages = [
        first,
        make_page(["Statement No. ST7558968", "Page 2/3"], page=2),
        make_page(["Statement No. ST7558968", "Page 3/3"], page=3),
    ]
    spans = split_packet(pages, [_label("invoice")] * 3)
    assert [s.pages for s in spans] == [[0, 1, 2]]
    assert spans[0].key == "ST7558968"


def test_split_two_unmarked_bills_in_one_file_part_on_their_numbers():
    pages = [
        make_page(["General Hospital", "Invoice # Bill Date", "INV-2025-146545 30-Oct-2025"]),
        make_page(["General Hospital Invoice # INV-2025-146545", "Room and board"], page=2),
        make_page(["Imaging Center", "Statement No. Invoice Date", "ST2785810 2025-10-09"], page=3),
    ]
    spans = split_packet(pages, [_label("invoice")] * 3)
    assert [s.pages for s in spans] == [[0, 1], [2]]
    assert [s.key for s in spans] == ["INV-2025-146545", "ST2785810"]


def test_split_same_key_forgives_one_misread_character_only():
    assert same_key("INV-2025-146545", "INV-2025-146545")
    assert same_key("ST7558968", "5T7558968")  # S read as 5
    assert same_key("INV-2025-146545", "INV-2025-146546")  # one digit misread
    assert not same_key("INV-2025-146545", "INV-2025-189511")
    assert not same_key("A-100", "A-101")  # short numbers must match exactly
    assert same_key("ST0390245", "ST0Q390245")  # a speck read as a character
    assert same_key("ST0Q390245", "ST0390245")
    assert same_key("INV-2025-146545", "INV-2025-14654")  # a faint last digit dropped
    assert not same_key("ST0390245", "ST0Q39024X")  # an insertion and a substitution
    assert not same_key("A-100", "A-1000")  # short: no slack
    assert not same_key(None, "A-100")
    pages = [
        make_page(["Invoice No: INV-2025-146545", "Page 1 of 2"]),
        make_page(["Invoice No: INV-2O25-146545", "Page 2 of 2"], page=2),
    ]
    assert len(split_packet(pages, [_label("invoice")] * 2)) == 1


def test_split_one_extra_character_in_the_number_keeps_a_scanned_bill_whole():
    """A two-page statement in one TIFF whose second page's number OCR read with a speck."""
    pages = [
        make_page(["STATEMENT OF ACCOUNT", "Invoice # ST0390245", "Account # 2454687"]),
        make_page(["Invoice # ST0Q390245", "Total Due $13,724.02"], page=2),
    ]
    spans = split_packet(pages, [_label("invoice")] * 2)
    assert [s.pages for s in spans] == [[0, 1]]


def test_split_marker_and_label_as_ocr_prints_them():
    assert page_marker(make_page(["Pp. 1 of 1"])) == PageMarker(index=1, total=1)
    assert page_marker(make_page(["p. 2 of 3"])) == PageMarker(index=2, total=3)
    assert page_marker(make_page(["Page 2 at 3"])) == PageMarker(index=2, total=3)
    assert page_marker(make_page(["Grp 1 of 2"])) is None
    assert document_key(make_page(["Statement No, B-53043-02"])) == "B-53043-02"
    # a reader that lists a row's labels before its values: the next line of its text is not
    # the number (here printed well below the label, not under it)
    assert document_key(make_page(["Statement No.", "", "", "", "2933879266"])) is None


def test_split_unnumbered_bills_of_two_providers_part_on_their_npis():
    pages = [
        make_page(["STATEMENT OF ACCOUNT", "NPI 1234567893", "Amount Due 103.50"]),
        make_page(["Patient Statement", "NPI # 1245319599", "Total $332.60"], page=2),
        make_page(["Patient Statement", "NPI # 1245319599", "Tel 1679576722"], page=3),
    ]
    assert page_npis(pages[2]) == {"1245319599"}  # a phone number is no NPI
    spans = split_packet(pages, [_label("invoice")] * 3)
    assert [s.pages for s in spans] == [[0], [1, 2]]


def test_split_complete_markers_send_an_unmarked_page_away():
    """A three-page bill's pages all marked; another bill's unlabelled page sat between."""
    pages = [
        make_page(["Invoice # B-73694-85", "Page 3 of 3"]),
        make_page(["Laboratory", "$14873172", "Jun 20, 2025"], page=2),
        make_page(["Invoice # B-73694-85", "Page 2 of 3"], page=3),
        make_page(["B-73694-85", "Page 1 of 3"], page=4),
    ]
    spans = split_packet(pages, [_label("invoice")] * 4)
    assert sorted(s.pages for s in spans) == [[1], [3, 2, 0]]


def test_split_letterheads_part_two_providers_bills():
    words = ["hospital", "center", "imaging"]
    pages = [
        make_page(["New Stephanieborough General Hospital", "Invoice No ST5982595"]),
        make_page(["New Stephanteborough General Hospital", "Date Issued 05-Aug-2026"], page=2),
        make_page(["Harrischester Imaging Center", "Itemized Statement"], page=3),
    ]
    assert page_letterhead(pages[2], words) == "harrischester imaging center"
    assert page_letterhead(make_page(["Description of services", "x"]), words) is None
    spans = split_packet(pages, [_label("invoice")] * 3, words)
    assert [s.pages for s in spans] == [[0, 1], [2]]
    assert len(split_packet(pages, [_label("invoice")] * 3)) == 1  # no words: no letterheads


def test_split_two_reports_of_one_provider_part_on_their_titles():
    from pipeline.classify.titles import load_titles

    words = ["hospital"]
    titles = load_titles("en")
    pages = [
        make_page(["Prairie Lutheran Hospital", "OPERATIVE NOTE", "Patient: Oksana V. Drummond"]),
        make_page(
            ["Prairie Lutheran Hospital", "DISCHARGE SUMMARY", "Patient: O. Drummond"], page=2
        ),
        make_page(["Prairie Lutheran Hospital", "DISCHARGE SUMMARY", "Hospital course"], page=3),
        make_page(["Follow-up plan and medications"], page=4),
    ]
    labels = [_label("medical_record")] * 4
    spans = split_packet(pages, labels, words, titles)
    # a report's own title again, or no title, continues it
    assert [s.pages for s in spans] == [[0], [1, 2, 3]]
    assert len(split_packet(pages, labels, words)) == 1  # no titles: one provider, one record
