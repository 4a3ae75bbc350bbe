"""The adjusters' review web app (FastAPI): `create_app`, `serve` and the `review` command."""

from __future__ import annotations

from typing import Any

from flows.review.command import review

__all__ = ["create_app", "serve", "review"]  # noqa: F822 - create_app, serve load lazily


def __getattr__(name: str) -> Any:
    # The web app pulls in FastAPI and the whole pipeline; the CLI only needs `review`.
    if name in ("create_app", "serve"):
        from flows.review import app

        return getattr(app, name)
    raise AttributeError(f"module 'flows.review' has no attribute {name!r}")
