"""Start-up of `claim-intake run`: Prefect's temporary server and the models' imports side by side.

With no Prefect API configured, the flow's first call to the API starts Prefect's temporary
server, a separate process that takes 4-5 s to answer (its own imports and database check),
while this process only waits. The batch then spent another 5-6 s of CPU importing spaCy,
scikit-learn, skops and the ICD-10-CM tables before the first claim could be understood.
Started here, the server comes up on one core while the other imports those libraries.

The server is the one Prefect itself would start (`SubprocessASGIServer` is one instance
per process), so the flow finds it running and Prefect still stops it at exit.
"""

from __future__ import annotations

import importlib
import logging
import threading
from concurrent.futures import Future

__all__ = ["TemporaryApi", "start_temporary_api", "import_in_background"]

UNDERSTANDING_MODULE = "pipeline.process"
"""What the batch imports before it can understand a packet (spaCy, scikit-learn, skops, ICD-10-CM)."""


class TemporaryApi:
    """Prefect's temporary API server, starting on a thread."""

    def __init__(self) -> None:
        self._started: Future[None] = Future()

    def _start(self) -> None:
        from prefect.server.api.server import SubprocessASGIServer

        try:
            SubprocessASGIServer().start()
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for it
            self._started.set_exception(exc)
        else:
            self._started.set_result(None)

    def wait(self) -> None:
        """Block until the server answers; raises what Prefect raised if it did not start."""
        self._started.result()


def start_temporary_api() -> TemporaryApi | None:
    """Start Prefect's temporary API server on a thread, or None when it is not Prefect's way:
    an API URL is configured (that server answers at once) or temporary servers are off.

    Prefect's settings must already be in the environment (they are read here and passed
    to the server process).
    """
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return None
    # Imported here, not on the thread: an import of Prefect's server modules running
    # beside the main thread's imports of Prefect would only contend for the same locks.
    import prefect.server.api.server  # noqa: F401

    api = TemporaryApi()
    threading.Thread(target=api._start, name="prefect-api-start", daemon=True).start()
    return api


def import_in_background(module: str = UNDERSTANDING_MODULE) -> None:
    """Import `module` on a daemon thread; whoever imports it next waits for this import
    (Python's per-module import lock) instead of starting its own. A failed import is left
    to that next import, which raises it where the batch handles it."""

    def load() -> None:
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - the batch's own import raises it again
            logging.getLogger(__name__).debug(
                "warm-up import of %s failed: %s", module, type(exc).__name__
            )

    threading.Thread(target=load, name=f"import-{module}", daemon=True).start()
