"""Plan a packet's story: claim type, people, dates, bills, missing pieces and injected fraud.

Packet i draws only from `derive_seed(seed, i)`, so it is the same whatever the corpus size.
Fraud patterns are injected on purpose and listed; non-fraud packets are built to hold
none of them (same identity everywhere, totals that add up, dates inside the policy,
plausible units, diagnoses that fit age and sex, prices at most 2x the typical).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from functools import lru_cache

from faker import Faker

from pipeline.schema import ClaimType
from pipeline.synth.entities import (
    BillingCode,
    Dx,
    Patient,
    Provider,
    billing_codes,
    implausible_diagnosis,
    make_patient,
    make_policy,
    make_provider,
    pick_diagnoses,
)
from pipeline.synth.story import Identity, InvoiceContent, ItemLine, Story
from pipeline.synth.vocab import vocabulary

__all__ = [
    "FRAUD_PATTERNS",
    "CHECKLISTS",
    "REQUIRED_FIELDS",
    "derive_seed",
    "plan_packet",
]

FRAUD_PATTERNS: tuple[str, ...] = (
    "duplicate_invoice",
    "inflated_amount",
    "total_mismatch",
    "service_before_policy",
    "identity_mismatch",
    "implausible_units",
    "diagnosis_implausible",
)
CHECKLISTS: dict[str, tuple[str, ...]] = {
    "outpatient": ("claim_form", "id_document", "invoice", "medical_record"),
    "inpatient": (
        "claim_form",
        "id_document",
        "invoice",
        "medical_record",
        "diagnosis_certificate",
    ),
    "accident": ("claim_form", "id_document", "invoice", "medical_record", "accident_report"),
    "critical_illness": ("claim_form", "id_document", "diagnosis_certificate", "medical_record"),
}
REQUIRED_FIELDS: tuple[str, ...] = (
    "patient_name",
    "patient_dob",
    "member_id",
    "policy_number",
    "total_billed",
)
_DOC_ORDER = (
    "claim_form",
    "id_document",
    "invoice",
    "medical_record",
    "diagnosis_certificate",
    "accident_report",
)
_PRINTS_DOB = frozenset({"claim_form", "invoice", "medical_record", "diagnosis_certificate"})
_INVOICE_PATTERNS = ("inflated_amount", "total_mismatch", "implausible_units", "duplicate_invoice")
FRAUD_RATE = 0.2
INCOMPLETE_RATE = 0.15


def derive_seed(seed: int, index: int, salt: str = "") -> int:
    """A 64-bit seed from (seed, index, salt) that does not depend on Python's hash randomisation."""
    digest = hashlib.sha256(f"claim-intake-synth/{seed}/{index}/{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


@lru_cache(maxsize=4096)
def _codes() -> dict[str, BillingCode]:
    return {c.code: c for c in billing_codes()}


def _line(
    rng: random.Random, code: str, day: dt.date, qty: int = 1, legit_high: bool = True
) -> ItemLine:
    bc = _codes()[code]
    factor = rng.uniform(0.85, 1.2)
    if legit_high and rng.random() < 0.08:
        factor = rng.uniform(1.3, 2.0)  # high but legitimate: a pricey provider
    unit = round(bc.typical_price * factor, 2)
    return ItemLine(
        service_date=day, code=bc, quantity=qty, unit_price=unit, amount=round(unit * qty, 2)
    )


def _pick(rng: random.Random, options: tuple[str, ...], k: int) -> list[str]:
    return rng.sample(options, k=min(k, len(options)))


def _outpatient_lines(rng: random.Random, day: dt.date) -> list[ItemLine]:
    em = rng.choice(
        ("99202", "99203", "99204", "99212", "99213", "99213", "99214", "99215", "99396")
    )
    lines = [_line(rng, em, day)]
    labs = _pick(
        rng,
        ("80053", "80061", "85025", "81001", "83036", "84443", "87804", "87880", "82947"),
        rng.choice((0, 1, 2, 3)),
    )
    if labs:
        lines.append(_line(rng, "36415", day))
        lines += [_line(rng, c, day) for c in labs]
    if rng.random() < 0.3:
        lines.append(_line(rng, rng.choice(("71046", "72100", "73562", "76700", "93000")), day))
    if rng.random() < 0.25:
        drug = rng.choice(("J1100", "J0696", "J1885"))
        lines += [_line(rng, "96372", day), _line(rng, drug, day, qty=rng.choice((1, 2, 4)))]
    if rng.random() < 0.15:
        lines += [_line(rng, "90471", day), _line(rng, "90686", day)]
    if rng.random() < 0.3:
        follow = day + dt.timedelta(days=rng.randrange(7, 22))
        lines.append(_line(rng, "99213", follow))
    return lines


def _inpatient_lines(rng: random.Random, start: dt.date, nights: int, dx: Dx) -> list[ItemLine]:
    days = [start + dt.timedelta(days=i) for i in range(nights + 1)]
    room = rng.choice(("0110", "0120"))
    lines: list[ItemLine] = []
    daily = rng.random() < 0.6
    if daily:
        for d in days[:-1]:
            lines.append(_line(rng, room, d, legit_high=False))
    else:
        lines.append(_line(rng, room, start, qty=nights, legit_high=False))
    lines.append(_line(rng, "99223", start))
    for d in days[1:-1]:
        lines.append(_line(rng, rng.choice(("99231", "99232", "99233")), d))
    lines.append(_line(rng, rng.choice(("99238", "99239")), days[-1]))
    for d in days[:-1] if daily else days[:1]:
        lines.append(_line(rng, "0300", d, qty=1 if daily else len(days) - 1))
        lines.append(_line(rng, "0250", d, qty=1 if daily else len(days) - 1))
        if daily:  # a fully itemized hospital bill: each day's labs and drugs on their own line
            for code in _pick(
                rng, ("85025", "80048", "J7030", "J0696", "J2405", "J1885"), rng.randrange(2, 6)
            ):
                qty = rng.choice((1, 2, 4)) if code.startswith("J") else 1
                lines.append(_line(rng, code, d, qty=qty))
    lines.append(_line(rng, "0258", start, qty=rng.randrange(1, 4)))
    for code in _pick(rng, ("0320", "0350", "0730", "0410", "0270"), rng.randrange(1, 4)):
        lines.append(_line(rng, code, rng.choice(days)))
    if dx.code in ("K35.80", "K80.20"):
        surgery = "44970" if dx.code == "K35.80" else "47562"
        lines += [_line(rng, c, start) for c in ("0360", "0370", "0710", surgery, "00790")]
    return sorted(lines, key=lambda li: li.service_date)


_ACCIDENT_CARE: dict[str, tuple[str, ...]] = {
    "S52": ("73110", "25600", "29125", "L3908"),
    "S82": ("73562", "29515", "E0114", "L4360"),
    "S42": ("73030", "A4570"),
    "S06": ("70450",),
    "S09": ("70450",),
    "S93": ("73610", "29515", "L4360"),
    "S13": ("96372", "J1885"),
    "S61": ("12002",),
    "S01": ("12011",),
    "S83": ("73562", "E0114"),
    "S22": ("71046", "71250"),
}


def _accident_lines(rng: random.Random, day: dt.date, dx: Dx) -> list[ItemLine]:
    lines = [_line(rng, rng.choice(("99283", "99284", "99285")), day)]
    if rng.random() < 0.5:
        lines.append(_line(rng, "0450", day))
    for code in _ACCIDENT_CARE.get(dx.code[:3], ("71046",)):
        lines.append(_line(rng, code, day))
    if rng.random() < 0.5:
        lines.append(
            _line(rng, rng.choice(("J2270", "J2405", "J1885")), day, qty=rng.choice((1, 2)))
        )
    if rng.random() < 0.4:
        follow = day + dt.timedelta(days=rng.randrange(7, 15))
        lines.append(_line(rng, "99213", follow))
        if rng.random() < 0.5:
            lines.append(_line(rng, "97110", follow, qty=rng.choice((2, 3, 4))))
    return lines


def _critical_lines(rng: random.Random, day: dt.date, dx: Dx, nights: int) -> list[ItemLine]:
    if dx.code.startswith("C"):
        lines = [_line(rng, "99205", day), _line(rng, "88305", day)]
        if dx.code.startswith("C50"):
            lines.append(_line(rng, "19301", day + dt.timedelta(days=7)))
        chemo = day + dt.timedelta(days=rng.randrange(14, 28))
        lines += [
            _line(rng, "96413", chemo),
            _line(rng, "96415", chemo, qty=rng.choice((1, 2))),
            _line(rng, "J9267", chemo, qty=rng.choice((200, 260, 300))),
            _line(rng, "J9045", chemo, qty=rng.choice((6, 8, 10))),
            _line(rng, "J2405", chemo, qty=8),
        ]
        if dx.code.startswith("C50") and rng.random() < 0.5:
            lines.append(_line(rng, "J9355", chemo, qty=rng.choice((30, 40, 60))))
        return lines
    lines = _inpatient_lines(rng, day, nights, dx)
    extra = ("92928", "93306") if dx.code.startswith("I21") else ("70450", "0420")
    return lines + [_line(rng, c, day) for c in extra]


def _invoice_number(rng: random.Random, year: int) -> str:
    return rng.choice(
        (
            f"INV-{year}-{rng.randrange(10**6):06d}",
            f"{rng.randrange(10**8, 10**9)}",
            f"ST{rng.randrange(10**7):07d}",
            f"B-{rng.randrange(10**5):05d}-{rng.randrange(100):02d}",
        )
    )


def _invoice(rng: random.Random, provider: Provider, lines: list[ItemLine]) -> InvoiceContent:
    last = max(li.service_date for li in lines)
    total = round(sum(li.amount for li in lines), 2)
    return InvoiceContent(
        provider=provider,
        number=_invoice_number(rng, last.year),
        date=last + dt.timedelta(days=rng.randrange(0, 21)),
        account=f"{rng.choice(('ACCT', 'A', ''))}{rng.randrange(10**7):07d}",
        lines=lines,
        printed_total=total,
        layout_seed=rng.randrange(2**62),
    )


def _altered_name(rng: random.Random, fake: Faker, p: Patient) -> str:
    if rng.random() < 0.5:
        first = fake.first_name_female() if p.sex == "F" else fake.first_name_male()
        while first == p.first:
            first = first + "a"
        return Patient(**{**p.model_dump(), "first": first}).name
    last = fake.last_name()
    if last == p.last:
        last = last + "s"
    return Patient(**{**p.model_dump(), "last": last}).name


def _altered_dob(rng: random.Random, dob: dt.date) -> dt.date:
    if dob.day <= 12 and dob.day != dob.month and rng.random() < 0.4:
        return dob.replace(month=dob.day, day=dob.month)
    shift = rng.choice((-1, 1)) * rng.choice((1, 2, 3, 5, 10, 365, 730))
    return dob + dt.timedelta(days=shift)


@lru_cache(maxsize=1024)
def plan_packet(seed: int, index: int, language: str = "en") -> Story:
    """The story of packet `index` of the corpus with `seed`; printed phrases come from `language`."""
    vocab = vocabulary(language)
    rng = random.Random(derive_seed(seed, index))
    fake = Faker("en_US")
    fake.seed_instance(derive_seed(seed, index, "faker"))

    is_fraud = rng.random() < FRAUD_RATE
    incomplete = rng.random() < INCOMPLETE_RATE
    patterns: list[str] = []
    if is_fraud:
        patterns.append(rng.choice(FRAUD_PATTERNS))
        if patterns[0] != "duplicate_invoice" and rng.random() < 0.25:
            second = rng.choice(
                [p for p in FRAUD_PATTERNS if p not in patterns and p != "duplicate_invoice"]
            )
            patterns.append(second)
    if "duplicate_invoice" in patterns:
        dup = _duplicate_of(seed, index, rng, language)
        if dup is not None:
            return dup
        patterns = [rng.choice(FRAUD_PATTERNS[1:])]

    claim_type: ClaimType = rng.choices(
        ("outpatient", "inpatient", "accident", "critical_illness"), weights=(35, 25, 25, 15)
    )[0]
    patient = make_patient(fake, rng)
    kind_hint = {
        "outpatient": rng.choice(
            (
                "{city} Family Medicine",
                "{last} Medical Group",
                "{city} Internal Medicine Associates",
            )
        ),
        "inpatient": rng.choice(
            ("{city} General Hospital", "St. {first} Medical Center", "{city} Regional Health")
        ),
        "accident": rng.choice(
            ("{city} Urgent Care", "{last} & {last2} Orthopedics", "{city} General Hospital")
        ),
        "critical_illness": rng.choice(
            ("{city} Cancer Institute", "St. {first} Medical Center", "{city} Regional Health")
        ),
    }[claim_type]
    provider = make_provider(fake, rng, kind_hint)
    anchor = dt.date(2025, 1, 6) + dt.timedelta(days=rng.randrange(620))
    diagnoses = pick_diagnoses(rng, claim_type, patient.sex)
    primary = diagnoses[0]

    visit = admission = discharge = accident = None
    place = description = None
    nights = rng.randrange(1, 9)
    invoices: list[InvoiceContent] = []
    if claim_type == "outpatient":
        visit = anchor
        invoices.append(_invoice(rng, provider, _outpatient_lines(rng, anchor)))
    elif claim_type == "inpatient":
        admission, discharge = anchor, anchor + dt.timedelta(days=nights)
        invoices.append(_invoice(rng, provider, _inpatient_lines(rng, anchor, nights, primary)))
    elif claim_type == "accident":
        accident = anchor
        visit = anchor + dt.timedelta(days=rng.choice((0, 0, 0, 1)))
        place = rng.choice(vocab.phrases["accident_place"])
        description = rng.choice(vocab.phrases["accident_kind"])
        invoices.append(_invoice(rng, provider, _accident_lines(rng, visit, primary)))
        if rng.random() < 0.3:
            ems = make_provider(fake, rng, "{city} Emergency Medical Services")
            amb = [
                _line(rng, rng.choice(("A0427", "A0429")), accident),
                _line(rng, "A0425", accident, qty=rng.randrange(3, 26)),
            ]
            invoices.append(_invoice(rng, ems, amb))
    else:
        if primary.code.startswith(("I21", "I63", "I61")):
            admission, discharge = anchor, anchor + dt.timedelta(days=nights + 2)
        else:
            visit = anchor
        if rng.random() < 0.5 or any(p in _INVOICE_PATTERNS for p in patterns):
            invoices.append(
                _invoice(rng, provider, _critical_lines(rng, anchor, primary, nights + 2))
            )
    if claim_type in ("outpatient", "inpatient") and rng.random() < 0.15:
        lab = make_provider(
            fake, rng, rng.choice(("{city} Diagnostic Laboratory", "{city} Imaging Center"))
        )
        day = visit or admission or anchor
        codes = ("80053", "85025", "84443") if "Laboratory" in lab.name else ("71046", "76700")
        invoices.append(_invoice(rng, lab, [_line(rng, c, day) for c in codes]))

    service_days = [li.service_date for inv in invoices for li in inv.lines]
    service_days += [d for d in (visit, admission, discharge) if d is not None]
    first_service = min(service_days)
    effective = first_service - dt.timedelta(days=rng.randrange(20, 1500))

    # ---- fraud injection
    if "inflated_amount" in patterns:
        inv = invoices[0]
        i = max(
            range(len(inv.lines)),
            key=lambda k: inv.lines[k].code.typical_price if inv.lines[k].quantity == 1 else 0,
        )
        li = inv.lines[i]
        unit = round(li.code.typical_price * rng.uniform(3.0, 8.0), 2)
        new = li.model_copy(update={"unit_price": unit, "amount": round(unit * li.quantity, 2)})
        lines = [*inv.lines[:i], new, *inv.lines[i + 1 :]]
        invoices[0] = inv.model_copy(
            update={"lines": lines, "printed_total": round(sum(x.amount for x in lines), 2)}
        )
    if "implausible_units" in patterns:
        inv = invoices[0]
        em = next((k for k, x in enumerate(inv.lines) if x.code.code.startswith("99")), 0)
        li = inv.lines[em]
        qty = rng.randrange(15, 41)
        new = li.model_copy(update={"quantity": qty, "amount": round(li.unit_price * qty, 2)})
        lines = [*inv.lines[:em], new, *inv.lines[em + 1 :]]
        invoices[0] = inv.model_copy(
            update={"lines": lines, "printed_total": round(sum(x.amount for x in lines), 2)}
        )
    if "total_mismatch" in patterns:
        inv = invoices[0]
        real = round(sum(x.amount for x in inv.lines), 2)
        delta = rng.choice((inv.lines[0].amount, round(rng.uniform(10, 500), 2), 100.0, 1000.0))
        invoices[0] = inv.model_copy(update={"printed_total": round(real + max(delta, 1.0), 2)})
    if "service_before_policy" in patterns:
        effective = first_service + dt.timedelta(days=rng.randrange(5, 120))
    if "diagnosis_implausible" in patterns:
        bad = implausible_diagnosis(rng, patient.sex, patient.age_on(first_service))
        diagnoses = [diagnoses[0], bad, *diagnoses[1:]]

    policy = make_policy(rng, effective)

    # ---- documents present
    docs = list(CHECKLISTS[claim_type])
    if invoices and "invoice" not in docs:
        docs.append("invoice")
    if not invoices and "invoice" in docs:
        docs.remove("invoice")
    blank: str | None = None
    if incomplete:
        if rng.random() < 0.6:
            needed = {"claim_form"} if "service_before_policy" in patterns else set()
            if any(p in _INVOICE_PATTERNS for p in patterns):
                needed.add("invoice")
            if "diagnosis_implausible" in patterns:
                needed.add("medical_record")
            droppable = [d for d in docs if d not in needed]
            docs.remove(rng.choice(droppable))
        else:
            blank = rng.choice(
                ("member_id", "member_id", "policy_number", "patient_dob", "patient_name")
            )
            if blank in ("member_id", "patient_name") and "id_document" in docs:
                docs.remove("id_document")
    if "invoice" not in docs:
        invoices = []
    docs = [d for d in _DOC_ORDER if d in docs]

    base = Identity(
        name=None if blank == "patient_name" else patient.name,
        dob=None if blank == "patient_dob" else patient.dob,
        member_id=None if blank == "member_id" else policy.member_id,
        policy_number=None if blank == "policy_number" else policy.policy_number,
    )
    identities = {d: base for d in _DOC_ORDER}
    if "identity_mismatch" in patterns:
        targets = [d for d in docs if d != "claim_form" and d != "accident_report"] or [
            d for d in docs if d != "claim_form"
        ]
        others = [d for d in docs if d not in targets[:1]]
        target = rng.choice(targets) if targets and others else None
        alter_name = False
        if target is not None:
            alter_name = base.name is not None and (rng.random() < 0.5 or base.dob is None)
            if not alter_name and target not in _PRINTS_DOB:
                # an id card may leave the birth date off, an accident report never prints it:
                # the other person's DOB goes on a document that always shows one
                target = next((d for d in targets if d in _PRINTS_DOB), None)
        if target is not None and alter_name:
            identities[target] = base.model_copy(update={"name": _altered_name(rng, fake, patient)})
        elif target is not None:
            identities[target] = base.model_copy(update={"dob": _altered_dob(rng, patient.dob)})
        else:
            patterns.remove("identity_mismatch")
            patterns.append("service_before_policy")
            policy = policy.model_copy(update={"effective": first_service + dt.timedelta(days=30)})
    if not patterns and is_fraud:
        is_fraud = False
    return Story(
        index=index,
        claim_type=claim_type,
        claim_type_stated="claim_form" in docs and rng.random() < 0.85,
        patient=patient,
        policy=policy,
        provider=provider,
        diagnoses=diagnoses,
        visit_date=visit,
        admission_date=admission,
        discharge_date=discharge,
        accident_date=accident,
        accident_place=place,
        accident_description=description,
        invoices=invoices,
        doc_types=docs,
        identities=identities,
        claim_form_shows_dx=rng.random() < 0.5,
        fraud_patterns=sorted(set(patterns)),
        packet_number=f"CLM-{anchor.year}-{rng.randrange(10**6):06d}",
    )


def _duplicate_of(seed: int, index: int, rng: random.Random, language: str) -> Story | None:
    """Packet `index` resubmits an earlier packet's claim: same patient, same invoice (provider, number, lines)."""
    if index == 0:
        return None
    for _ in range(8):
        j = rng.randrange(max(0, index - 40), index)
        orig = plan_packet(seed, j, language)
        base = orig.identities["claim_form"]
        complete = all(d in orig.doc_types for d in CHECKLISTS[orig.claim_type])
        blank = None in (base.name, base.dob, base.member_id, base.policy_number)
        if orig.fraud_patterns or not orig.invoices or not complete or blank:
            continue
        docs = list(orig.doc_types)
        return orig.model_copy(
            update={
                "index": index,
                "invoices": [orig.invoices[0]],
                "doc_types": docs,
                "fraud_patterns": ["duplicate_invoice"],
                "claim_type_stated": rng.random() < 0.85,
                "claim_form_shows_dx": rng.random() < 0.5,
                "packet_number": f"CLM-{orig.invoices[0].date.year}-{rng.randrange(10**6):06d}",
            }
        )
    return None
