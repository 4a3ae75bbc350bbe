"""Claim-level checks: completeness against configurable checklists, claim type inference."""

from pipeline.checks.completeness import (
    Checklist,
    Checklists,
    NoticeWording,
    check_completeness,
    infer_claim_type,
    load_checklists,
    load_notice_wording,
)

__all__ = [
    "Checklist",
    "Checklists",
    "NoticeWording",
    "check_completeness",
    "infer_claim_type",
    "load_checklists",
    "load_notice_wording",
]
