"""A claim as a FHIR Bundle, for core systems that speak FHIR: `OUT/fhir/<claim_id>.json`.

The bundle follows FHIR R4B (4.3.0), the R4-compatible release that `fhir.resources`
ships as `fhir.resources.R4B`; every bundle is validated by building those models before it
is written. A value the claim does not have is left out. Where FHIR requires an element we
could not read (Claim.provider, Claim.type, Claim.created, Coverage.payor) it carries the
standard data-absent-reason extension instead of a made-up value. Resource ids are UUIDs
derived from the claim id, so the same claim always gives the same bundle.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

from fhir.resources.R4B.bundle import Bundle

from pipeline.io.emit import atomic_write_text
from pipeline.schema import Claim, ClaimDocument, ExtractedField

__all__ = [
    "FHIR_VERSION",
    "CODE_SYSTEMS",
    "claim_to_fhir_bundle",
    "write_fhir",
    "fhir_path",
]

FHIR_VERSION = "4.3.0"

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
NPI = "http://hl7.org/fhir/sid/us-npi"
CODE_SYSTEMS: dict[str, str] = {
    "CPT": "http://www.ama-assn.org/go/cpt",
    "HCPCS": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
    "REV": "https://www.nubc.org/CodeSystem/RevenueCodes",
    "NDC": "http://hl7.org/fhir/sid/ndc",
}
_CLAIM_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/claim-type"
_PRIORITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/processpriority"
_IDENTIFIER_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
_DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
_CLAIM_ID_SYSTEM = "urn:claim-intake:claim-id"
_NAMESPACE = uuid.UUID("6f1c2a0e-3b7d-5c1e-9a4f-0c1a13e0a7e0")  # fixed: ids stay stable
# FHIR Claim.type: institutional claims are hospital stays; everything else is professional.
_FHIR_CLAIM_TYPE: dict[str, str] = {
    "inpatient": "institutional",
    "outpatient": "professional",
    "accident": "professional",
    "critical_illness": "professional",
}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NPI_SHAPE = re.compile(r"^\d{10}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")

JsonObject = dict[str, object]


def _absent() -> JsonObject:
    return {"extension": [{"url": _DATA_ABSENT, "valueCode": "unknown"}]}


def _uuid(claim_id: str, role: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{claim_id}/{role}"))


def _text(field: ExtractedField | None) -> str | None:
    if field is None or field.value is None:
        return None
    text = str(field.value).strip()
    return text or None


def _date(field: ExtractedField | None) -> str | None:
    text = _text(field)
    return text if text is not None and _ISO_DATE.match(text) else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def _provider(documents: list[ClaimDocument]) -> tuple[str | None, str | None]:
    """Provider name and NPI from the invoices first, then any other document that has them."""
    ordered = sorted(documents, key=lambda doc: doc.doc_type != "invoice")
    name = next((v for d in ordered if (v := _text(d.fields.get("provider_name")))), None)
    npi = next((v for d in ordered if (v := _text(d.fields.get("provider_npi")))), None)
    if npi is not None and not _NPI_SHAPE.match(npi):
        npi = None
    return name, npi


def _money(value: float | None, currency: str | None) -> JsonObject | None:
    if value is None:
        return None
    money: JsonObject = {"value": round(value, 2)}
    if currency:
        money["currency"] = currency
    return money


def _patient(claim: Claim, pid: str) -> JsonObject:
    resource: JsonObject = {"resourceType": "Patient", "id": pid}
    name = _text(claim.fields.patient_name)
    if name:
        resource["name"] = [{"text": name}]
    dob = _date(claim.fields.patient_dob)
    if dob:
        resource["birthDate"] = dob
    member = _text(claim.fields.member_id)
    if member:
        resource["identifier"] = [
            {
                "type": {"coding": [{"system": _IDENTIFIER_TYPE_SYSTEM, "code": "MB"}]},
                "value": member,
            }
        ]
    return resource


def _organization(oid: str, name: str | None, npi: str | None) -> JsonObject:
    resource: JsonObject = {"resourceType": "Organization", "id": oid}
    if name:
        resource["name"] = name
    if npi:
        resource["identifier"] = [{"system": NPI, "value": npi}]
    return resource


def _coverage(claim: Claim, cid: str, patient_ref: str) -> JsonObject:
    resource: JsonObject = {
        "resourceType": "Coverage",
        "id": cid,
        "status": "active",
        "beneficiary": {"reference": patient_ref},
        "payor": [_absent()],
    }
    policy = _text(claim.fields.policy_number)
    if policy:
        resource["identifier"] = [{"value": policy}]
    member = _text(claim.fields.member_id)
    if member:
        resource["subscriberId"] = member
    return resource


def _diagnoses(claim: Claim) -> list[JsonObject]:
    entries: list[JsonObject] = []
    for sequence, diagnosis in enumerate(claim.diagnoses, start=1):
        concept: JsonObject
        if diagnosis.valid:
            coding: JsonObject = {"system": ICD10CM, "code": diagnosis.code}
            if diagnosis.description:
                coding["display"] = diagnosis.description
            concept = {"coding": [coding]}
        else:
            # Not in the ICD-10-CM code set: keep what was read, but do not claim the system.
            concept = {"text": diagnosis.code}
        entries.append({"sequence": sequence, "diagnosisCodeableConcept": concept})
    return entries


def _items(claim: Claim, currency: str | None) -> list[JsonObject]:
    items: list[JsonObject] = []
    for sequence, line in enumerate(claim.line_items, start=1):
        system = CODE_SYSTEMS.get(line.code_system or "")
        product: JsonObject
        if line.code and system:
            coding: JsonObject = {"system": system, "code": line.code}
            if line.description:
                coding["display"] = line.description
            product = {"coding": [coding]}
        elif line.description or line.code:
            product = {"text": line.description or line.code}
        else:
            product = _absent()
        item: JsonObject = {"sequence": sequence, "productOrService": product}
        if line.service_date:
            item["servicedDate"] = line.service_date
        if line.quantity is not None:
            item["quantity"] = {"value": line.quantity}
        if (unit := _money(line.unit_price, currency)) is not None:
            item["unitPrice"] = unit
        if (net := _money(line.amount, currency)) is not None:
            item["net"] = net
        items.append(item)
    return items


def _created(claim: Claim) -> str | None:
    served = _date(claim.fields.service_date_to)
    if served:
        return served
    if claim.processed_at and _ISO_DATE.match(claim.processed_at[:10]):
        return claim.processed_at[:10]
    return None


def _claim(
    claim: Claim, rid: str, patient_ref: str, provider_ref: str | None, coverage_ref: str
) -> JsonObject:
    currency = claim.currency if _CURRENCY.match(claim.currency or "") else None
    kind = _FHIR_CLAIM_TYPE.get(str(claim.claim_type.value)) if claim.claim_type.value else None
    resource: JsonObject = {
        "resourceType": "Claim",
        "id": rid,
        "identifier": [{"system": _CLAIM_ID_SYSTEM, "value": claim.claim_id}],
        "status": "active",
        "type": ({"coding": [{"system": _CLAIM_TYPE_SYSTEM, "code": kind}]} if kind else _absent()),
        "use": "claim",
        "patient": {"reference": patient_ref},
        "provider": {"reference": provider_ref} if provider_ref else _absent(),
        "priority": {"coding": [{"system": _PRIORITY_SYSTEM, "code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": coverage_ref}}],
    }
    created = _created(claim)
    if created:
        resource["created"] = created
    else:
        resource["_created"] = _absent()
    start, end = _date(claim.fields.service_date_from), _date(claim.fields.service_date_to)
    if start or end:
        period: JsonObject = {}
        if start:
            period["start"] = start
        if end:
            period["end"] = end
        resource["billablePeriod"] = period
    if diagnoses := _diagnoses(claim):
        resource["diagnosis"] = diagnoses
    if items := _items(claim, currency):
        resource["item"] = items
    total = _money(_number(claim.fields.total_billed.value), currency)
    if total is not None:
        resource["total"] = total
    return resource


def claim_to_fhir_bundle(claim: Claim) -> JsonObject:
    """A validated FHIR R4B collection Bundle (Patient, Organization, Coverage, Claim) as JSON."""
    ids = {
        role: _uuid(claim.claim_id, role) for role in ("bundle", "patient", "org", "cov", "claim")
    }
    patient_ref = f"urn:uuid:{ids['patient']}"
    coverage_ref = f"urn:uuid:{ids['cov']}"
    name, npi = _provider(claim.documents)
    resources: list[tuple[str, JsonObject]] = [(ids["patient"], _patient(claim, ids["patient"]))]
    provider_ref = None
    if name or npi:
        provider_ref = f"urn:uuid:{ids['org']}"
        resources.append((ids["org"], _organization(ids["org"], name, npi)))
    resources.append((ids["cov"], _coverage(claim, ids["cov"], patient_ref)))
    resources.append(
        (ids["claim"], _claim(claim, ids["claim"], patient_ref, provider_ref, coverage_ref))
    )
    payload: JsonObject = {
        "resourceType": "Bundle",
        "id": ids["bundle"],
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{rid}", "resource": body} for rid, body in resources],
    }
    bundle = Bundle.model_validate(payload)
    result: JsonObject = json.loads(bundle.model_dump_json())
    return result


def fhir_path(out: Path, claim_id: str) -> Path:
    return out / "fhir" / f"{claim_id}.json"


def write_fhir(out: Path, claim: Claim) -> Path:
    """Validate and write `OUT/fhir/<claim_id>.json` atomically."""
    bundle = claim_to_fhir_bundle(claim)
    text = json.dumps(bundle, indent=2, ensure_ascii=False)
    return atomic_write_text(fhir_path(out, claim.claim_id), text + "\n")
