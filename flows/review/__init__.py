"""The adjusters' review web app (FastAPI): `create_app`, `serve` and the `review` command."""

from __future__ import annotations

from flows.review.app import create_app, serve
from flows.review.command import review

__all__ = ["create_app", "serve", "review"]
