"""A process pool that survives a worker crash.

Renderers and parsers are C libraries (pdfium, libtiff, Tesseract's leptonica): a malformed
page can kill the worker process that reads it, and a plain ProcessPoolExecutor is then
broken for good, failing every later page of the batch. This pool starts a fresh one for
new work, and runs every job the crash took down again, one at a time in a one-worker
pool of its own: the pages that were only in the wrong place at the wrong time are read,
and the page that crashes its worker again is the one that reports `BrokenProcessPool`,
for its caller to record.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

__all__ = ["RecoveringPool"]

_Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class RecoveringPool(Executor):
    """ProcessPoolExecutor (spawn) that replaces itself after a crash and retries lost jobs."""

    def __init__(self, max_workers: int, initializer: Callable[[], object] | None = None) -> None:
        self._max_workers = max_workers
        self._initializer = initializer
        self._lock = threading.Lock()
        self._pool = self._new_pool(max_workers)
        self._closed = False
        self._retries: queue.Queue[_Job | None] = queue.Queue()
        self._retry_thread: threading.Thread | None = None
        self.restarts = 0

    def _new_pool(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=self._initializer,
        )

    def _replace(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        """The current pool, started afresh if it is still the broken one."""
        with self._lock:
            if self._pool is broken and not self._closed:
                broken.shutdown(wait=False, cancel_futures=False)
                self._pool = self._new_pool(self._max_workers)
                self.restarts += 1
            return self._pool

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if self._closed:
            raise RuntimeError("cannot submit to a RecoveringPool after shutdown")
        outer: Future[Any] = Future()
        with self._lock:
            pool = self._pool
        try:
            inner = pool.submit(fn, *args, **kwargs)
        except BrokenProcessPool:
            inner = self._replace(pool).submit(fn, *args, **kwargs)

        def settle(done: Future[Any]) -> None:
            error = done.exception()
            if isinstance(error, BrokenProcessPool) and not self._closed:
                self._replace(pool)
                self._retry((outer, fn, args, kwargs))
            elif error is not None:
                outer.set_exception(error)
            else:
                outer.set_result(done.result())

        inner.add_done_callback(settle)
        return outer

    def _retry(self, job: _Job) -> None:
        with self._lock:
            if self._retry_thread is None:
                self._retry_thread = threading.Thread(
                    target=self._retry_loop, name="claim-intake-retry", daemon=True
                )
                self._retry_thread.start()
        self._retries.put(job)

    def _retry_loop(self) -> None:
        """Lost jobs one by one, each alone in its worker: a crash now names its job."""
        pool: ProcessPoolExecutor | None = None
        while (job := self._retries.get()) is not None:
            outer, fn, args, kwargs = job
            pool = pool or self._new_pool(1)
            try:
                result = pool.submit(fn, *args, **kwargs).result()
            except BrokenProcessPool as exc:
                pool.shutdown(wait=False, cancel_futures=False)
                pool = None
                outer.set_exception(exc)
            except Exception as exc:  # noqa: BLE001 - handed to the caller through the future
                outer.set_exception(exc)
            else:
                outer.set_result(result)
        if pool is not None:
            pool.shutdown(wait=True)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            pool = self._pool
            retry_thread = self._retry_thread
        pool.shutdown(wait=wait, cancel_futures=cancel_futures)
        if retry_thread is not None:
            self._retries.put(None)
            if wait:
                retry_thread.join()
