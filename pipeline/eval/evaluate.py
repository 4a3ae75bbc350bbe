"""`evaluate(OUT, TRUTH)`: read a run's claim files and the truth folder, add up every metric.

Reading is defensive on purpose: a missing folder, an unreadable or malformed claim file
or truth file is counted and named in `errors`, never raised, so one bad file cannot hide
the scores of a whole batch. Metrics cover packets that have a readable claim.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from pipeline.eval.metrics import calibration_scores, fraud_scores
from pipeline.eval.report import ByProfile, EvalReport, ValueOutcome
from pipeline.eval.score import compare_claim
from pipeline.schema import Claim
from pipeline.truth import Truth

__all__ = ["evaluate"]

log = logging.getLogger(__name__)


def _packet_key(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/").strip().strip("/")).as_posix()


def _error_summary(exc: ValidationError) -> str:
    """Locations and kinds of the first errors only: values may be patient data."""
    parts = [".".join(str(x) for x in e["loc"]) + f" ({e['type']})" for e in exc.errors()[:3]]
    return "invalid: " + ", ".join(parts)


def _read_json(path: Path, errors: list[str]) -> object | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        errors.append(f"{path.name}: unreadable ({type(exc).__name__})")
        return None


def _load_truths(truth_dir: Path, report: EvalReport) -> dict[str, Truth]:
    truths: dict[str, Truth] = {}
    if not truth_dir.is_dir():
        report.errors.append(f"{truth_dir}: truth folder does not exist")
        return truths
    for path in sorted(truth_dir.glob("*.json")):
        data = _read_json(path, report.errors)
        if data is None:
            report.truth_errors += 1
            continue
        try:
            truth = Truth.model_validate(data)
        except ValidationError as exc:
            report.truth_errors += 1
            report.errors.append(f"truth {path.name}: {_error_summary(exc)}")
            continue
        truths[_packet_key(truth.packet)] = truth
    report.truth_packets = len(truths)
    return truths


def _load_claims(out_dir: Path, report: EvalReport) -> dict[str, Claim]:
    claims: dict[str, Claim] = {}
    claims_dir = out_dir / "claims"
    paths = sorted(claims_dir.glob("*.json")) if claims_dir.is_dir() else []
    report.claim_files = len(paths)
    for path in paths:
        data = _read_json(path, report.errors)
        if data is None:
            report.claim_errors += 1
            continue
        try:
            claim = Claim.model_validate(data)
        except ValidationError as exc:
            report.claim_errors += 1
            report.errors.append(f"claim {path.name}: {_error_summary(exc)}")
            continue
        key = _packet_key(claim.packet.source)
        if key in claims:
            report.duplicate_claims += 1
            report.errors.append(f"claim {path.name}: second claim for packet {key}, ignored")
            continue
        claims[key] = claim
    return claims


def _quarantine_keys(out_dir: Path, report: EvalReport) -> set[str]:
    """Names a quarantine file may stand for: its stem, and the packet path written inside."""
    keys: set[str] = set()
    folder = out_dir / "quarantine"
    paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    report.quarantined = len(paths)
    for path in paths:
        keys.add(_packet_key(path.stem))
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(data, dict):
            for field in ("packet", "source", "path", "name"):
                value = data.get(field)
                if isinstance(value, str) and value.strip():
                    keys.add(_packet_key(value))
                    keys.add(_packet_key(PurePosixPath(value.replace("\\", "/")).name))
    return keys


def evaluate(out_dir: Path, truth_dir: Path) -> EvalReport:
    """Score the claim files in `out_dir/claims` against `truth_dir/<packet>.json`."""
    report = EvalReport(out_dir=str(out_dir), truth_dir=str(truth_dir))
    truths = _load_truths(truth_dir, report)
    claims = _load_claims(out_dir, report)
    quarantined = _quarantine_keys(out_dir, report)
    report.claims_without_truth = sum(1 for key in claims if key not in truths)

    outcomes: list[ValueOutcome] = []
    fraud_score: list[float | None] = []
    fraud_label: list[int] = []
    for key, truth in truths.items():
        claim = claims.get(key)
        if claim is None:
            stem = _packet_key(PurePosixPath(key).stem)
            if key not in quarantined and stem not in quarantined:
                report.missing += 1
            continue
        try:
            result = compare_claim(claim, truth)
        except (ValueError, TypeError, OverflowError, KeyError, IndexError) as exc:
            report.claim_errors += 1
            report.errors.append(f"claim for packet {key}: cannot be scored ({type(exc).__name__})")
            continue
        report.claims_scored += 1
        for correct, profile in result.pages:
            report.page_type.add(correct, profile)
        for check in result.fields:
            report.fields.overall.add(check.correct, check.profile)
            part = (
                report.fields.claim_fields
                if check.kind == "claim_field"
                else report.fields.document_fields
            )
            part.add(check.correct, check.profile)
            report.fields.per_field.setdefault(check.name, ByProfile()).add(
                check.correct, check.profile
            )
        tp, fp, fn = result.diagnosis_counts
        report.diagnoses.tp += tp
        report.diagnoses.fp += fp
        report.diagnoses.fn += fn
        for split, counts in result.line_item_counts.items():
            target = getattr(report.line_items, split)
            target.tp += counts["tp"]
            target.fp += counts["fp"]
            target.fn += counts["fn"]
        for column, right, profile in result.line_item_columns:
            report.line_items.columns.setdefault(column, ByProfile()).add(right, profile)
        report.claim_type.add(claim.claim_type.value == truth.claim_type)
        docs_ok = set(claim.completeness.missing_documents) == set(
            truth.completeness.missing_documents
        )
        fields_ok = set(claim.completeness.missing_fields) == set(truth.completeness.missing_fields)
        report.completeness.missing_documents.add(docs_ok)
        report.completeness.missing_fields.add(fields_ok)
        report.completeness.both.add(docs_ok and fields_ok)
        fraud_score.append(claim.fraud.score)
        fraud_label.append(truth.fraud.label)
        outcomes.extend(result.outcomes)

    report.fraud = fraud_scores(fraud_score, fraud_label)
    report.calibration = calibration_scores(outcomes)
    log.info(
        "eval scored %d of %d packets (%d claim errors, %d missing)",
        report.claims_scored,
        report.truth_packets,
        report.claim_errors,
        report.missing,
    )
    return report
