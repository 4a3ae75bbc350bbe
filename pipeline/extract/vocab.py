"""The per-language label vocabulary and locale rules, loaded from pipeline/data/lang/<lang>.yaml.

Everything language-specific (label wordings, month names, money punctuation, checkbox
marks) is data here, so adding a language is adding a file, not editing the extractor.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.errors import ConfigError

__all__ = [
    "LANG_DIR",
    "FieldKind",
    "DateRules",
    "MoneyRules",
    "FieldVocab",
    "TableVocab",
    "LangVocab",
    "available_languages",
    "load_vocab",
]

LANG_DIR = Path(__file__).resolve().parent.parent / "data" / "lang"

FieldKind = Literal[
    "name", "name_part", "date", "date_range", "id", "money", "npi", "tax_id", "sex", "text"
]
"""`name_part`: one box of a name printed in boxes ("First Name"), a word or an initial."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DateMarkers(_Strict):
    """Characters that follow year, month and day in dates like 2026年3月2日."""

    year: str
    month: str
    day: str


class DateRules(_Strict):
    order: Literal["MDY", "DMY", "YMD"] = "MDY"
    months: dict[str, int] = Field(default_factory=dict)
    markers: DateMarkers | None = None


class MoneyRules(_Strict):
    decimal: Literal[".", ","] = "."
    thousands: list[str] = Field(default_factory=lambda: [","])
    symbols: list[str] = Field(default_factory=lambda: ["$"])
    negative_suffixes: list[str] = Field(default_factory=list)


class FieldVocab(_Strict):
    kind: FieldKind
    labels: list[str] = Field(min_length=1)
    prefer: list[str] = Field(
        default_factory=list, description="labels whose value wins over other labels' values"
    )
    defer: list[str] = Field(
        default_factory=list,
        description="labels whose value loses to a legible value beside another label printed "
        "exactly: the subscriber's 'Member Name' where a dependent's 'Patient Name' is filled in",
    )
    in_prose: list[str] = Field(
        default_factory=list,
        description="words that announce a date a few words on in running text, when no "
        "label gives it ('was admitted to Mercy Hospital on January 12, 2025')",
    )

    @model_validator(mode="after")
    def _ranked_labels_are_labels(self) -> FieldVocab:
        stray = [label for label in [*self.prefer, *self.defer] if label not in self.labels]
        if stray:
            raise ValueError(f"prefer/defer name labels the field does not have: {stray}")
        both = set(self.prefer) & set(self.defer)
        if both:
            raise ValueError(f"labels both preferred and deferred: {sorted(both)}")
        return self


class TableVocab(_Strict):
    """Header words of a line-item table by column kind. `other_money` heads money columns
    beside the line's charge (paid, adjustment, balance): their figures are never the amount.
    `other_text` heads columns of no line-item field (modifiers, diagnosis pointers, the
    surgeon): their words are never part of the description."""

    columns: dict[
        Literal[
            "service_date",
            "code",
            "description",
            "quantity",
            "unit_price",
            "amount",
            "other_money",
            "other_text",
        ],
        list[str],
    ]
    stop_labels: list[str]
    non_charge_words: list[str] = Field(default_factory=list)
    """Words of a row that is no charge: a payment, adjustment or credit ("Insurance
    payment"), a balance brought forward. A row without a procedure code holding one is not
    a line item."""


class LangVocab(_Strict):
    language: str
    ocr_languages: list[str]
    date: DateRules
    money: MoneyRules
    fields: dict[str, FieldVocab]
    doc_fields: dict[str, list[str]]
    claim_types: dict[Literal["outpatient", "inpatient", "accident", "critical_illness"], list[str]]
    tick_marks: list[str]
    untick_marks: list[str]
    sex_values: dict[Literal["F", "M"], list[str]] = Field(
        default_factory=dict, description="how a `sex` field's value is written: F and M words"
    )
    title_words: list[str]
    name_stop_words: list[str]
    name_particles: list[str] = Field(default_factory=list)
    organisation_words: list[str] = Field(
        default_factory=list,
        description="words of insurer and plan names, which a person's name never holds; "
        "an ID card's unlabelled name and member id are read only in languages that list them",
    )
    provider_words: list[str] = Field(
        default_factory=list,
        description="words of care providers' names (hospital, clinic ...): a page's letterhead "
        "holds one; two bills of one type part when their letterheads name different providers; "
        "a read holding one is an organisation's name, no person's",
    )
    diagnosis_context: list[str]
    table: TableVocab


def available_languages() -> list[str]:
    return sorted(p.stem for p in LANG_DIR.glob("*.yaml"))


@lru_cache(maxsize=8)
def load_vocab(language: str = "en") -> LangVocab:
    """The validated vocabulary of `language`; cached because it is read-only data."""
    path = LANG_DIR / f"{language}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"no label vocabulary for language {language!r}; available: {available_languages()}"
        )
    with path.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    try:
        vocab = LangVocab.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path.name} is not a valid label vocabulary: {exc}") from exc
    unknown = {f for names in vocab.doc_fields.values() for f in names} - set(vocab.fields)
    unknown.discard("claim_type")
    if unknown:
        raise ConfigError(
            f"{path.name}: doc_fields names fields without labels {sorted(unknown)}; "
            f"defined fields: {sorted(vocab.fields)}"
        )
    return vocab
