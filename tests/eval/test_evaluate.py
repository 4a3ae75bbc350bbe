"""evaluate(): perfect predictions, hand-computed metric values, and never crashing on bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.eval import claim_from_truth, evaluate, render_table, value_outcomes
from pipeline.schema import ExtractedField, LineItem, PageRef
from pipeline.truth import Truth


def _perfect_report(tmp_path: Path, truth_factory, run_writer):
    truths = [truth_factory(f"p{i:03d}.pdf", fraud_label=i % 2) for i in range(4)]
    out, truth_dir = run_writer(tmp_path, truths, [claim_from_truth(t) for t in truths])
    return evaluate(out, truth_dir)


def test_evaluate_truth_as_prediction_scores_perfect(tmp_path, truth_factory, run_writer):
    report = _perfect_report(tmp_path, truth_factory, run_writer)
    assert report.claims_scored == 4 and report.missing == 0 and report.claim_errors == 0
    assert report.page_type.overall.accuracy == 1.0
    assert report.page_type.overall.total == 16  # separators excluded
    assert report.page_type.digital.total == 8 and report.page_type.scanned.total == 8
    assert report.fields.overall.overall.accuracy == 1.0
    assert report.fields.claim_fields.overall.total == 28
    assert report.fields.document_fields.overall.total == 4 * 6
    assert all(s.overall.accuracy == 1.0 for s in report.fields.per_field.values())
    assert report.diagnoses.f1 == 1.0
    assert report.line_items.overall.f1 == 1.0
    assert report.line_items.scanned.f1 == 1.0 and report.line_items.digital.f1 is None
    assert report.claim_type.accuracy == 1.0
    assert report.completeness.both.accuracy == 1.0
    assert report.fraud.roc_auc == 1.0 and report.fraud.pr_auc == 1.0
    assert report.fraud.precision_top10 == 1.0
    assert report.calibration.ece == pytest.approx(0.0)
    assert report.calibration.high_confidence_error_rate == 0.0
    # 6 non-null claim fields... all 7 non-null, 5 non-null doc fields, 2 diagnoses, 3 items
    assert report.calibration.count == 4 * (7 + 5 + 2 + 3)


def test_evaluate_report_dumps_json_and_renders(tmp_path, truth_factory, run_writer):
    report = _perfect_report(tmp_path, truth_factory, run_writer)
    data = json.loads(report.model_dump_json())
    assert data["page_type"]["overall"]["accuracy"] == 1.0
    assert data["coverage"] == 1.0
    table = render_table(report)
    assert table.row_count > 10


def test_evaluate_one_wrong_claim_field_is_six_of_seven(tmp_path, truth_factory, run_writer):
    truth = truth_factory()
    claim = claim_from_truth(truth)
    claim.fields.member_id = ExtractedField(value="ABC123457", confidence=0.95)
    out, truth_dir = run_writer(tmp_path, [truth], [claim])
    report = evaluate(out, truth_dir)
    claim_fields = report.fields.claim_fields.overall
    assert (claim_fields.correct, claim_fields.total) == (6, 7)
    assert report.fields.per_field["member_id"].overall.accuracy == 0.0
    # member_id is printed on the digital claim form
    assert report.fields.per_field["member_id"].digital.total == 1
    assert report.calibration.high_confidence_count == 17
    assert report.calibration.high_confidence_error_rate == pytest.approx(1 / 17)


def test_evaluate_normalises_case_space_punctuation_and_money(tmp_path, truth_factory, run_writer):
    truth = truth_factory()
    claim = claim_from_truth(truth)
    claim.fields.patient_name = ExtractedField(value="MARY J SMITH", confidence=0.9)
    claim.fields.member_id = ExtractedField(value="abc 123 456", confidence=0.9)
    claim.fields.total_billed = ExtractedField(value=225.504, confidence=0.9)
    claim.fields.patient_dob = ExtractedField(value="1980-2-3", confidence=0.9)
    out, truth_dir = run_writer(tmp_path, [truth], [claim])
    report = evaluate(out, truth_dir)
    per = report.fields.per_field
    assert per["patient_name"].overall.accuracy == 1.0
    assert per["member_id"].overall.accuracy == 1.0
    assert per["total_billed"].overall.accuracy == 1.0
    assert per["patient_dob"].overall.accuracy == 0.0  # dates compare exactly


def test_evaluate_null_versus_value_is_wrong_both_ways(tmp_path, truth_factory, run_writer):
    truth = truth_factory()
    claim = claim_from_truth(truth)
    claim.fields.policy_number = ExtractedField.missing()
    claim.documents[1].fields["provider_npi"] = ExtractedField(value="1234567893", confidence=0.5)
    out, truth_dir = run_writer(tmp_path, [truth], [claim])
    report = evaluate(out, truth_dir)
    assert report.fields.per_field["policy_number"].overall.accuracy == 0.0
    assert report.fields.per_field["invoice.provider_npi"].scanned.accuracy == 0.0


def test_evaluate_page_not_listed_counts_wrong(tmp_path, truth_factory, run_writer):
    truth = truth_factory()
    claim = claim_from_truth(truth)
    claim.documents[1].pages = [PageRef(file="p001.pdf", page=3)]  # page 4 dropped
    claim.documents[2].doc_type = "invoice"  # page 5 misread
    out, truth_dir = run_writer(tmp_path, [truth], [claim])
    report = evaluate(out, truth_dir)
    assert (report.page_type.overall.correct, report.page_type.overall.total) == (2, 4)
    assert (report.page_type.scanned.correct, report.page_type.scanned.total) == (1, 2)
    assert (report.page_type.digital.correct, report.page_type.digital.total) == (1, 2)
    # the record's field is lost with its document
    assert report.fields.per_field["medical_record.provider_name"].overall.accuracy == 0.0


def test_evaluate_diagnoses_and_line_items_prf(tmp_path, truth_factory, run_writer):
    truth = truth_factory()
    claim = claim_from_truth(truth)
    claim.diagnoses = claim.diagnoses[:1] + [
        claim.diagnoses[0].model_copy(update={"code": "J20.9", "confidence": 0.4})
    ]
    claim.line_items = claim.line_items[:2] + [
        LineItem(document=1, code="71046", amount=50.0, confidence=0.3)
    ]
    out, truth_dir = run_writer(tmp_path, [truth], [claim])
    report = evaluate(out, truth_dir)
    d = report.diagnoses
    assert (d.tp, d.fp, d.fn) == (1, 1, 1) and d.f1 == pytest.approx(0.5)
    li = report.line_items.scanned
    assert (li.tp, li.fp, li.fn) == (2, 1, 1)
    assert li.precision == pytest.approx(2 / 3) and li.recall == pytest.approx(2 / 3)


def test_evaluate_line_item_columns_of_matched_items(tmp_path, truth_factory, run_writer):
    truth = truth_factory()
    claim = claim_from_truth(truth)
    first, second = claim.line_items[:2]
    claim.line_items[0] = first.model_copy(
        update={"quantity": None, "description": "OFFICE  visit"}
    )
    claim.line_items[1] = second.model_copy(update={"service_date": "2026-03-03"})
    # an item that matches nothing is not scored by column
    claim.line_items.append(LineItem(document=1, code="71046", amount=50.0, confidence=0.3))
    out, truth_dir = run_writer(tmp_path, [truth], [claim])
    columns = evaluate(out, truth_dir).line_items.columns
    ratios = {name: (c.overall.correct, c.overall.total) for name, c in columns.items()}
    n = len(truth.line_items)
    assert ratios == {
        "service_date": (n - 1, n),
        "quantity": (n - 1, n),
        "unit_price": (n, n),
        "description": (n, n),  # case and spacing aside
    }
    assert columns["quantity"].scanned.total == n


def test_evaluate_duplicate_line_items_match_as_multiset(tmp_path, truth_factory, run_writer):
    truth = truth_factory()
    claim = claim_from_truth(truth)
    claim.line_items = claim.line_items + [claim.line_items[2]]
    out, truth_dir = run_writer(tmp_path, [truth], [claim])
    li = evaluate(out, truth_dir).line_items.overall
    assert (li.tp, li.fp, li.fn) == (3, 1, 0)


def test_evaluate_claim_type_and_completeness(tmp_path, truth_factory, run_writer):
    truths = [truth_factory("a.pdf"), truth_factory("b.pdf")]
    first, second = (claim_from_truth(t) for t in truths)
    first.claim_type = ExtractedField(value="inpatient", confidence=0.6)
    second.completeness.missing_fields = ["member_id"]
    out, truth_dir = run_writer(tmp_path, truths, [first, second])
    report = evaluate(out, truth_dir)
    assert report.claim_type.correct == 1 and report.claim_type.total == 2
    assert report.completeness.missing_documents.accuracy == 1.0
    assert report.completeness.missing_fields.accuracy == 0.5
    assert report.completeness.both.accuracy == 0.5


def test_evaluate_fraud_na_when_unscored_or_one_class(tmp_path, truth_factory, run_writer):
    truths = [truth_factory(f"p{i}.pdf", fraud_label=0) for i in range(3)]
    claims = [claim_from_truth(t) for t in truths]
    out, truth_dir = run_writer(tmp_path, truths, claims)
    report = evaluate(out, truth_dir)
    assert report.fraud.roc_auc is None and "n/a" in (report.fraud.note or "")
    for claim in claims:
        claim.fraud.score = None
    out2, truth2 = run_writer(tmp_path / "b", truths, claims)
    report2 = evaluate(out2, truth2)
    assert report2.fraud.scored == 0 and report2.fraud.unscored == 3
    assert report2.fraud.precision_top10 is None


def test_evaluate_empty_out_never_crashes(tmp_path, truth_factory):
    truth_dir = tmp_path / "truth"
    truth_dir.mkdir()
    (truth_dir / "p.pdf.json").write_text(truth_factory("p.pdf").model_dump_json())
    report = evaluate(tmp_path / "no-such-out", truth_dir)
    assert report.truth_packets == 1 and report.missing == 1 and report.claims_scored == 0
    assert report.page_type.overall.accuracy is None
    assert render_table(report).row_count > 0
    assert evaluate(tmp_path / "x", tmp_path / "y").truth_packets == 0


def test_evaluate_malformed_and_partial_claims_are_counted(tmp_path, truth_factory, run_writer):
    truths = [truth_factory(f"p{i}.pdf") for i in range(5)]
    partial = {
        "claim_id": "x",
        "packet": {"source": "p2.pdf", "sha256": "0", "files": [], "page_count": 0},
    }
    bad_code = json.loads(claim_from_truth(truths[3]).model_dump_json())
    bad_code["diagnoses"][0]["code"] = "not a code"
    claims = [
        "{not json",
        json.dumps([1, 2]),
        json.dumps(partial),
        json.dumps(bad_code),
        json.dumps({"packet": None}),
        "\x00\xff",
    ]
    out, truth_dir = run_writer(tmp_path, truths, claims, quarantine=["p4.pdf"])
    (out / "claims" / "bin.json").write_bytes(b"\xff\xfe\x00")
    (truth_dir / "broken.json").write_text('{"packet": "zz"}')
    report = evaluate(out, truth_dir)
    assert report.claims_scored == 1  # the partial claim: defaults everywhere
    assert report.claim_errors == 6
    assert report.truth_errors == 1
    assert report.quarantined == 1
    assert report.missing == 3  # p0, p1, p3 have neither a valid claim nor a quarantine file
    assert report.page_type.overall.accuracy == 0.0
    assert report.fields.per_field["patient_name"].overall.accuracy == 0.0
    assert not any("Mary" in e for e in report.errors)  # no patient data in messages


def test_value_outcomes_kinds_and_profiles(truth_factory):
    truth: Truth = truth_factory()
    claim = claim_from_truth(truth)
    outcomes = value_outcomes(claim, truth)
    kinds = [o.kind for o in outcomes]
    assert kinds.count("claim_field") == 7 and kinds.count("document_field") == 5
    assert kinds.count("diagnosis") == 2 and kinds.count("line_item") == 3
    assert all(o.correct and o.confidence == 1.0 for o in outcomes)
    by_name = {o.name: o.profile for o in outcomes if o.kind != "line_item"}
    assert by_name["invoice.total"] == "scanned"
    assert by_name["member_id"] == "digital"
    assert by_name["total_billed"] == "scanned"  # printed on the invoice
    assert {o.profile for o in outcomes if o.kind == "line_item"} == {"scanned"}
