"""What the fraud features need to know about claims processed before this one.

`ClaimHistory` is a small Protocol so the ledger can back it with SQLite later; the
in-memory implementation here indexes a list of claims and is what training uses. Every
lookup takes the asking claim's id and never returns that claim itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from pipeline.schema import Claim, ExtractedField

__all__ = [
    "HistoryRecord",
    "InvoiceKey",
    "ClaimKeys",
    "ClaimHistory",
    "InMemoryClaimHistory",
    "claim_keys",
    "claim_service_date",
    "fold_identifier",
    "normalize_name",
    "parse_iso_date",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HistoryRecord(_Frozen):
    """One earlier claim as a lookup returns it: enough to count and date it, no patient data."""

    claim_id: str
    service_date: dt.date | None = None


class InvoiceKey(_Frozen):
    """How one invoice is recognised again: its number at a provider, and its fingerprint."""

    document: int
    provider_npi: str | None = None
    invoice_number: str | None = None
    fingerprints: list[str] = Field(
        default_factory=list,
        description="hashes of provider + date + amounts, and of provider + total + amounts",
    )


class ClaimKeys(_Frozen):
    """The lookup keys of one claim; the ledger stores these next to the claim."""

    claim_id: str
    packet_sha256: str
    service_date: dt.date | None
    invoices: list[InvoiceKey]
    patient_keys: list[str] = Field(description="hashed member id and hashed name+dob")
    provider_npis: list[str]


class ClaimHistory(Protocol):
    """Lookups over claims already processed; the ledger implements the same methods."""

    def by_invoice_number(
        self, provider_npi: str, invoice_number: str, exclude: str
    ) -> list[HistoryRecord]: ...

    def by_fingerprint(self, fingerprint: str, exclude: str) -> list[HistoryRecord]: ...

    def by_document_hash(self, sha256: str, exclude: str) -> list[HistoryRecord]: ...

    def by_patient(self, patient_key: str, exclude: str) -> list[HistoryRecord]: ...

    def by_provider(self, provider_npi: str, exclude: str) -> list[HistoryRecord]: ...


_NON_WORD = re.compile(r"[^\w\s]")
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")


def normalize_name(name: str) -> tuple[str, ...]:
    """Name tokens without case, punctuation or initials, sorted: "Smith, Mary J." == "Mary Smith"."""
    tokens = _NON_WORD.sub(" ", name.casefold()).split()
    return tuple(sorted(t for t in tokens if len(t) > 1))


def parse_iso_date(value: object) -> dt.date | None:
    """A `YYYY-MM-DD` value of a claim field as a date; anything else is unknown (None)."""
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _text(field: ExtractedField | None) -> str | None:
    if field is None or field.value is None:
        return None
    text = str(field.value).strip()
    return text or None


_LOOKALIKE = str.maketrans("OQDILSBZG", "001115826")


def fold_identifier(value: str | None) -> str | None:
    """An identifier compared without spaces, dashes and case, and with the letters OCR takes
    for digits folded onto them (O/0, I/1, S/5, B/8, Z/2 ...): "HDDS16721784" is "HDD516721784"."""
    if value is None:
        return None
    cleaned = _NON_ALNUM.sub("", value).upper().translate(_LOOKALIKE)
    return cleaned or None


_ident = fold_identifier


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def _money(value: object) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{float(value):.2f}"
    return None


def claim_service_date(claim: Claim) -> dt.date | None:
    """The first day of service: the claim field, else the earliest line item date."""
    first = parse_iso_date(claim.fields.service_date_from.value)
    if first is not None:
        return first
    dates = [d for d in (parse_iso_date(li.service_date) for li in claim.line_items) if d]
    return min(dates) if dates else None


def claim_keys(claim: Claim) -> ClaimKeys:
    """Everything the history indexes a claim by; patient keys are hashed, never stored raw."""
    invoices: list[InvoiceKey] = []
    for index, document in enumerate(claim.documents):
        if document.doc_type != "invoice":
            continue
        npi = _ident(_text(document.fields.get("provider_npi")))
        number = _ident(_text(document.fields.get("invoice_number")))
        date = _text(document.fields.get("invoice_date"))
        total = _money(document.fields.get("total", ExtractedField.missing()).value)
        amounts = sorted(
            a for a in (_money(li.amount) for li in claim.line_items if li.document == index) if a
        )
        provider = npi or _ident(_text(document.fields.get("provider_name")))
        money = ",".join(amounts) if amounts else total
        fingerprints = []
        if provider and money and date:
            fingerprints.append(_digest("dated", provider, date, money))
        if provider and money and total and len(amounts) >= 2:
            fingerprints.append(_digest("totalled", provider, total, money))
        invoices.append(
            InvoiceKey(
                document=index, provider_npi=npi, invoice_number=number, fingerprints=fingerprints
            )
        )
    patient_keys: list[str] = []
    member = _ident(_text(claim.fields.member_id))
    if member:
        patient_keys.append("member:" + _digest(member))
    name = _text(claim.fields.patient_name)
    dob = parse_iso_date(claim.fields.patient_dob.value)
    if name and dob:
        patient_keys.append("person:" + _digest(" ".join(normalize_name(name)), dob.isoformat()))
    npis = sorted({k.provider_npi for k in invoices if k.provider_npi})
    return ClaimKeys(
        claim_id=claim.claim_id,
        packet_sha256=claim.packet.sha256,
        service_date=claim_service_date(claim),
        invoices=invoices,
        patient_keys=patient_keys,
        provider_npis=npis,
    )


class InMemoryClaimHistory:
    """`ClaimHistory` over claims held in memory; `add` claims in the order they were processed."""

    def __init__(self, claims: Iterable[Claim] = ()) -> None:
        self._by_number: dict[tuple[str, str], list[HistoryRecord]] = defaultdict(list)
        self._by_fingerprint: dict[str, list[HistoryRecord]] = defaultdict(list)
        self._by_hash: dict[str, list[HistoryRecord]] = defaultdict(list)
        self._by_patient: dict[str, list[HistoryRecord]] = defaultdict(list)
        self._by_provider: dict[str, list[HistoryRecord]] = defaultdict(list)
        for claim in claims:
            self.add(claim)

    def add(self, claim: Claim) -> None:
        keys = claim_keys(claim)
        record = HistoryRecord(claim_id=keys.claim_id, service_date=keys.service_date)
        self._by_hash[keys.packet_sha256].append(record)
        for invoice in keys.invoices:
            if invoice.provider_npi and invoice.invoice_number:
                self._by_number[(invoice.provider_npi, invoice.invoice_number)].append(record)
            for fingerprint in invoice.fingerprints:
                self._by_fingerprint[fingerprint].append(record)
        for key in keys.patient_keys:
            self._by_patient[key].append(record)
        for npi in keys.provider_npis:
            self._by_provider[npi].append(record)

    @staticmethod
    def _others(records: list[HistoryRecord], exclude: str) -> list[HistoryRecord]:
        seen: set[str] = set()
        out = []
        for record in records:
            if record.claim_id != exclude and record.claim_id not in seen:
                seen.add(record.claim_id)
                out.append(record)
        return out

    def by_invoice_number(
        self, provider_npi: str, invoice_number: str, exclude: str
    ) -> list[HistoryRecord]:
        number = fold_identifier(invoice_number) or ""  # as printed or as claim_keys made it
        return self._others(self._by_number.get((provider_npi, number), []), exclude)

    def by_fingerprint(self, fingerprint: str, exclude: str) -> list[HistoryRecord]:
        return self._others(self._by_fingerprint.get(fingerprint, []), exclude)

    def by_document_hash(self, sha256: str, exclude: str) -> list[HistoryRecord]:
        return self._others(self._by_hash.get(sha256, []), exclude)

    def by_patient(self, patient_key: str, exclude: str) -> list[HistoryRecord]:
        return self._others(self._by_patient.get(patient_key, []), exclude)

    def by_provider(self, provider_npi: str, exclude: str) -> list[HistoryRecord]:
        return self._others(self._by_provider.get(provider_npi, []), exclude)
