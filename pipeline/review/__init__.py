"""The adjusters' review: users and roles, claim versions and corrections, audit, exports.

Plain functions over files and one SQLite database; the web app in `flows/review/` is a
thin edge over them.
"""

from __future__ import annotations

# The modules are imported where they are used (claims, queue, store, view, pages):
# `claim-intake users` needs only the store and should not load the whole pipeline.
