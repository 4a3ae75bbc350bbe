"""The ledger-backed ClaimHistory answers exactly as the in-memory one the fraud model trains on."""

from __future__ import annotations

from pathlib import Path

from pipeline.fraud.history import InMemoryClaimHistory, claim_keys
from pipeline.ledger import Ledger
from pipeline.ledger.history import LedgerClaimHistory
from pipeline.schema import (
    Claim,
    ClaimDocument,
    ClaimFields,
    ExtractedField,
    LineItem,
    PacketInfo,
    PageRef,
)


def _f(value: str | float) -> ExtractedField:
    return ExtractedField(value=value, confidence=0.9)


def _claim(
    claim_id: str, sha: str, name: str, member: str, npi: str, number: str, day: str
) -> Claim:
    return Claim(
        claim_id=claim_id,
        packet=PacketInfo(source=f"{claim_id}.pdf", sha256=sha, files=["x.pdf"], page_count=1),
        documents=[
            ClaimDocument(
                doc_type="invoice",
                confidence=0.9,
                pages=[PageRef(file="x.pdf", page=1)],
                fields={
                    "provider_npi": _f(npi),
                    "invoice_number": _f(number),
                    "invoice_date": _f(day),
                    "total": _f(150.0),
                },
            )
        ],
        fields=ClaimFields(
            patient_name=_f(name),
            patient_dob=_f("1970-01-31"),
            member_id=_f(member),
            total_billed=_f(150.0),
        ),
        line_items=[
            LineItem(document=0, service_date=day, amount=100.0, confidence=0.9),
            LineItem(document=0, service_date=day, amount=50.0, confidence=0.9),
        ],
    )


def test_history_ledger_matches_in_memory(tmp_path: Path) -> None:
    claims = [
        _claim("c1", "1" * 64, "Mary J Smith", "M-1", "1234567893", "INV-1", "2026-01-02"),
        _claim("c2", "2" * 64, "Smith, Mary", "M 1", "1234567893", "inv1", "2026-01-02"),
        _claim("c3", "1" * 64, "Ann Lee", "M-9", "9876543210", "INV-7", "2026-02-03"),
    ]
    memory = InMemoryClaimHistory(claims)
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        stored = LedgerClaimHistory(ledger)
        for claim in claims:
            stored.add(claim)
        stored.add(claims[0])  # re-adding a claim replaces it, never duplicates
        asked = 0
        for claim in claims:
            keys = claim_keys(claim)
            cid = claim.claim_id
            for other in ("nobody", cid):
                pairs = [
                    (
                        stored.by_document_hash(keys.packet_sha256, other),
                        memory.by_document_hash(keys.packet_sha256, other),
                    ),
                ]
                for key in keys.patient_keys:
                    pairs.append((stored.by_patient(key, other), memory.by_patient(key, other)))
                for npi in keys.provider_npis:
                    pairs.append((stored.by_provider(npi, other), memory.by_provider(npi, other)))
                for invoice in keys.invoices:
                    if invoice.provider_npi and invoice.invoice_number:
                        pairs.append(
                            (
                                stored.by_invoice_number(
                                    invoice.provider_npi, invoice.invoice_number, other
                                ),
                                memory.by_invoice_number(
                                    invoice.provider_npi, invoice.invoice_number, other
                                ),
                            )
                        )
                    for fingerprint in invoice.fingerprints:
                        pairs.append(
                            (
                                stored.by_fingerprint(fingerprint, other),
                                memory.by_fingerprint(fingerprint, other),
                            )
                        )
                for got, want in pairs:
                    assert sorted(got, key=lambda r: r.claim_id) == sorted(
                        want, key=lambda r: r.claim_id
                    )
                    asked += 1
        assert asked > 20
        assert [r.claim_id for r in stored.by_document_hash("1" * 64, "c1")] == ["c3"]
        dupes = stored.by_invoice_number("1234567893", "INV1", "c2")
        assert [r.claim_id for r in dupes] == ["c1"] and str(dupes[0].service_date) == "2026-01-02"
