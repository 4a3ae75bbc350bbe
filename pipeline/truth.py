"""Ground truth of a synthetic packet, `truth/<packet>.json`: what `synth` rendered, what `eval` scores against.

Values use the claim file's conventions: dates `YYYY-MM-DD`, money a number rounded to
cents, ICD-10 codes upper case with the dot. A value that is not on the page is `null`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.document import DocType
from pipeline.schema import ClaimType, CodeSystem

__all__ = [
    "Profile",
    "TruthPage",
    "TruthDocument",
    "TruthDiagnosis",
    "TruthLineItem",
    "TruthCompleteness",
    "TruthFraud",
    "Truth",
]

Profile = Literal["digital", "scanned"]
TruthValue = str | float | int | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TruthPage(_Strict):
    """One page as it lies in the packet (file order), with what it is and how it was rendered."""

    file: str
    page: int = Field(ge=1)
    doc_type: DocType
    document: int = Field(ge=0, description="index into `documents`")
    profile: Profile
    rotation: int = 0
    dpi: int | None = None
    degradations: list[str] = Field(default_factory=list)
    separator: bool = Field(default=False, description="a barcode cover sheet, not a document page")


class TruthDocument(_Strict):
    doc_type: DocType
    layout: str = Field(description="name of the template variant that drew it")
    pages: list[dict[str, str | int]] = Field(description="[{file, page}] in reading order")
    fields: dict[str, TruthValue] = Field(default_factory=dict)


class TruthDiagnosis(_Strict):
    code: str
    description: str


class TruthLineItem(_Strict):
    document: int
    service_date: str | None
    code: str | None
    code_system: CodeSystem | None
    description: str | None
    quantity: float | None
    unit_price: float | None
    amount: float | None


class TruthCompleteness(_Strict):
    checklist: ClaimType
    complete: bool
    missing_documents: list[DocType]
    missing_fields: list[str]


class TruthFraud(_Strict):
    label: Literal[0, 1]
    patterns: list[str] = Field(default_factory=list)


class Truth(_Strict):
    packet: str = Field(description="packet name as it lies in inbox/ (folder or file name)")
    seed: int
    profile: Literal["digital", "scanned", "mixed"]
    language: str = "en"
    currency: str = "USD"
    claim_type: ClaimType
    claim_type_stated: bool = Field(description="the claim form's checkbox shows the type")
    pages: list[TruthPage]
    documents: list[TruthDocument]
    fields: dict[str, TruthValue]
    diagnoses: list[TruthDiagnosis]
    line_items: list[TruthLineItem]
    completeness: TruthCompleteness
    fraud: TruthFraud
    separator_barcode: str | None = None
