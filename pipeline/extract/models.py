"""What extraction hands on: the fields, diagnoses and line items of one document, with evidence."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.extract.confidence import ValueEvidence
from pipeline.schema import CodeSystem, Diagnosis, ExtractedField, Source

__all__ = ["LineItemDraft", "DocumentExtraction"]


class LineItemDraft(BaseModel):
    """`schema.LineItem` before the claim knows which document index it belongs to."""

    model_config = ConfigDict(extra="forbid")

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
        if value is not None and (len(value) != 10 or value[4] != "-" or value[7] != "-"):
            raise ValueError(f"service_date must be YYYY-MM-DD, got {value!r}")
        return value


class DocumentExtraction(BaseModel):
    """Everything read from one document; `evidence` keys look like "fields.total", "line_items.3"."""

    model_config = ConfigDict(extra="forbid")

    doc_type: str
    fields: dict[str, ExtractedField] = Field(default_factory=dict)
    diagnoses: list[Diagnosis] = Field(default_factory=list)
    line_items: list[LineItemDraft] = Field(default_factory=list)
    evidence: dict[str, ValueEvidence] = Field(default_factory=dict)
