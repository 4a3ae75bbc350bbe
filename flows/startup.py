"""Start-up of `claim-intake run`: Prefect's temporary server, started before the models load.

With no Prefect API configured, the flow's first call to the API starts Prefect's temporary
server, a separate process that takes 4-5 s to answer (its own imports and database check),
while this process only waits. The batch then spent another 5-6 s of CPU importing spaCy,
scikit-learn, skops and the ICD-10-CM tables before the first claim could be understood.
Started here, the server comes up on one core while the other loads them
(`flows.batch.preload_resources`).

The server is started as Prefect starts its own temporary server (`SubprocessASGIServer`: the
same uvicorn command and environment), but without importing Prefect's server modules into
this process: that import cost the CLI 3-4 s of CPU on the critical path of every batch,
only to launch a subprocess that imports them again. The flow is then pointed at it with
`PREFECT_API_URL` (`TemporaryApi.settings`), and the server is stopped when the CLI exits.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["TemporaryApi", "start_temporary_api"]

_PORT_IN_USE = 3
"""uvicorn's exit code when its port was taken between choosing it and binding it."""

_STARTUP_TIMEOUT_UNTIL_READ = 120.0
"""The server's start-up timeout until Prefect's own setting has been read."""


def _end_with_parent() -> Callable[[], None] | None:
    """On Linux, a function for `preexec_fn` that makes the server get SIGTERM when this
    process dies: a CLI killed mid-batch (SIGKILL, the OOM killer) runs no atexit handler,
    and its server would otherwise run on, orphaned, for good. Looked up here, in the
    parent, so the child only makes one system call between fork and exec."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import signal

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    set_parent_death_signal, sigterm = 1, int(signal.SIGTERM)  # PR_SET_PDEATHSIG

    def ask() -> None:
        prctl(set_parent_death_signal, sigterm)

    return ask


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TemporaryApi:
    """Prefect's temporary API server in a subprocess of this one, stopped at exit."""

    def __init__(self, startup_timeout: float) -> None:
        self.startup_timeout = startup_timeout
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = self._launch()
        atexit.register(self.stop)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _launch(self) -> subprocess.Popen[bytes]:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            _site_of("prefect"),
            "--factory",
            "prefect.server.api.server:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "error",
            "--lifespan",
            "on",
        ]
        # What Prefect sets for its own temporary server: no UI, an ephemeral server. Prefect
        # also hands its server the settings in force in the parent; here they all come from
        # sources the server reads too (this environment, the profile, the working
        # directory's prefect.toml or .env), so importing Prefect is not needed to launch it.
        env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }
        return subprocess.Popen(command, env=env, preexec_fn=_end_with_parent())  # noqa: PLW1509

    def wait(self) -> None:
        """Block until the server answers its health check; RuntimeError if it does not
        within `startup_timeout` seconds or its process ends."""
        import httpx

        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client() as client:
            while time.monotonic() < deadline:
                if self.process is None:
                    raise RuntimeError("Prefect's temporary server was stopped while starting")
                code = self.process.poll()
                if code == _PORT_IN_USE:
                    self.port = _free_port()
                    self.process = self._launch()
                    continue
                if code is not None:
                    raise RuntimeError(
                        f"Prefect's temporary server exited with code {code} while starting"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{self.url}/health").status_code == 200:
                        return
                time.sleep(0.1)
        raise RuntimeError(
            f"Prefect's temporary server did not answer within {self.startup_timeout:.0f} s "
            "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS)"
        )

    @contextlib.contextmanager
    def settings(self) -> Iterator[None]:
        """Prefect's settings pointing at this server, for the flow run inside the block."""
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.url}):
            yield

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _site_of(package: str) -> str:
    """The folder holding `package`, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{package} is not installed in this environment")
    return str(Path(spec.origin).parent.parent)


def start_temporary_api() -> TemporaryApi | None:
    """Start Prefect's temporary API server, or None when it is not Prefect's way: an API URL
    is configured (that server answers at once) or temporary servers are off.

    The server is launched first and Prefect's settings are read while it starts: importing
    Prefect costs this process about 0.8 s, and the server's own start (3-4 s) is what a
    batch waits for. In the rare case that a profile, not the environment, says no temporary
    server is wanted, it is stopped again at once. Prefect's settings must already be in
    the environment.
    """
    if os.environ.get("PREFECT_API_URL"):
        return None
    api = TemporaryApi(_STARTUP_TIMEOUT_UNTIL_READ)
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_EPHEMERAL_ENABLED,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
    )

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        api.stop()
        return None
    api.startup_timeout = float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
    return api
