"""A process pool that survives a worker crash.

Renderers and parsers are C libraries (pdfium, libtiff, Tesseract's leptonica): a malformed
page can kill the worker process that reads it, and a plain ProcessPoolExecutor is then
broken for good, failing every later page of the batch. This pool starts a fresh one
and submits the lost jobs again, once: the pages that were only in the wrong place at the
wrong time are read, and the page that crashes its worker twice reports
`BrokenProcessPool` for its caller to record.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

__all__ = ["RecoveringPool"]


class RecoveringPool(Executor):
    """ProcessPoolExecutor (spawn) that replaces itself after a crash and retries lost jobs.

    `attempts` is how many times one job may be tried in all.
    """

    def __init__(
        self,
        max_workers: int,
        initializer: Callable[[], object] | None = None,
        attempts: int = 2,
    ) -> None:
        self._max_workers = max_workers
        self._initializer = initializer
        self._attempts = max(1, attempts)
        self._lock = threading.Lock()
        self._pool = self._new_pool()
        self._closed = False
        self.restarts = 0

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self._max_workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=self._initializer,
        )

    def _replace(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        """The current pool, started afresh if it is still the broken one."""
        with self._lock:
            if self._pool is broken and not self._closed:
                broken.shutdown(wait=False, cancel_futures=False)
                self._pool = self._new_pool()
                self.restarts += 1
            return self._pool

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if self._closed:
            raise RuntimeError("cannot submit to a RecoveringPool after shutdown")
        outer: Future[Any] = Future()
        self._send(outer, fn, args, kwargs, attempt=1)
        return outer

    def _send(
        self,
        outer: Future[Any],
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        attempt: int,
    ) -> None:
        with self._lock:
            pool = self._pool
        try:
            inner = pool.submit(fn, *args, **kwargs)
        except BrokenProcessPool:
            pool = self._replace(pool)
            try:
                inner = pool.submit(fn, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - handed to the caller through the future
                outer.set_exception(exc)
                return
        except Exception as exc:  # noqa: BLE001 - handed to the caller through the future
            outer.set_exception(exc)
            return

        def settle(done: Future[Any]) -> None:
            error = done.exception()
            if (
                isinstance(error, BrokenProcessPool)
                and attempt < self._attempts
                and not self._closed
            ):
                self._replace(pool)
                self._send(outer, fn, args, kwargs, attempt + 1)
            elif error is not None:
                outer.set_exception(error)
            else:
                outer.set_result(done.result())

        inner.add_done_callback(settle)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            pool = self._pool
        pool.shutdown(wait=wait, cancel_futures=cancel_futures)
