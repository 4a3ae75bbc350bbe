"""The durable ledger of packets and claims; see `pipeline.ledger.core` for recovery semantics."""

from pipeline.ledger.core import (
    DEFAULT_LEASE_SECONDS,
    DEFAULT_LEDGER_NAME,
    Ledger,
    default_ledger_path,
    display_target,
    ledger_target,
    patient_key,
    worker_identity,
)
from pipeline.ledger.models import (
    Claimed,
    ClaimRecord,
    InvoiceRecord,
    LedgerStats,
    PacketRecord,
    Skip,
)

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "DEFAULT_LEDGER_NAME",
    "Ledger",
    "default_ledger_path",
    "display_target",
    "ledger_target",
    "patient_key",
    "worker_identity",
    "Claimed",
    "ClaimRecord",
    "InvoiceRecord",
    "LedgerStats",
    "PacketRecord",
    "Skip",
]
