"""Completeness: which required documents and fields a claim still lacks, told to the claimant at once.

Checklists and the notice wording are data (`pipeline/data/checklists/`), validated
strictly so a typo in a user's checklist fails loudly with the file, key and valid options
instead of silently passing claims through.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline.document import DOC_TYPES
from pipeline.errors import ConfigError
from pipeline.schema import (
    CLAIM_FIELD_NAMES,
    CLAIM_TYPES,
    ClaimFields,
    Completeness,
    Diagnosis,
    ExtractedField,
)

__all__ = [
    "DIAGNOSES",
    "REQUIRABLE_DOC_TYPES",
    "REQUIRABLE_FIELDS",
    "INFERRED_CONFIDENCE",
    "Checklist",
    "Checklists",
    "NoticeWording",
    "load_checklists",
    "load_notice_wording",
    "check_completeness",
    "infer_claim_type",
    "is_critical_illness_code",
    "is_injury_code",
]

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "checklists"
DEFAULT_CHECKLISTS = DATA_DIR / "default.yaml"
NOTICES = DATA_DIR / "notices.yaml"

DIAGNOSES = "diagnoses"
"""The pseudo-field that is missing when a claim has no valid diagnosis."""

REQUIRABLE_DOC_TYPES: tuple[str, ...] = tuple(t for t in DOC_TYPES if t != "other")
REQUIRABLE_FIELDS: tuple[str, ...] = (*CLAIM_FIELD_NAMES, DIAGNOSES)

INFERRED_CONFIDENCE: dict[str, float] = {
    "accident_report": 0.85,
    "certified_critical_illness": 0.8,
    "injury_codes": 0.8,
    "admission_dates": 0.8,
    "certificate_and_invoice": 0.7,
    "certificate_without_invoice": 0.6,
    "default_outpatient": 0.55,
}
"""How sure an inferred claim type is, by the evidence used; below any stated type's usual confidence."""

_CRITICAL_ILLNESS_RANGES: tuple[tuple[str, str], ...] = (
    ("C00", "C97"),  # malignant neoplasms
    ("I60", "I64"),  # stroke
    ("I21", "I22"),  # acute myocardial infarction
)
_INJURY_RANGE = ("S00", "T88")  # ICD-10-CM chapter 19: injury, poisoning, external causes


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Checklist(_Strict):
    """What one claim type needs: document types and claim fields (plus `diagnoses`)."""

    documents: list[str]
    fields: list[str]


class Checklists(_Strict):
    version: int = 1
    checklists: dict[str, Checklist]


class NoticeWording(_Strict):
    """One language's wording of the claimant notice."""

    claim_types: dict[str, str]
    documents: dict[str, str]
    fields: dict[str, str]
    need_documents: str
    need_fields_also: str
    need_fields_only: str
    item_separator: str = "; "


def _options(values: Iterable[str]) -> str:
    return ", ".join(values)


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read YAML ({type(exc).__name__}: {exc})") from exc


def _check_keys(path: Path, where: str, data: object, valid: Sequence[str]) -> dict[str, object]:
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: {where} must be a mapping with keys {_options(valid)}, "
            f"got {type(data).__name__}"
        )
    for key in data:
        if key not in valid:
            raise ConfigError(
                f"{path}: unknown key {key!r} in {where}; valid keys: {_options(valid)}"
            )
    return data


def _check_list(path: Path, where: str, data: object, valid: Sequence[str], what: str) -> None:
    if not isinstance(data, list):
        raise ConfigError(f"{path}: {where} must be a list of {what}s, got {type(data).__name__}")
    for item in data:
        if item not in valid:
            raise ConfigError(
                f"{path}: unknown {what} {item!r} at {where}; valid {what}s: {_options(valid)}"
            )


def _parse_checklists(path: Path, data: object) -> Checklists:
    top = _check_keys(path, "the top level", data, tuple(Checklists.model_fields))
    if "checklists" not in top:
        raise ConfigError(f"{path}: missing key 'checklists' at the top level")
    entries = _check_keys(path, "checklists", top["checklists"], CLAIM_TYPES)
    for claim_type, entry in entries.items():
        where = f"checklists.{claim_type}"
        body = _check_keys(path, where, entry, tuple(Checklist.model_fields))
        for key in Checklist.model_fields:
            if key not in body:
                raise ConfigError(f"{path}: missing key {key!r} in {where}")
        _check_list(path, f"{where}.documents", body["documents"], REQUIRABLE_DOC_TYPES, "doc type")
        _check_list(path, f"{where}.fields", body["fields"], REQUIRABLE_FIELDS, "field")
    try:
        return Checklists.model_validate(top)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"{path}: invalid value at {key}: {first['msg']}") from exc


def load_checklists(path: Path | None = None) -> Checklists:
    """The shipped checklists, with the claim types named in the user's file at `path` replaced."""
    checklists = _parse_checklists(DEFAULT_CHECKLISTS, _read_yaml(DEFAULT_CHECKLISTS))
    if path is None:
        return checklists
    override = _parse_checklists(path, _read_yaml(path))
    merged = {**checklists.checklists, **override.checklists}
    return Checklists(version=override.version, checklists=merged)


@lru_cache(maxsize=8)
def _load_notices(path: Path) -> dict[str, NoticeWording]:
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must map language codes (en, zh) to wordings, "
            f"got {type(data).__name__}"
        )
    wordings: dict[str, NoticeWording] = {}
    for language, body in data.items():
        _check_keys(path, str(language), body, tuple(NoticeWording.model_fields))
        try:
            wordings[str(language)] = NoticeWording.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(x) for x in (language, *first["loc"]))
            raise ConfigError(f"{path}: invalid value at {key}: {first['msg']}") from exc
    return wordings


def load_notice_wording(language: str = "en", path: Path | None = None) -> NoticeWording:
    """The claimant-notice wording for `language` from `path` (default: the shipped file)."""
    source = (path or NOTICES).resolve()
    wordings = _load_notices(source)
    if language not in wordings:
        raise ConfigError(
            f"{source}: no notice wording for language {language!r}; "
            f"available languages: {_options(wordings)}"
        )
    return wordings[language]


def _is_missing(field: ExtractedField) -> bool:
    value = field.value
    return value is None or (isinstance(value, str) and not value.strip())


def _notice(
    claim_type: str, documents: list[str], fields: list[str], wording: NoticeWording
) -> str | None:
    if not documents and not fields:
        return None
    kind = wording.claim_types.get(claim_type, claim_type.replace("_", " "))
    join = wording.item_separator.join
    sentences: list[str] = []
    if documents:
        items = join(wording.documents.get(d, d.replace("_", " ")) for d in documents)
        sentences.append(wording.need_documents.format(claim_type=kind, items=items))
    if fields:
        items = join(wording.fields.get(f, f.replace("_", " ")) for f in fields)
        template = wording.need_fields_also if documents else wording.need_fields_only
        sentences.append(template.format(claim_type=kind, items=items))
    return " ".join(sentences)


def check_completeness(
    claim_type: str,
    present_doc_types: set[str],
    fields: ClaimFields,
    diagnoses: list[Diagnosis],
    checklists: Checklists,
    language: str = "en",
    wording: NoticeWording | None = None,
) -> Completeness:
    """Everything the claim type's checklist requires and the claim lacks, with one notice for it all.

    The diagnosis requirement is met only by a diagnosis whose code is valid: an unreadable
    code still has to be supplied again.
    """
    checklist = checklists.checklists.get(claim_type)
    if checklist is None:
        raise ConfigError(
            f"no checklist for claim type {claim_type!r}; "
            f"configured claim types: {_options(checklists.checklists)}"
        )
    missing_documents = [d for d in checklist.documents if d not in present_doc_types]
    missing_fields: list[str] = []
    for name in checklist.fields:
        if name == DIAGNOSES:
            if not any(d.valid for d in diagnoses):
                missing_fields.append(name)
        elif _is_missing(getattr(fields, name)):
            missing_fields.append(name)
    text = _notice(
        claim_type, missing_documents, missing_fields, wording or load_notice_wording(language)
    )
    return Completeness(
        checklist=claim_type,  # type: ignore[arg-type]
        complete=not missing_documents and not missing_fields,
        missing_documents=missing_documents,  # type: ignore[arg-type]
        missing_fields=missing_fields,
        notice=text,
    )


def _normalise_type(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    key = re.sub(r"[\s\-]+", "_", value.strip().lower())
    return key if key in CLAIM_TYPES else None


def is_critical_illness_code(code: str) -> bool:
    """Cancer C00-C97, stroke I60-I64, myocardial infarction I21-I22 (by 3-character category)."""
    category = code.strip().upper()[:3]
    return any(low <= category <= high for low, high in _CRITICAL_ILLNESS_RANGES)


def is_injury_code(code: str) -> bool:
    """Injury and poisoning, S00-T88 (by 3-character category): care after an accident."""
    category = code.strip().upper()[:3]
    return _INJURY_RANGE[0] <= category <= _INJURY_RANGE[1]


def infer_claim_type(
    stated: ExtractedField | None,
    doc_types: Sequence[str],
    has_admission_dates: bool,
    diagnoses: Sequence[Diagnosis | str] = (),
) -> ExtractedField:
    """The claim form's stated type when it has one; otherwise the type the documents point to.

    `diagnoses` may be Diagnosis models or bare codes. The evidence is taken strongest first:
    an accident report; a diagnosis certificate for a critical illness (cancer, stroke, heart
    attack), which is what that benefit pays on even when a hospital bill comes with it; an
    injury diagnosis (S00-T88), whose care follows an accident; admission dates; a certificate
    with a bill (a hospital stay); a certificate without any bill, the shape of a critical
    illness claim whose diagnosis was not read. An inferred type carries no source and a
    confidence below a typical stated one, taken from `INFERRED_CONFIDENCE` by the evidence.
    """
    if stated is not None:
        value = _normalise_type(stated.value)
        if value is not None:
            return stated.model_copy(update={"value": value})
    present = set(doc_types)
    has_invoice = "invoice" in present
    has_certificate = "diagnosis_certificate" in present
    codes = [d if isinstance(d, str) else d.code for d in diagnoses]
    if "accident_report" in present:
        value, evidence = "accident", "accident_report"
    elif has_certificate and any(is_critical_illness_code(c) for c in codes):
        value, evidence = "critical_illness", "certified_critical_illness"
    elif any(is_injury_code(c) for c in codes):
        value, evidence = "accident", "injury_codes"
    elif has_admission_dates:
        value, evidence = "inpatient", "admission_dates"
    elif has_certificate and has_invoice:
        value, evidence = "inpatient", "certificate_and_invoice"
    elif has_certificate:
        value, evidence = "critical_illness", "certificate_without_invoice"
    else:
        value, evidence = "outpatient", "default_outpatient"
    return ExtractedField(value=value, confidence=INFERRED_CONFIDENCE[evidence], source=None)
