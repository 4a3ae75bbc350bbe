"""The ledger as the fraud features' `ClaimHistory`: the same lookups, backed by the database.

The keys (invoice numbers, fingerprints, hashed patient keys) are computed by
`pipeline.fraud.history.claim_keys`, so the in-memory history used in training and this
one used in production match claims by exactly the same rules.
"""

from __future__ import annotations

import datetime as dt

from pipeline.fraud.history import ClaimHistory, HistoryRecord, claim_keys, fold_identifier
from pipeline.ledger.core import Ledger
from pipeline.ledger.models import ClaimRecord
from pipeline.schema import Claim

__all__ = ["LedgerClaimHistory"]

_INVOICE = "invoice_number"
_FINGERPRINT = "fingerprint"
_PATIENT = "patient"
_PROVIDER = "provider"


def _invoice_key(provider_npi: str, invoice_number: str) -> str:
    # Folding is idempotent: a number as printed and one claim_keys folded give one key.
    return f"{provider_npi}|{fold_identifier(invoice_number) or ''}"


def _history(records: list[ClaimRecord]) -> list[HistoryRecord]:
    return [
        HistoryRecord(
            claim_id=record.claim_id,
            service_date=dt.date.fromisoformat(record.service_date)
            if record.service_date
            else None,
        )
        for record in records
    ]


class LedgerClaimHistory:
    """`ClaimHistory` over a `Ledger`; `add` a claim once it is written."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def add(self, claim: Claim, packet_name: str | None = None) -> ClaimRecord:
        keys = claim_keys(claim)
        invoice_numbers = [
            _invoice_key(k.provider_npi, k.invoice_number)
            for k in keys.invoices
            if k.provider_npi and k.invoice_number
        ]
        fingerprints = [f for k in keys.invoices for f in k.fingerprints]
        return self.ledger.record_claim(
            claim,
            packet_name=packet_name,
            lookup_keys={
                _INVOICE: invoice_numbers,
                _FINGERPRINT: fingerprints,
                _PATIENT: keys.patient_keys,
                _PROVIDER: keys.provider_npis,
            },
        )

    def by_invoice_number(
        self, provider_npi: str, invoice_number: str, exclude: str
    ) -> list[HistoryRecord]:
        key = _invoice_key(provider_npi, invoice_number)
        return _history(self.ledger.claims_with_key(_INVOICE, key, exclude))

    def by_fingerprint(self, fingerprint: str, exclude: str) -> list[HistoryRecord]:
        return _history(self.ledger.claims_with_key(_FINGERPRINT, fingerprint, exclude))

    def by_document_hash(self, sha256: str, exclude: str) -> list[HistoryRecord]:
        return _history(self.ledger.claims_by_packet_sha256(sha256, exclude))

    def by_patient(self, patient_key: str, exclude: str) -> list[HistoryRecord]:
        return _history(self.ledger.claims_with_key(_PATIENT, patient_key, exclude))

    def by_provider(self, provider_npi: str, exclude: str) -> list[HistoryRecord]:
        return _history(self.ledger.claims_with_key(_PROVIDER, provider_npi, exclude))


def _conforms(history: LedgerClaimHistory) -> ClaimHistory:
    return history  # mypy checks here that the adapter satisfies the protocol
