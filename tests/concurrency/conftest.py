"""Fixtures of the race tests: a monitor connection beside the stores.

The databases come from ``tests/conftest.py`` (one fresh, migrated database per test). The
race tests write no files: the race matrix is produced by ``chatkit-pg races``
(:mod:`chatkit_pg.harness.races`), into the run folder it is given.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest


@pytest.fixture
async def monitor(database_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to the test's database, outside every store's pool."""
    conn = await asyncpg.connect(database_dsn)
    try:
        yield conn
    finally:
        await conn.close()
