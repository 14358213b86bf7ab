"""Fixtures of the race tests: a monitor connection and the race matrix collector.

The databases come from ``tests/conftest.py`` (one fresh, migrated database per test). The
race matrix is collected over the session by the volume races and written once at the end
to ``<run_dir>/races/race_matrix.json`` (:data:`store.results.RACE_MATRIX_JSON`).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from chatkit_pg import STRATEGIES
from chatkit_pg.harness.provision import PostgresServer
from chatkit_pg.harness.results import RunFolder, machine_conditions, write_json

from .harness import SCENARIOS, active_profile


@pytest.fixture
async def monitor(database_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to the test's database, outside every store's pool."""
    conn = await asyncpg.connect(database_dsn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def race_matrix(pg_server: PostgresServer) -> AsyncIterator[list[dict[str, Any]]]:
    """Rows of the race matrix; written as JSON when the session ends, if any were added."""
    rows: list[dict[str, Any]] = []
    yield rows
    if not rows:
        return
    conditions = {
        **machine_conditions(),
        "postgres": await pg_server.server_info(),
        "profile": active_profile().name,
    }
    strategies, scenarios = list(STRATEGIES), list(SCENARIOS)
    rows.sort(
        key=lambda r: (
            strategies.index(r["strategy"]),
            scenarios.index(r["scenario"]),
            r["concurrency"],
        )
    )
    folder = Path(os.environ.get("CHATKIT_PG_RESULTS_DIR", "results/races-tmp"))  # WIP: moves to the races producer
    path = write_json(folder / RunFolder.RACE_MATRIX_FILE, {"rows": rows}, conditions)
    print(f"\nrace matrix: {path}")
