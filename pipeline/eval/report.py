"""The scores of one run against its truth, as typed models that dump to `--json`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

__all__ = [
    "ValueKind",
    "ValueOutcome",
    "Ratio",
    "ByProfile",
    "PRF",
    "FieldScores",
    "LineItemScores",
    "CompletenessScores",
    "FraudScores",
    "CalibrationBin",
    "CalibrationScores",
    "EvalReport",
]

ValueKind = Literal["claim_field", "document_field", "diagnosis", "line_item"]
ProfileName = Literal["digital", "scanned", "mixed"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ValueOutcome(_Strict):
    """One emitted value with a truth counterpart: the unit the confidence calibrator learns from."""

    kind: ValueKind
    name: str = Field(description="field name, `doc_type.field` for document fields, or the code")
    confidence: float
    correct: bool
    profile: ProfileName


class Ratio(_Strict):
    correct: int = 0
    total: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def accuracy(self) -> float | None:
        return self.correct / self.total if self.total else None

    def add(self, correct: bool) -> None:
        self.total += 1
        self.correct += int(correct)


class ByProfile(_Strict):
    """A ratio overall and split by how the pages were made; mixed-profile values count only overall."""

    overall: Ratio = Field(default_factory=Ratio)
    digital: Ratio = Field(default_factory=Ratio)
    scanned: Ratio = Field(default_factory=Ratio)

    def add(self, correct: bool, profile: str) -> None:
        self.overall.add(correct)
        if profile == "digital":
            self.digital.add(correct)
        elif profile == "scanned":
            self.scanned.add(correct)


class PRF(_Strict):
    """Micro-averaged counts; precision, recall and F1 follow from them."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def f1(self) -> float | None:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else None


class FieldScores(_Strict):
    overall: ByProfile = Field(default_factory=ByProfile)
    claim_fields: ByProfile = Field(default_factory=ByProfile)
    document_fields: ByProfile = Field(default_factory=ByProfile)
    per_field: dict[str, ByProfile] = Field(
        default_factory=dict, description="claim fields by name, document fields as doc_type.field"
    )


class LineItemScores(_Strict):
    overall: PRF = Field(default_factory=PRF)
    digital: PRF = Field(default_factory=PRF)
    scanned: PRF = Field(default_factory=PRF)
    columns: dict[str, ByProfile] = Field(
        default_factory=dict,
        description="per column (service_date, quantity, unit_price, description): the share "
        "right among the items matched by code and amount",
    )


class CompletenessScores(_Strict):
    missing_documents: Ratio = Field(default_factory=Ratio)
    missing_fields: Ratio = Field(default_factory=Ratio)
    both: Ratio = Field(default_factory=Ratio)


class FraudScores(_Strict):
    scored: int = 0
    unscored: int = 0
    positives: int = 0
    roc_auc: float | None = None
    pr_auc: float | None = None
    precision_top10: float | None = None
    note: str | None = Field(default=None, description="why a metric is n/a")


class CalibrationBin(_Strict):
    lower: float
    upper: float
    count: int
    mean_confidence: float | None
    accuracy: float | None


class CalibrationScores(_Strict):
    count: int = 0
    high_confidence_count: int = Field(default=0, description="values with confidence >= 0.9")
    high_confidence_error_rate: float | None = None
    ece: float | None = Field(default=None, description="expected calibration error, 10 bins")
    bins: list[CalibrationBin] = Field(default_factory=list)


class EvalReport(_Strict):
    """Everything `claim-intake eval` prints; metrics cover the packets that have a readable claim."""

    out_dir: str
    truth_dir: str
    truth_packets: int = 0
    truth_errors: int = 0
    claim_files: int = 0
    claims_scored: int = 0
    claim_errors: int = Field(default=0, description="unreadable or malformed claim files")
    claims_without_truth: int = 0
    duplicate_claims: int = 0
    quarantined: int = 0
    missing: int = Field(default=0, description="truth packets with neither claim nor quarantine")
    errors: list[str] = Field(default_factory=list, description="file names and what was wrong")
    page_type: ByProfile = Field(default_factory=ByProfile)
    fields: FieldScores = Field(default_factory=FieldScores)
    diagnoses: PRF = Field(default_factory=PRF)
    line_items: LineItemScores = Field(default_factory=LineItemScores)
    claim_type: Ratio = Field(default_factory=Ratio)
    completeness: CompletenessScores = Field(default_factory=CompletenessScores)
    fraud: FraudScores = Field(default_factory=FraudScores)
    calibration: CalibrationScores = Field(default_factory=CalibrationScores)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def coverage(self) -> float | None:
        """Share of truth packets that got a scored claim."""
        return self.claims_scored / self.truth_packets if self.truth_packets else None
