"""Settings as data: a checked-in TOML file validated by pydantic, overridable by the user's.

Settings are read when a flow starts (the CLI passes a path or `CLAIM_INTAKE_CONFIG`),
never at import time.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.assemble import ReviewThresholds
from pipeline.errors import ConfigError
from pipeline.io.ingest import IngestLimits
from pipeline.reading.reader import ReadingConfig

__all__ = ["Settings", "load_settings", "DEFAULT_SETTINGS", "REPO_ROOT", "DEFAULT_MODELS_DIR"]

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SETTINGS = Path(__file__).resolve().parent / "data" / "settings.toml"
DEFAULT_MODELS_DIR = REPO_ROOT / "models"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: str = Field(
        default="en", description="document language: label vocabularies, formats"
    )
    currency: str = "USD"
    models_dir: Path = DEFAULT_MODELS_DIR
    checklists: Path | None = Field(default=None, description="a user's checklist file")
    calibrate_values: bool = Field(
        default=True,
        description="map extraction scores through models/value_calibrator.json (off only to refit it)",
    )
    score_fraud: bool = Field(
        default=True,
        description="score claims with models/fraud/CURRENT (off to build a training run, "
        "whatever model is current or even when it no longer loads)",
    )
    ledger_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of a shared ledger (e.g. PostgreSQL); default OUT/ledger.sqlite",
    )
    ingest: IngestLimits = Field(default_factory=IngestLimits)
    reading: ReadingConfig = Field(default_factory=ReadingConfig)
    review: ReviewThresholds = Field(default_factory=ReviewThresholds)

    @model_validator(mode="after")
    def _one_language(self) -> Settings:
        # The document language is one setting; the reader follows it unless told otherwise.
        if "language" not in self.reading.model_fields_set:
            self.reading = self.reading.model_copy(update={"language": self.language})
        return self


def _merge(base: dict[str, object], override: dict[str, object]) -> dict[str, object]:
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"settings file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"settings file {path} is not valid TOML: {exc}") from exc


def _resolve_paths(data: dict[str, object], base: Path) -> dict[str, object]:
    """Relative paths in a settings file are relative to that file's folder (the repo for the defaults)."""
    resolved = dict(data)
    for key in ("models_dir", "checklists"):
        value = resolved.get(key)
        if isinstance(value, str) and not Path(value).is_absolute():
            resolved[key] = str((base / value).resolve())
    return resolved


def load_settings(path: Path | None = None) -> Settings:
    """The shipped defaults, overridden key by key by the file at `path` when given."""
    data = _resolve_paths(_read_toml(DEFAULT_SETTINGS), REPO_ROOT)
    source = DEFAULT_SETTINGS
    if path is not None:
        data = _merge(data, _resolve_paths(_read_toml(path), path.resolve().parent))
        source = path
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        valid = ", ".join(Settings.model_fields)
        raise ConfigError(f"{source}: {problems} (top-level keys: {valid})") from exc
