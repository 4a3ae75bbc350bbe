"""The worker pool outlives a worker that crashes, and only the crashing job fails."""

from __future__ import annotations

import os
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from pipeline.reading.pool import RecoveringPool
from pipeline.reading.reader import PageJob, ReadingConfig, _run_jobs


def _square_or_die(value: int) -> int:
    if value < 0:
        os._exit(3)  # a segfault in a C library looks the same to the pool
    return value * value


def test_pool_recovers_and_only_the_crashing_job_fails() -> None:
    pool = RecoveringPool(max_workers=2)
    try:
        futures = [pool.submit(_square_or_die, v) for v in (1, 2, -1, 3, 4)]
        results = []
        for future in futures:
            try:
                results.append(future.result(timeout=120))
            except BrokenProcessPool:
                results.append("crashed")
        assert results == [1, 4, "crashed", 9, 16]
        assert pool.restarts >= 1
        assert pool.submit(_square_or_die, 5).result(timeout=60) == 25
    finally:
        pool.shutdown()


def test_pool_refuses_work_after_shutdown() -> None:
    pool = RecoveringPool(max_workers=1)
    pool.shutdown()
    with pytest.raises(RuntimeError):
        pool.submit(_square_or_die, 1)


class _CrashingExecutor:
    """Stands in for a pool whose worker died on every page."""

    def submit(self, fn, *args, **kwargs) -> Future:  # noqa: ANN001, ANN003 - Executor's shape
        future: Future = Future()
        future.set_exception(BrokenProcessPool("worker died"))
        return future


def test_a_page_that_crashes_its_worker_becomes_an_unread_page(tmp_path: Path) -> None:
    job = PageJob(
        path=tmp_path / "a.tif", file="a.tif", kind="tiff", index=0, config=ReadingConfig()
    )
    (page,) = _run_jobs([job], _CrashingExecutor())  # type: ignore[arg-type]
    assert page.reader == "none" and page.file == "a.tif" and page.page == 1
    assert any("crashed its worker" in w for w in page.warnings)
