"""The adjusters' review: users and roles, claim versions and corrections, audit, exports.

Plain functions over files and one SQLite database; the web app in `flows/review/` is a
thin edge over them.
"""

from __future__ import annotations

from pipeline.review.claims import (
    Rechecker,
    ReviewAction,
    ReviewResult,
    list_versions,
    load_claim,
    load_claims,
    recheck,
    review_claim,
    value_at,
    versions_dir,
)
from pipeline.review.store import ROLES, AuditEntry, Correction, Note, ReviewStore, User, open_store

__all__ = [
    "ROLES",
    "AuditEntry",
    "Correction",
    "Note",
    "Rechecker",
    "ReviewAction",
    "ReviewResult",
    "ReviewStore",
    "User",
    "list_versions",
    "load_claim",
    "load_claims",
    "open_store",
    "recheck",
    "review_claim",
    "value_at",
    "versions_dir",
]
