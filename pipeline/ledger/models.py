"""What the ledger hands back: typed records, never rows or dicts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "PacketState",
    "SkipReason",
    "Claimed",
    "Skip",
    "PacketRecord",
    "ClaimRecord",
    "InvoiceRecord",
    "LedgerStats",
]

PacketState = Literal["discovered", "processing", "done", "quarantined"]
SkipReason = Literal["done", "in_progress", "quarantined"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Claimed(_Record):
    """This worker holds the packet until `lease_expires_at`; finish it with mark_done/quarantined."""

    packet_id: int
    name: str
    sha256: str
    version: int = Field(ge=1, description="1, 2, ... each time the packet's bytes change")
    worker_id: str
    attempt: int = Field(ge=1, description="how many times this version has been claimed")
    lease_expires_at: datetime
    reclaimed: bool = Field(description="the previous worker crashed or its lease ran out")
    previous_claim_id: str | None = Field(
        default=None, description="claim of the latest earlier version, which this one supersedes"
    )


class Skip(_Record):
    """Another worker has the packet, or these bytes were already processed."""

    name: str
    sha256: str
    version: int
    reason: SkipReason
    claim_id: str | None = None


class PacketRecord(_Record):
    packet_id: int
    name: str
    source: str
    sha256: str
    version: int
    state: PacketState
    claim_id: str | None
    claim_path: str | None
    worker_id: str | None
    pid: int | None
    hostname: str | None
    lease_expires_at: datetime | None
    attempts: int
    discovered_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    seconds: float | None
    error: str | None


class ClaimRecord(_Record):
    """A claim as fraud features see it: no names or birth dates, only the patient key."""

    claim_id: str
    packet_name: str | None
    packet_sha256: str
    status: str
    claim_type: str | None
    fraud_score: float | None
    provider_npi: str | None
    patient_key: str | None
    service_date_from: str | None
    service_date_to: str | None
    service_date: str | None = Field(description="first day of service")
    total_billed: float | None
    currency: str | None
    created_at: datetime


class InvoiceRecord(_Record):
    claim_id: str
    provider_npi: str | None
    invoice_number: str
    invoice_date: str | None
    total: float | None
    patient_key: str | None
    claim_status: str
    created_at: datetime


class LedgerStats(_Record):
    packets: int
    packet_names: int
    by_state: dict[str, int]
    stale_processing: int = Field(description="processing rows whose lease has run out")
    claims: int
    invoices: int
