"""The claim file: the pydantic models of `../shared/contract.md`, and nothing looser.

`claim-intake schema` prints `Claim.model_json_schema()`; core systems and the review
app read files of this shape, so a name here changes only with `SCHEMA_VERSION`.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.document import DOC_TYPES, BBox, DocType

__all__ = [
    "SCHEMA_VERSION",
    "CLAIM_TYPES",
    "CLAIM_FIELD_NAMES",
    "DOC_TYPES",
    "Source",
    "ExtractedField",
    "PageRef",
    "ClaimDocument",
    "ClaimFields",
    "Diagnosis",
    "LineItem",
    "Reconciliation",
    "Completeness",
    "FraudReason",
    "Fraud",
    "Flag",
    "PacketInfo",
    "Claim",
    "claim_json_schema",
]

SCHEMA_VERSION: Literal["1.0"] = "1.0"

ClaimType = Literal["outpatient", "inpatient", "accident", "critical_illness"]
CLAIM_TYPES: tuple[str, ...] = ("outpatient", "inpatient", "accident", "critical_illness")
Status = Literal["ready", "needs_review", "incomplete", "rejected"]
Severity = Literal["info", "review", "error"]
CodeSystem = Literal["CPT", "HCPCS", "REV", "NDC", "other"]
FraudBand = Literal["low", "medium", "high", "unscored"]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ICD10 = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source(_Strict):
    """Where a value was read: a file inside the packet, a 1-based page, a box in page fractions."""

    file: str
    page: int = Field(ge=1)
    bbox: BBox

    @field_validator("bbox")
    @classmethod
    def _bbox_in_page(cls, value: BBox) -> BBox:
        if not all(0.0 <= v <= 1.0 for v in value) or value[0] > value[2] or value[1] > value[3]:
            raise ValueError(f"bbox must be x0<=x1, y0<=y1 within 0..1, got {value!r}")
        return value


FieldValue = str | float | int | None


class ExtractedField(_Strict):
    """`F` of the contract: a value, how sure we are, where it came from."""

    value: FieldValue = None
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    source: Source | None = None

    @classmethod
    def missing(cls) -> ExtractedField:
        return cls(value=None, confidence=0.0, source=None)


class PageRef(_Strict):
    file: str
    page: int = Field(ge=1)


class ClaimDocument(_Strict):
    doc_type: DocType
    confidence: float = Field(ge=0.0, le=1.0)
    pages: list[PageRef]
    fields: dict[str, ExtractedField] = Field(default_factory=dict)


class ClaimFields(_Strict):
    patient_name: ExtractedField = Field(default_factory=ExtractedField.missing)
    patient_dob: ExtractedField = Field(default_factory=ExtractedField.missing)
    member_id: ExtractedField = Field(default_factory=ExtractedField.missing)
    policy_number: ExtractedField = Field(default_factory=ExtractedField.missing)
    service_date_from: ExtractedField = Field(default_factory=ExtractedField.missing)
    service_date_to: ExtractedField = Field(default_factory=ExtractedField.missing)
    total_billed: ExtractedField = Field(default_factory=ExtractedField.missing)


CLAIM_FIELD_NAMES: tuple[str, ...] = tuple(ClaimFields.model_fields)


class Diagnosis(_Strict):
    code: str
    description: str | None = None
    valid: bool
    confidence: float = Field(ge=0.0, le=1.0)
    source: Source | None = None

    @field_validator("code")
    @classmethod
    def _icd_shape(cls, value: str) -> str:
        if not _ICD10.match(value):
            raise ValueError(f"ICD-10 code must be upper case with the dot (J18.9), got {value!r}")
        return value


class LineItem(_Strict):
    document: int = Field(ge=0, description="index into `documents`")
    service_date: str | None = None
    code: str | None = None
    code_system: CodeSystem | None = None
    description: str | None = None
    quantity: float | None = None
    unit_price: float | None = None
    amount: float | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    source: Source | None = None

    @field_validator("service_date")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        if value is not None and not _ISO_DATE.match(value):
            raise ValueError(f"service_date must be YYYY-MM-DD, got {value!r}")
        return value


class Reconciliation(_Strict):
    line_item_sum: float | None = None
    total_billed: float | None = None
    matches: bool | None = None


class Completeness(_Strict):
    checklist: ClaimType | None = None
    complete: bool = False
    missing_documents: list[DocType] = Field(default_factory=list)
    missing_fields: list[str] = Field(default_factory=list)
    notice: str | None = Field(
        default=None, description="one paragraph to the claimant listing everything still needed"
    )


class FraudReason(_Strict):
    code: str
    detail: str
    weight: float


class Fraud(_Strict):
    score: float | None = Field(default=None, ge=0.0, le=1.0)
    band: FraudBand = "unscored"
    model_version: str | None = None
    reasons: list[FraudReason] = Field(default_factory=list)


class Flag(_Strict):
    code: str
    field: str | None = None
    severity: Severity = "review"
    message: str


class PacketInfo(_Strict):
    source: str = Field(description="path relative to INBOX")
    sha256: str
    files: list[str]
    page_count: int = Field(ge=0)
    separator_barcode: str | None = Field(
        default=None, description="claim or packet number read from a barcode cover sheet"
    )
    part: int | None = Field(
        default=None,
        ge=1,
        description="when one scanned batch file holds several packets split at barcode "
        "separator sheets: this claim's position among them (1-based); null otherwise",
    )
    parts: int | None = Field(
        default=None, ge=2, description="how many packets the batch file was split into"
    )


class Claim(_Strict):
    """One claim file, `OUT/claims/<claim_id>.json`."""

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    claim_id: str
    packet: PacketInfo
    language: str = "en"
    currency: str = "USD"
    claim_type: ExtractedField = Field(default_factory=ExtractedField.missing)
    documents: list[ClaimDocument] = Field(default_factory=list)
    fields: ClaimFields = Field(default_factory=ClaimFields)
    diagnoses: list[Diagnosis] = Field(default_factory=list)
    line_items: list[LineItem] = Field(default_factory=list)
    reconciliation: Reconciliation = Field(default_factory=Reconciliation)
    completeness: Completeness = Field(default_factory=Completeness)
    fraud: Fraud = Field(default_factory=Fraud)
    flags: list[Flag] = Field(default_factory=list)
    status: Status = "needs_review"
    pipeline_version: str | None = None
    processed_at: str | None = Field(default=None, description="UTC ISO time; not part of identity")


def claim_json_schema() -> dict[str, object]:
    """The JSON Schema of the claim file, as `claim-intake schema` prints it."""
    schema = Claim.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "claim-intake claim file"
    return schema
