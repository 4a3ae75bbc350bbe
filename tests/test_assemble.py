from __future__ import annotations

from pipeline.assemble import (
    ReviewThresholds,
    choose_claim_fields,
    confidence_flags,
    decide_status,
    identity_flags,
    reconcile,
)
from pipeline.schema import ClaimDocument, Completeness, ExtractedField, Flag, LineItem, Source

SRC = Source(file="p.pdf", page=1, bbox=(0.1, 0.1, 0.2, 0.12))


def f(value, confidence=0.99):
    return ExtractedField(value=value, confidence=confidence, source=SRC)


def doc(doc_type, **fields):
    return ClaimDocument(
        doc_type=doc_type, confidence=0.99, pages=[{"file": "p.pdf", "page": 1}], fields=fields
    )


def item(document, amount, date="2026-03-02", confidence=0.95):
    return LineItem(
        document=document,
        service_date=date,
        code="99213",
        code_system="CPT",
        amount=amount,
        quantity=1,
        unit_price=amount,
        confidence=confidence,
        source=SRC,
    )


def test_assemble_claim_form_wins_over_invoice_for_identity():
    docs = [
        doc("invoice", patient_name=f("Ann Lee", 0.95)),
        doc("claim_form", patient_name=f("Ann B. Lee", 0.97)),
    ]
    fields = choose_claim_fields(docs, [], ReviewThresholds())
    assert fields.patient_name.value == "Ann B. Lee"


def test_assemble_unsure_authoritative_value_loses_to_sure_one():
    docs = [doc("claim_form", member_id=f("XJ1", 0.3)), doc("id_document", member_id=f("XJ7", 0.8))]
    fields = choose_claim_fields(docs, [], ReviewThresholds())
    assert fields.member_id.value == "XJ7"


def test_assemble_unsure_claim_form_name_confirmed_by_a_surer_shorter_one():
    docs = [
        doc("invoice", patient_name=f("Daniel Ramirez", 0.99)),
        doc("claim_form", patient_name=f("DANIEL J RAMIREZ", 0.6)),
    ]
    name = choose_claim_fields(docs, [], ReviewThresholds()).patient_name
    assert (name.value, name.confidence) == ("DANIEL J RAMIREZ", 0.99)
    # another person's name on the bill confirms nothing
    docs[0] = doc("invoice", patient_name=f("Maria Ramirez", 0.99))
    assert choose_claim_fields(docs, [], ReviewThresholds()).patient_name.value == "Maria Ramirez"


def test_assemble_total_billed_sums_invoices_and_dates_span_items():
    docs = [
        doc("invoice", total=f(100.10)),
        doc("invoice", total=f(20.25)),
        doc("medical_record", admission_date=f("2026-02-27")),
    ]
    items = [item(0, 100.10, "2026-03-01"), item(1, 20.25, "2026-03-04")]
    fields = choose_claim_fields(docs, items, ReviewThresholds())
    assert fields.total_billed.value == 120.35
    assert fields.service_date_from.value == "2026-02-27"
    assert fields.service_date_to.value == "2026-03-04"


def test_assemble_total_billed_unknown_when_an_invoice_total_is_missing():
    docs = [doc("invoice", total=f(100.0)), doc("invoice", total=ExtractedField.missing())]
    assert choose_claim_fields(docs, [], ReviewThresholds()).total_billed.value is None


def test_assemble_reconcile_flags_invoice_whose_items_do_not_add_up():
    docs = [doc("invoice", total=f(150.0))]
    items = [item(0, 100.0), item(0, 25.0)]
    fields = choose_claim_fields(docs, items, ReviewThresholds())
    rec, flags = reconcile(docs, items, fields, ReviewThresholds())
    assert rec.line_item_sum == 125.0 and rec.total_billed == 150.0 and rec.matches is False
    assert [fl.code for fl in flags] == ["TOTAL_MISMATCH"]


def test_assemble_identity_mismatch_on_name_and_dob():
    docs = [
        doc("claim_form", patient_name=f("Maria L. Gonzalez"), patient_dob=f("1980-01-02")),
        doc("invoice", patient_name=f("MARIA GONZALEZ"), patient_dob=f("1980-01-02")),
    ]
    assert identity_flags(docs) == []
    docs.append(doc("medical_record", patient_name=f("Peter Novak"), patient_dob=f("1975-05-05")))
    codes = {fl.field for fl in identity_flags(docs)}
    assert codes == {"fields.patient_name", "fields.patient_dob"}


def test_assemble_status_rules():
    complete = Completeness(checklist="outpatient", complete=True)
    assert decide_status(complete, []) == "ready"
    assert decide_status(complete, [Flag(code="X", severity="info", message="m")]) == "ready"
    assert (
        decide_status(complete, [Flag(code="X", severity="review", message="m")]) == "needs_review"
    )
    assert decide_status(Completeness(checklist="outpatient", complete=False), []) == "incomplete"


def test_assemble_low_confidence_values_are_flagged():
    docs = [doc("claim_form", patient_name=f("Ann Lee", 0.5))]
    fields = choose_claim_fields(docs, [], ReviewThresholds())
    flags = confidence_flags(
        fields,
        docs,
        [],
        [item(0, 5.0, confidence=0.2)],
        ExtractedField.missing(),
        ReviewThresholds(),
    )
    assert {fl.field for fl in flags} == {"fields.patient_name", "line_items[0]"}
