"""Evaluation harness: score a run's claim files against ground truth (`claim-intake eval`)."""

from pipeline.eval.compare import values_equal
from pipeline.eval.evaluate import evaluate
from pipeline.eval.perfect import claim_from_truth
from pipeline.eval.report import EvalReport, ValueOutcome
from pipeline.eval.score import value_outcomes
from pipeline.eval.table import render_table

__all__ = [
    "EvalReport",
    "ValueOutcome",
    "claim_from_truth",
    "evaluate",
    "render_table",
    "value_outcomes",
    "values_equal",
]
