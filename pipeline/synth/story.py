"""What a synthetic claim packet says, before any drawing: the claim's "story".

The story is planned from the packet's own random stream only, so packet i is the same
whatever the corpus size; layouts turn it into pages, `corpus` into files and truth.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from pipeline.schema import ClaimType
from pipeline.synth.entities import BillingCode, Dx, Patient, Policy, Provider

__all__ = ["ItemLine", "InvoiceContent", "Identity", "Story"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemLine(_Model):
    service_date: dt.date
    code: BillingCode
    quantity: int
    unit_price: float
    amount: float


class InvoiceContent(_Model):
    """One bill; `layout_seed` fixes its look, so a duplicated invoice looks identical too."""

    provider: Provider
    number: str
    date: dt.date
    account: str
    lines: list[ItemLine]
    printed_total: float
    layout_seed: int


class Identity(_Model):
    """Who a document says the patient is; None means the value is left blank on the page."""

    name: str | None
    dob: dt.date | None
    member_id: str | None
    policy_number: str | None


class Story(_Model):
    index: int
    claim_type: ClaimType
    claim_type_stated: bool
    patient: Patient
    policy: Policy
    provider: Provider
    diagnoses: list[Dx]
    visit_date: dt.date | None = None
    admission_date: dt.date | None = None
    discharge_date: dt.date | None = None
    accident_date: dt.date | None = None
    accident_place: str | None = None
    accident_description: str | None = None
    invoices: list[InvoiceContent] = Field(default_factory=list)
    doc_types: list[str] = Field(description="documents present, in reading order")
    identities: dict[str, Identity] = Field(description="per doc type: the identity it prints")
    claim_form_shows_dx: bool = False
    fraud_patterns: list[str] = Field(default_factory=list)
    packet_number: str
