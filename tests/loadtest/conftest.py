"""Fixtures of the load-test tests: a database and the real server on loopback.

Both come from ``tests/conftest.py``: the database from ``fresh_database`` on the session's
``pg_server``, the server from ``serving`` (``chatkit-pg serve`` in a subprocess on
127.0.0.1 and a free port, which migrates the database at start); both last the module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from chatkit_pg.harness.provision import PostgresServer

from ..conftest import fresh_database, serving


@pytest.fixture(scope="module")
async def loadtest_dsn(pg_server: PostgresServer) -> AsyncIterator[str]:
    """A database for this module (the server migrates it at start)."""
    async with fresh_database(pg_server, "chatkit_lt") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def server_url(loadtest_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a running server (no delta delay, so tests stay quick)."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    with serving(loadtest_dsn, log, deltas=4) as url:
        yield url
