"""The metrics table `claim-intake eval` prints: one row per metric, digital and scanned side by side."""

from __future__ import annotations

from rich.table import Table

from pipeline.eval.report import PRF, ByProfile, EvalReport, Ratio

__all__ = ["render_table"]

NA = "n/a"


def _num(value: float | None, digits: int = 3) -> str:
    return NA if value is None else f"{value:.{digits}f}"


def _ratio(ratio: Ratio) -> str:
    if not ratio.total:
        return NA
    return f"{ratio.accuracy:.3f} ({ratio.correct}/{ratio.total})"


def _prf(prf: PRF) -> str:
    if prf.tp + prf.fp + prf.fn == 0:
        return NA
    return f"P {_num(prf.precision)} R {_num(prf.recall)} F1 {_num(prf.f1)}"


def _split(table: Table, name: str, scores: ByProfile) -> None:
    table.add_row(name, _ratio(scores.overall), _ratio(scores.digital), _ratio(scores.scanned))


def render_table(report: EvalReport) -> Table:
    """A rich table of every metric; `n/a` where a metric has nothing to count."""
    table = Table(title=f"claim-intake eval: {report.out_dir} vs {report.truth_dir}")
    table.add_column("metric", style="bold")
    table.add_column("overall", justify="right")
    table.add_column("digital", justify="right")
    table.add_column("scanned", justify="right")

    table.add_row(
        "packets",
        f"{report.claims_scored}/{report.truth_packets} scored",
        f"quarantined {report.quarantined}",
        f"missing {report.missing}",
    )
    table.add_row(
        "file errors",
        f"claims {report.claim_errors}",
        f"truth {report.truth_errors}",
        f"no truth {report.claims_without_truth}, dup {report.duplicate_claims}",
    )
    _split(table, "page doc type", report.page_type)
    _split(table, "fields (all)", report.fields.overall)
    _split(table, "claim fields", report.fields.claim_fields)
    _split(table, "document fields", report.fields.document_fields)
    for name in sorted(report.fields.per_field):
        _split(table, f"  {name}", report.fields.per_field[name])
    table.add_row("diagnoses", _prf(report.diagnoses), "", "")
    table.add_row(
        "line items",
        _prf(report.line_items.overall),
        _prf(report.line_items.digital),
        _prf(report.line_items.scanned),
    )
    for column, scores in report.line_items.columns.items():
        _split(table, f"  line item {column}", scores)
    table.add_row("claim type", _ratio(report.claim_type), "", "")
    table.add_row("completeness: documents", _ratio(report.completeness.missing_documents), "", "")
    table.add_row("completeness: fields", _ratio(report.completeness.missing_fields), "", "")
    table.add_row("completeness: both", _ratio(report.completeness.both), "", "")
    fraud = report.fraud
    table.add_row(
        "fraud",
        f"ROC-AUC {_num(fraud.roc_auc)} PR-AUC {_num(fraud.pr_auc)}",
        f"top-10% precision {_num(fraud.precision_top10)}",
        f"scored {fraud.scored}, unscored {fraud.unscored}",
    )
    calibration = report.calibration
    table.add_row(
        "calibration",
        f"ECE {_num(calibration.ece)} over {calibration.count}",
        f"error@>=0.9 {_num(calibration.high_confidence_error_rate)}",
        f"n>=0.9 {calibration.high_confidence_count}",
    )
    return table
