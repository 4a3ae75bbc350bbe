"""A family's insurance card in a claim for one of the family."""

from __future__ import annotations

import pytest

from pipeline.classify.pages import PageLabel
from pipeline.config import load_settings
from pipeline.document import PacketFile, ReadPacket
from pipeline.process import build_claim, load_resources
from tests.extract.conftest import make_page


@pytest.fixture(scope="module")
def resources():
    return load_resources(load_settings())


def _packet(card_rows, patient: str) -> tuple[ReadPacket, list[PageLabel]]:
    form = make_page(
        [
            (0.05, [(0.08, "CLAIM FORM")]),
            (0.10, [(0.08, "Patient Name:"), (0.30, patient)]),
            (0.12, [(0.08, "Date of Birth:"), (0.30, "05/14/2017")]),
            (0.14, [(0.08, "Member ID:"), (0.30, "ESH448803162")]),
        ],
        file="p.pdf",
        number=1,
    )
    card = make_page(card_rows, file="p.pdf", number=2)
    read = ReadPacket(
        name="p.pdf",
        source="p.pdf",
        sha256="0" * 64,
        files=[PacketFile(name="p.pdf", kind="pdf", sha256="0" * 64, size=1)],
        pages=[form, card],
    )
    labels = [
        PageLabel(doc_type="claim_form", confidence=0.95),
        PageLabel(doc_type="id_document", confidence=0.95),
    ]
    return read, labels


FAMILY_CARD = [
    (0.13, [(0.14, "Evergreen Shore Health Plan")]),
    (0.177, [(0.14, "Subscriber"), (0.31, "GREGORY L FONTAINE")]),
    (0.196, [(0.14, "Member ID"), (0.31, "ESH448803162")]),
    (0.295, [(0.14, "Sfx"), (0.20, "Name"), (0.54, "DOB"), (0.66, "Rel")]),
    (0.310, [(0.14, "01"), (0.20, "GREGORY L FONTAINE")]),
    (0.310, [(0.54, "02/19/1983"), (0.66, "SUB")]),
    (0.341, [(0.14, "03"), (0.20, "AMELIE R FONTAINE")]),
    (0.341, [(0.54, "05/14/2017"), (0.66, "CHD")]),
]


def test_process_a_family_card_gives_the_patients_row(resources) -> None:
    read, labels = _packet(FAMILY_CARD, "Amelie R. Fontaine")
    claim = build_claim(read, labels, resources, "clm-card")
    card = next(d for d in claim.documents if d.doc_type == "id_document")
    assert card.fields["patient_name"].value == "AMELIE R FONTAINE"
    assert card.fields["patient_dob"].value == "2017-05-14"
    assert card.fields["patient_name"].source.page == 2


def test_process_a_card_without_the_patient_keeps_what_it_says(resources) -> None:
    read, labels = _packet(FAMILY_CARD, "Nadia K. Fontaine")
    claim = build_claim(read, labels, resources, "clm-card")
    card = next(d for d in claim.documents if d.doc_type == "id_document")
    assert card.fields["patient_name"].value == "GREGORY L FONTAINE"
