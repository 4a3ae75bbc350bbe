"""Identity values printed under unreadable labels, found because the packet agrees on them."""

from __future__ import annotations

from pipeline.extract.confidence import Calibrator
from pipeline.extract.repeated import find_repeated, packet_identity
from pipeline.extract.vocab import load_vocab
from pipeline.schema import ExtractedField, Source
from tests.extract.conftest import make_page

VOCAB = load_vocab("en")


def _sure(value: str, confidence: float = 0.97) -> ExtractedField:
    return ExtractedField(value=value, confidence=confidence)


def test_extract_repeated_packet_identity_needs_confident_agreement() -> None:
    documents = [
        ("claim_form", {"member_id": _sure("JSD965881486"), "patient_dob": _sure("1956-08-19")}),
        ("id_document", {"member_id": _sure("JSD 965881486"), "patient_dob": _sure("1956-08-18")}),
        ("invoice", {"patient_name": _sure("Alexis Atkins", 0.6)}),
    ]
    known = packet_identity(documents, VOCAB, threshold=0.9)
    assert known == {"member_id": "JSD965881486"}  # the dates disagree; the name is unsure


def test_extract_repeated_finds_values_under_garbled_labels() -> None:
    # an invoice header whose small labels OCR garbled; the values are legible
    page = make_page(
        [
            (0.10, [(0.08, "Taseice Nev,"), (0.40, "Ball Dace"), (0.66, "Paticut")]),
            (0.12, [(0.08, "INV-2026-567671"), (0.40, "July 11, 2026"), (0.66, "Aaron Anderson")]),
            (0.15, [(0.08, "Bue of Lerth"), (0.40, "iD Ne")]),
            (0.17, [(0.08, "October 29, 2002"), (0.40, "509035 -92")]),
        ]
    )
    known = {
        "patient_name": "AARON ANDERSON",
        "patient_dob": "2002-10-29",
        "member_id": "509035-92",
        "policy_number": "GRP874533",  # not printed on this page: stays missing
    }
    fields = {"patient_name": ExtractedField.missing(), "patient_dob": ExtractedField.missing()}
    found, evidence = find_repeated("invoice", [page], fields, known, VOCAB, Calibrator())
    assert {n: f.value for n, f in found.items()} == {
        "patient_name": "Aaron Anderson",  # as printed here
        "patient_dob": "2002-10-29",
        "member_id": "509035-92",
    }
    assert found["patient_dob"].source is not None and found["patient_dob"].source.page == 1
    assert evidence["fields.member_id"].method == "pattern"


def test_extract_repeated_never_takes_words_of_a_labelled_value() -> None:
    page = make_page([(0.10, [(0.08, "Policy No."), (0.30, "77496-YTF")])])
    labelled = ExtractedField(
        value="77496-YTF",
        confidence=0.99,
        source=Source(file="p.pdf", page=1, bbox=(0.3, 0.1, 0.38, 0.112)),
    )
    fields = {"policy_number": labelled, "member_id": ExtractedField.missing()}
    known = {"member_id": "77496-YTF", "policy_number": "77496-YTF"}
    found, _ = find_repeated("id_document", [page], fields, known, VOCAB, Calibrator())
    assert found == {}


def test_extract_repeated_the_patients_row_of_a_family_card() -> None:
    from pipeline.extract.repeated import find_member, same_name

    page = make_page(
        [
            (0.177, [(0.14, "Subscriber"), (0.31, "GREGORY L FONTAINE")]),
            (0.295, [(0.14, "Sfx"), (0.20, "Name"), (0.54, "DOB"), (0.66, "Rel")]),
            (0.310, [(0.14, "01"), (0.20, "GREGORY L FONTAINE")]),
            (0.310, [(0.54, "02/19/1983"), (0.66, "SUB")]),
            (0.341, [(0.14, "03"), (0.20, "AMELIE R FONTAINE")]),
            (0.341, [(0.54, "05/14/2017"), (0.66, "CHD")]),
        ]
    )
    found, evidence = find_member([page], "Amelie R. Fontaine", VOCAB, Calibrator())
    assert found["patient_name"].value == "AMELIE R FONTAINE"
    assert found["patient_dob"].value == "2017-05-14"
    assert found["patient_dob"].source.bbox[0] == 0.54
    assert evidence["fields.patient_name"].method == "pattern"
    assert find_member([page], "Luc A. Fontaine", VOCAB, Calibrator()) == ({}, {})
    assert same_name("FONTAINE, AMELIE R", "Amelie R. Fontaine")
    assert not same_name("Gregory L Fontaine", "Amelie R Fontaine")
