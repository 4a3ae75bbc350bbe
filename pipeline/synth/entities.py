"""People, providers, policies and codes of synthetic claims.

Everything printed must be real enough to check: NPIs carry a valid Luhn check digit,
ICD-10-CM codes are billable in `simple_icd_10_cm`, procedure codes come from the shipped
reference table with modelled prices.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from functools import cache
from pathlib import Path
from typing import Literal

import simple_icd_10_cm as icd
from faker import Faker
from pydantic import BaseModel, ConfigDict

from pipeline.errors import ConfigError
from pipeline.schema import ClaimType, CodeSystem

__all__ = [
    "Patient",
    "Provider",
    "Policy",
    "BillingCode",
    "Dx",
    "billing_codes",
    "npi_check_digit",
    "npi_is_valid",
    "make_npi",
    "make_patient",
    "make_provider",
    "make_policy",
    "pick_diagnoses",
    "implausible_diagnosis",
    "icd_description",
]

Sex = Literal["F", "M"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Patient(_Frozen):
    first: str
    middle: str | None
    last: str
    dob: dt.date
    sex: Sex
    street: str
    city: str
    state: str
    zip: str
    phone: str

    @property
    def name(self) -> str:
        """The name as every document of a packet prints it, e.g. "Maria L. Gonzalez"."""
        if self.middle:
            return f"{self.first} {self.middle}. {self.last}"
        return f"{self.first} {self.last}"

    def age_on(self, day: dt.date) -> int:
        return day.year - self.dob.year - ((day.month, day.day) < (self.dob.month, self.dob.day))


class Provider(_Frozen):
    name: str
    street: str
    city: str
    state: str
    zip: str
    phone: str
    npi: str
    tax_id: str
    physician: str


class Policy(_Frozen):
    insurer: str
    plan: str
    member_id: str
    policy_number: str
    group: str
    effective: dt.date


class BillingCode(_Frozen):
    code: str
    code_system: CodeSystem
    description: str
    typical_price: float
    setting: str


class Dx(_Frozen):
    code: str
    description: str


# ---------------------------------------------------------------- NPI (Luhn over "80840" + 9 digits)


def npi_check_digit(first9: str) -> str:
    """The NPI check digit: Luhn over the prefix 80840 plus the first nine digits."""
    if len(first9) != 9 or not first9.isdigit():
        raise ValueError(f"NPI base must be 9 digits, got {first9!r}")
    digits = [int(c) for c in "80840" + first9]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:  # rightmost digit of the payload is doubled (check digit comes after)
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def npi_is_valid(npi: str) -> bool:
    return len(npi) == 10 and npi.isdigit() and npi_check_digit(npi[:9]) == npi[9]


def make_npi(rng: random.Random) -> str:
    base = str(rng.choice((1, 2))) + "".join(str(rng.randrange(10)) for _ in range(8))
    return base + npi_check_digit(base)


# ---------------------------------------------------------------- billing codes

_CODES_CSV = Path(__file__).resolve().parent.parent / "data" / "reference" / "billing_codes.csv"


@cache
def billing_codes() -> tuple[BillingCode, ...]:
    """The shipped CPT/HCPCS/revenue code table, read once per process."""
    with _CODES_CSV.open("r", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for row in rows:
        if row["code_system"] not in ("CPT", "HCPCS", "REV"):
            raise ConfigError(
                f"billing_codes.csv: code_system {row['code_system']!r} for {row['code']!r}; valid: CPT, HCPCS, REV"
            )
        out.append(
            BillingCode(
                code=row["code"],
                code_system=row["code_system"],  # type: ignore[arg-type]
                description=row["description"],
                typical_price=float(row["typical_price"]),
                setting=row["setting"],
            )
        )
    return tuple(out)


# ---------------------------------------------------------------- ICD-10-CM

# Curated, plausible diagnoses per claim type; sex-specific ones say which sex they fit.
_DX: dict[str, tuple[tuple[str, Sex | None], ...]] = {
    "outpatient": tuple(
        (c, None)
        for c in [
            "J06.9",
            "J20.9",
            "J02.9",
            "I10",
            "E11.9",
            "E78.5",
            "M54.50",
            "K21.9",
            "N39.0",
            "R51.9",
            "H66.90",
            "L03.115",
            "K52.9",
            "E03.9",
            "F41.1",
            "M17.11",
            "R10.9",
            "Z00.00",
            "J45.909",
            "M25.561",
            "G43.909",
            "K59.00",
            "E66.9",
            "D64.9",
        ]
    ),
    "inpatient": tuple(
        (c, None)
        for c in [
            "J18.9",
            "I48.91",
            "I50.9",
            "J44.1",
            "A41.9",
            "K35.80",
            "K80.20",
            "N17.9",
            "K85.90",
            "J96.01",
            "E86.0",
            "I20.0",
            "K57.30",
            "N20.0",
            "R07.9",
        ]
    ),
    "accident": tuple(
        (c, None)
        for c in [
            "S52.501A",
            "S82.101A",
            "S42.001A",
            "S06.0X0A",
            "S93.401A",
            "S13.4XXA",
            "S61.411A",
            "S01.81XA",
            "S83.511A",
            "S22.41XA",
            "S09.90XA",
        ]
    ),
    "critical_illness": (
        ("C50.911", "F"),
        ("C50.912", "F"),
        ("C56.9", "F"),
        ("C53.9", "F"),
        ("C61", "M"),
        ("C34.90", None),
        ("C18.9", None),
        ("C20", None),
        ("C92.00", None),
        ("C71.9", None),
        ("C67.9", None),
        ("C64.1", None),
        ("C25.9", None),
        ("C43.9", None),
        ("I21.4", None),
        ("I21.09", None),
        ("I63.9", None),
        ("I61.9", None),
    ),
}
_SECONDARY = ("I10", "E11.9", "E78.5", "E66.9", "D64.9", "F41.1", "J45.909", "E03.9")
_ACCIDENT_CAUSE = ("W19.XXXA", "V43.52XA", "W10.9XXA", "V89.2XXA")
_FEMALE_ONLY = ("O80", "Z34.90", "O24.419", "Z3A.01")
_MALE_ONLY = ("N40.0", "C61", "N41.0")
_AGE_IMPLAUSIBLE_ADULT = ("P22.0", "Z00.129")


@cache
def icd_description(code: str) -> str:
    """Official description of a billable ICD-10-CM code; raises ConfigError on anything else."""
    if not icd.is_valid_item(code) or not icd.is_leaf(code):
        raise ConfigError(f"ICD-10-CM code {code!r} is not billable (not a valid leaf code)")
    return str(icd.get_description(code))


def pick_diagnoses(rng: random.Random, claim_type: ClaimType, sex: Sex) -> list[Dx]:
    """One primary code fitting the claim type and sex, plus 0-2 plausible secondary codes."""
    pool = [c for c, s in _DX[claim_type] if s is None or s == sex]
    codes = [rng.choice(pool)]
    if claim_type == "accident":
        codes.append(rng.choice(_ACCIDENT_CAUSE))
    for extra in rng.sample(_SECONDARY, k=rng.choice((0, 0, 1, 1, 2))):
        if extra not in codes:
            codes.append(extra)
    return [Dx(code=c, description=icd_description(c)) for c in codes]


def implausible_diagnosis(rng: random.Random, sex: Sex, age: int) -> Dx:
    """A billable code that does not fit the patient (pregnancy for a man, prostate for a woman, newborn for an adult)."""
    options = list(_FEMALE_ONLY if sex == "M" else _MALE_ONLY)
    if age >= 18:
        options += list(_AGE_IMPLAUSIBLE_ADULT)
    code = rng.choice(options)
    return Dx(code=code, description=icd_description(code))


# ---------------------------------------------------------------- people and organisations

_INSURERS = (
    ("Blue Meridian Health", ("PPO", "HMO", "EPO")),
    ("Northwind Mutual Insurance", ("Gold PPO", "Silver HMO")),
    ("Cascade Life & Health", ("Choice Plus", "Select")),
    ("Harborview Assurance", ("Premier", "Essential")),
    ("Summit Benefit Plans", ("Open Access", "Core")),
)
_FACILITY_KINDS = (
    "{city} Family Medicine",
    "{last} Medical Group",
    "{city} General Hospital",
    "St. {first} Medical Center",
    "{city} Urgent Care",
    "{last} & {last2} Orthopedics",
    "{city} Regional Health",
    "{city} Internal Medicine Associates",
    "{city} Cancer Institute",
)


def make_patient(fake: Faker, rng: random.Random) -> Patient:
    sex: Sex = rng.choice(("F", "M"))
    first = fake.first_name_female() if sex == "F" else fake.first_name_male()
    middle = rng.choice("ABCDEFGHJKLMNPRSTW") if rng.random() < 0.4 else None
    age_days = rng.randrange(18 * 365, 86 * 365)
    dob = dt.date(2026, 1, 1) - dt.timedelta(days=age_days)
    return Patient(
        first=first,
        middle=middle,
        last=fake.last_name(),
        dob=dob,
        sex=sex,
        street=fake.street_address(),
        city=fake.city(),
        state=fake.state_abbr(include_territories=False),
        zip=fake.zipcode(),
        phone=f"({rng.randrange(201, 990)}) {rng.randrange(200, 999)}-{rng.randrange(10000):04d}",
    )


def make_provider(fake: Faker, rng: random.Random, kind_hint: str | None = None) -> Provider:
    city = fake.city()
    pattern = kind_hint or rng.choice(_FACILITY_KINDS)
    name = pattern.format(
        city=city, last=fake.last_name(), last2=fake.last_name(), first=fake.first_name()
    )
    physician = f"{fake.first_name()} {fake.last_name()}, {rng.choice(('MD', 'MD', 'DO'))}"
    return Provider(
        name=name,
        street=fake.street_address(),
        city=city,
        state=fake.state_abbr(include_territories=False),
        zip=fake.zipcode(),
        phone=f"({rng.randrange(201, 990)}) {rng.randrange(200, 999)}-{rng.randrange(10000):04d}",
        npi=make_npi(rng),
        tax_id=f"{rng.randrange(10, 99)}-{rng.randrange(10**7):07d}",
        physician=physician,
    )


def make_policy(rng: random.Random, effective: dt.date) -> Policy:
    insurer, plans = rng.choice(_INSURERS)
    letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(3))
    member_id = rng.choice(
        (
            f"{letters}{rng.randrange(10**9):09d}",
            f"{letters[:1]}{rng.randrange(10**8):08d}",
            f"{rng.randrange(10**6):06d}-{rng.randrange(100):02d}",
        )
    )
    policy_number = rng.choice(
        (
            f"POL-{rng.randrange(10**7):07d}",
            f"{rng.randrange(10**5):05d}-{letters}",
            f"GRP{rng.randrange(10**6):06d}",
        )
    )
    return Policy(
        insurer=insurer,
        plan=rng.choice(plans),
        member_id=member_id,
        policy_number=policy_number,
        group=f"{rng.randrange(10**5):05d}",
        effective=effective,
    )
