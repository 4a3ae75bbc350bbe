"""Reference data of the fraud model, read from checked-in files and validated on load.

The fee table (`pipeline/data/fees/fee_schedule.csv`), the diagnosis plausibility rules and
the score bands (`pipeline/fraud/*.yaml`) are data, so an analyst changes them without code.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.errors import ConfigError

__all__ = [
    "FEE_TABLE_PATH",
    "DX_RULES_PATH",
    "BANDS_PATH",
    "FeeEntry",
    "AgeRule",
    "DxRules",
    "Bands",
    "load_fee_table",
    "load_dx_rules",
    "load_bands",
    "code_matches",
]

_HERE = Path(__file__).resolve().parent
FEE_TABLE_PATH = _HERE.parent / "data" / "fees" / "fee_schedule.csv"
DX_RULES_PATH = _HERE / "dx_rules.yaml"
BANDS_PATH = _HERE / "bands.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeeEntry(_Strict):
    code: str
    code_system: str
    description: str
    national_amount: float = Field(gt=0)
    typical_charge: float = Field(gt=0)
    max_units_per_day: float = Field(gt=0)
    per_diem: bool = Field(
        default=False, description="one unit is one day of a stay (room and board, ICU)"
    )
    source: str


class AgeRule(_Strict):
    name: str
    codes: list[str]
    min_age: int = Field(ge=0)
    max_age: int = Field(ge=0)


class DxRules(_Strict):
    sex_specific: dict[str, list[str]]
    age_ranges: list[AgeRule]
    sex_values: dict[str, dict[str, list[str]]] = Field(description="language -> sex -> spellings")

    @model_validator(mode="after")
    def _sexes(self) -> DxRules:
        bad = set(self.sex_specific) - {"F", "M"}
        if bad:
            raise ValueError(f"sex_specific keys must be F or M, got {sorted(bad)}")
        return self


class Bands(_Strict):
    """low < medium_from <= medium < high_from <= high."""

    medium_from: float = Field(ge=0.0, le=1.0)
    high_from: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> Bands:
        if self.medium_from > self.high_from:
            raise ValueError(
                f"medium_from ({self.medium_from}) must not exceed high_from ({self.high_from})"
            )
        return self

    def band(self, score: float) -> str:
        if score >= self.high_from:
            return "high"
        return "medium" if score >= self.medium_from else "low"


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from error


@cache
def load_fee_table(path: Path = FEE_TABLE_PATH) -> dict[str, FeeEntry]:
    """Code -> reference fee; codes compare upper case without spaces."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise ConfigError(f"cannot read fee table {path}: {error}") from error
    table: dict[str, FeeEntry] = {}
    for number, row in enumerate(rows, start=2):
        try:
            entry = FeeEntry.model_validate(row)
        except ValidationError as error:
            raise ConfigError(f"{path} line {number}: {error}") from error
        table[entry.code.strip().upper()] = entry
    return table


@cache
def load_dx_rules(path: Path = DX_RULES_PATH) -> DxRules:
    try:
        return DxRules.model_validate(_read_yaml(path))
    except ValidationError as error:
        raise ConfigError(f"{path}: {error}") from error


@cache
def load_bands(path: Path = BANDS_PATH) -> Bands:
    try:
        return Bands.model_validate(_read_yaml(path))
    except ValidationError as error:
        raise ConfigError(f"{path}: {error}") from error


def code_matches(code: str, spec: str) -> bool:
    """`spec` is a prefix ("O", "Z00.12") or a range of 3-character categories ("N40-N53")."""
    code = code.upper()
    if "-" in spec:
        low, high = spec.upper().split("-", 1)
        return low <= code[:3] <= high
    return code.startswith(spec.upper())
