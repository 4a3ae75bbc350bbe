"""Fixtures over the hand-built truth packets of `tests/eval/builders.py`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.truth import Truth
from tests.eval.builders import build_truth, write_run


@pytest.fixture
def truth_factory() -> Callable[..., Truth]:
    return build_truth


@pytest.fixture
def run_writer() -> Callable[..., tuple[Path, Path]]:
    return write_run
