"""The ledger's tables (SQLAlchemy Core): packets, claims, their invoices, and ledger metadata.

Times are naive UTC datetimes so SQLite and PostgreSQL compare them the same way.
No patient name or date of birth is stored: claims carry a keyed hash of both.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "metadata",
    "packets",
    "claims",
    "claim_invoices",
    "claim_keys",
    "ledger_meta",
    "PACKET_STATES",
]

PACKET_STATES: tuple[str, ...] = ("discovered", "processing", "done", "quarantined")

metadata = MetaData()

packets = Table(
    "packets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(512), nullable=False),
    Column("source", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("claim_id", String(128)),
    Column("claim_path", Text),
    Column("worker_id", String(256)),
    Column("pid", Integer),
    Column("hostname", String(256)),
    Column("lease_expires_at", DateTime),
    Column("attempts", Integer, nullable=False, default=0),
    Column("discovered_at", DateTime, nullable=False),
    Column("started_at", DateTime),
    Column("finished_at", DateTime),
    Column("seconds", Float),
    Column("error", Text),
    UniqueConstraint("name", "sha256", name="uq_packets_name_sha256"),
    UniqueConstraint("name", "version", name="uq_packets_name_version"),
)

claims = Table(
    "claims",
    metadata,
    Column("claim_id", String(128), primary_key=True),
    Column("packet_name", String(512)),
    Column("packet_sha256", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("claim_type", String(32)),
    Column("fraud_score", Float),
    Column("provider_npi", String(10)),
    Column("patient_key", String(64)),
    Column("service_date_from", String(10)),
    Column("service_date_to", String(10)),
    Column("service_date", String(10)),  # first day of service: field, else earliest line item
    Column("total_billed", Float),
    Column("currency", String(3)),
    Column("created_at", DateTime, nullable=False),
    Index("ix_claims_patient_key", "patient_key"),
    Index("ix_claims_provider_dates", "provider_npi", "service_date_from"),
)

claim_invoices = Table(
    "claim_invoices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "claim_id", String(128), ForeignKey("claims.claim_id", ondelete="CASCADE"), nullable=False
    ),
    Column("provider_npi", String(10)),
    Column("invoice_number", String(128), nullable=False),
    Column("invoice_date", String(10)),
    Column("total", Float),
    Index("ix_invoices_npi_number", "provider_npi", "invoice_number"),
    Index("ix_invoices_claim", "claim_id"),
)

# Hashed lookup keys the fraud features ask by (invoice fingerprints, patient keys, ...):
# the caller computes them, the ledger only stores and matches them.
claim_keys = Table(
    "claim_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "claim_id", String(128), ForeignKey("claims.claim_id", ondelete="CASCADE"), nullable=False
    ),
    Column("kind", String(32), nullable=False),
    Column("key", String(256), nullable=False),
    UniqueConstraint("claim_id", "kind", "key", name="uq_claim_keys"),
    Index("ix_claim_keys_kind_key", "kind", "key"),
)

ledger_meta = Table(
    "ledger_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
