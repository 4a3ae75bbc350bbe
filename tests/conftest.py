"""Shared test set-up: Prefect runs against a throw-away local server, never a real one."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

# Property tests check what a function returns, not how fast: on a loaded CI machine an
# example that loads a table (ICD-10-CM, the vocabularies) may take longer than Hypothesis's
# 200 ms deadline, which would fail a correct run.
settings.register_profile(
    "claim-intake", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("claim-intake")


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect server for the whole session (it takes seconds to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture(scope="session")
def postgres_server():
    """A throw-away PostgreSQL server (tests/postgres.py); skipped only when none is installed."""
    from tests.postgres import PG_MISSING, PostgresServer, find_pg_bin

    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.skip(PG_MISSING)
    server = PostgresServer.start(bin_dir)
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server, request) -> str:
    """The SQLAlchemy URL of a fresh, empty database for one test."""
    import re
    import uuid

    stem = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40]
    return postgres_server.create_database(f"t_{stem}_{uuid.uuid4().hex[:6]}")
