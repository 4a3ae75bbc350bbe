"""Checklists as data, the completeness check and its notice, claim type inference."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.checks import (
    check_completeness,
    infer_claim_type,
    load_checklists,
    load_notice_wording,
)
from pipeline.errors import ConfigError
from pipeline.schema import ClaimFields, Diagnosis, ExtractedField, Source


def _fields(**missing: bool) -> ClaimFields:
    values = {
        "patient_name": "Ann Lee",
        "patient_dob": "1970-01-01",
        "member_id": "M123",
        "policy_number": "P9",
        "total_billed": 10.0,
    }
    return ClaimFields(
        **{
            k: ExtractedField(value=v, confidence=0.9)
            for k, v in values.items()
            if k not in missing
        }
    )


DIAG = [Diagnosis(code="J18.9", valid=True, confidence=0.9)]


def test_completeness_default_checklists_match_contract():
    checklists = load_checklists().checklists
    assert set(checklists) == {"outpatient", "inpatient", "accident", "critical_illness"}
    assert checklists["outpatient"].documents == [
        "claim_form",
        "id_document",
        "invoice",
        "medical_record",
    ]
    assert "diagnosis_certificate" in checklists["inpatient"].documents
    assert "accident_report" in checklists["accident"].documents
    assert "invoice" not in checklists["critical_illness"].documents
    assert "total_billed" not in checklists["critical_illness"].fields
    for checklist in checklists.values():
        assert "diagnoses" in checklist.fields and "member_id" in checklist.fields


def test_completeness_complete_claim_has_no_notice():
    docs = {"claim_form", "id_document", "invoice", "medical_record"}
    result = check_completeness("outpatient", docs, _fields(), DIAG, load_checklists())
    assert result.complete and result.notice is None
    assert result.missing_documents == [] and result.missing_fields == []
    assert result.checklist == "outpatient"


def test_completeness_notice_lists_everything_at_once():
    result = check_completeness(
        "outpatient",
        {"claim_form", "medical_record"},
        _fields(member_id=True, patient_dob=True),
        [Diagnosis(code="J18.9", valid=False, confidence=0.3)],
        load_checklists(),
    )
    assert not result.complete
    assert result.missing_documents == ["id_document", "invoice"]
    assert result.missing_fields == ["patient_dob", "member_id", "diagnoses"]
    notice = result.notice or ""
    assert notice.startswith("To process your outpatient claim we still need: ")
    assert "a copy of your insurance ID card; an itemized invoice." in notice
    assert "Please also make sure the following information is legible: " in notice
    assert "member ID" in notice and "date of birth" in notice and "diagnosis" in notice
    assert "_" not in notice  # human names, not identifiers


def test_completeness_fields_only_notice_and_critical_illness():
    docs = {"claim_form", "id_document", "diagnosis_certificate", "medical_record"}
    fields = _fields(total_billed=True, policy_number=True)
    result = check_completeness("critical_illness", docs, fields, DIAG, load_checklists())
    assert result.missing_documents == [] and result.missing_fields == ["policy_number"]
    assert result.notice == (
        "To process your critical illness claim, please make sure the following "
        "information is legible: policy number."
    )


def test_completeness_blank_string_counts_missing():
    fields = _fields()
    fields.member_id = ExtractedField(value="  ", confidence=0.2)
    docs = {"claim_form", "id_document", "invoice", "medical_record"}
    result = check_completeness("outpatient", docs, fields, DIAG, load_checklists())
    assert result.missing_fields == ["member_id"]


def test_completeness_unknown_claim_type_names_options():
    with pytest.raises(ConfigError, match="'dental'.*outpatient, inpatient"):
        check_completeness("dental", set(), _fields(), DIAG, load_checklists())


def test_completeness_unknown_language_names_options():
    with pytest.raises(ConfigError, match="'xx'.*available languages: en"):
        load_notice_wording("xx")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    return path


def test_completeness_user_file_overrides_named_types(tmp_path):
    path = _write(
        tmp_path,
        "checklists:\n  outpatient:\n    documents: [claim_form, invoice]\n    fields: [member_id]\n",
    )
    checklists = load_checklists(path).checklists
    assert checklists["outpatient"].documents == ["claim_form", "invoice"]
    assert checklists["outpatient"].fields == ["member_id"]
    assert "accident_report" in checklists["accident"].documents  # untouched default


def test_completeness_unknown_doc_type_names_file_key_and_options(tmp_path):
    path = _write(
        tmp_path,
        "checklists:\n  outpatient:\n    documents: [claim_form, invioce]\n    fields: []\n",
    )
    with pytest.raises(ConfigError) as info:
        load_checklists(path)
    message = str(info.value)
    assert str(path) in message and "'invioce'" in message
    assert "checklists.outpatient.documents" in message
    assert "claim_form, id_document, invoice" in message and "accident_report" in message


def test_completeness_unknown_claim_type_in_file(tmp_path):
    path = _write(tmp_path, "checklists:\n  dental:\n    documents: []\n    fields: []\n")
    with pytest.raises(ConfigError, match=r"mine\.yaml.*'dental'.*outpatient, inpatient, accident"):
        load_checklists(path)


def test_completeness_extra_key_rejected(tmp_path):
    path = _write(
        tmp_path,
        "checklists:\n  inpatient:\n    documents: []\n    fields: []\n    notes: x\n",
    )
    with pytest.raises(
        ConfigError, match=r"unknown key 'notes' in checklists\.inpatient.*documents, fields"
    ):
        load_checklists(path)
    top = _write(tmp_path, "checklist: {}\n")
    with pytest.raises(ConfigError, match=r"unknown key 'checklist'.*version, checklists"):
        load_checklists(top)


def test_completeness_unknown_field_and_bad_shapes(tmp_path):
    path = _write(tmp_path, "checklists:\n  inpatient:\n    documents: []\n    fields: [dob]\n")
    with pytest.raises(ConfigError, match=r"'dob'.*patient_dob.*diagnoses"):
        load_checklists(path)
    with pytest.raises(ConfigError, match="must be a list"):
        load_checklists(
            _write(tmp_path, "checklists:\n  inpatient:\n    documents: x\n    fields: []\n")
        )
    with pytest.raises(ConfigError, match="missing key 'fields'"):
        load_checklists(_write(tmp_path, "checklists:\n  inpatient:\n    documents: []\n"))
    with pytest.raises(ConfigError, match="cannot read YAML"):
        load_checklists(_write(tmp_path, "checklists: [\n"))
    with pytest.raises(ConfigError, match="not found"):
        load_checklists(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match=r"version"):
        load_checklists(_write(tmp_path, "version: many\nchecklists: {}\n"))


SOURCE = Source(file="a.pdf", page=1, bbox=(0.1, 0.1, 0.2, 0.2))


def test_completeness_infer_stated_type_wins():
    stated = ExtractedField(value="Critical Illness", confidence=0.93, source=SOURCE)
    result = infer_claim_type(stated, ["accident_report", "invoice"], True)
    assert result.value == "critical_illness" and result.confidence == 0.93
    assert result.source == SOURCE


@pytest.mark.parametrize(
    ("docs", "admission", "codes", "expected"),
    [
        (["claim_form", "accident_report", "invoice"], True, [], "accident"),
        (["claim_form", "invoice"], True, [], "inpatient"),
        # a certified critical illness is that benefit's claim, bill or hospital stay or not
        (["diagnosis_certificate", "invoice"], False, ["C50.9"], "critical_illness"),
        (["diagnosis_certificate", "invoice"], True, ["I21.4"], "critical_illness"),
        (["diagnosis_certificate", "medical_record"], False, ["C50.911"], "critical_illness"),
        (["diagnosis_certificate"], False, ["I63.9"], "critical_illness"),
        (["diagnosis_certificate"], False, ["I21.4"], "critical_illness"),
        # a cancer code without a certificate may be any oncology visit
        (["claim_form", "invoice", "medical_record"], False, ["C61"], "outpatient"),
        # injury codes: the accident report is what is missing
        (["claim_form", "invoice", "medical_record"], False, ["S61.411A", "W10.9XXA"], "accident"),
        (["claim_form", "invoice"], True, ["S72.001A"], "accident"),
        (["diagnosis_certificate", "invoice"], False, ["I10"], "inpatient"),
        # a certificate and no bill at all: a critical illness whose diagnosis was not read
        (["diagnosis_certificate"], False, ["I10"], "critical_illness"),
        (["diagnosis_certificate", "medical_record"], False, [], "critical_illness"),
        (["claim_form", "invoice", "medical_record"], False, ["J18.9"], "outpatient"),
        ([], False, [], "outpatient"),
    ],
)
def test_completeness_infer_from_documents(docs, admission, codes, expected):
    missing_type = ExtractedField.missing()
    result = infer_claim_type(missing_type, docs, admission, codes)
    assert result.value == expected
    assert 0.5 <= result.confidence < 0.9 and result.source is None
    assert infer_claim_type(None, docs, admission, codes).value == expected


def test_completeness_infer_takes_diagnosis_models():
    cancer = [Diagnosis(code="C34.90", valid=True, confidence=0.8)]
    result = infer_claim_type(None, ["diagnosis_certificate"], False, diagnoses=cancer)
    assert result.value == "critical_illness"


def test_completeness_infer_unknown_stated_value_falls_back():
    stated = ExtractedField(value="dental", confidence=0.9)
    assert infer_claim_type(stated, ["accident_report"], False).value == "accident"
