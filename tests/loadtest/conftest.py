"""Fixtures of the load-test tests: a migrated database and the real server on loopback.

Databases come from ``tests/conftest.py``'s ``pg_server`` (the one provisioning path); the
server is ``chatkit-pg serve`` in a subprocess on 127.0.0.1 and a free port, stopped at the
end of the module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from chatkit_pg.harness.provision import PostgresServer, database_name
from chatkit_pg.loadtest.orchestration.run import LoadTestConfig, running_server


@pytest.fixture(scope="module")
async def loadtest_dsn(pg_server: PostgresServer) -> AsyncIterator[str]:
    """A database for this module (the server migrates it at start)."""
    dsn = await pg_server.create_database(prefix="chatkit_lt")
    try:
        yield dsn
    finally:
        await pg_server.drop_database(database_name(dsn))


@pytest.fixture(scope="module")
def server_url(loadtest_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a running server (no delta delay, so tests stay quick)."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    config = LoadTestConfig(server_options={"delta_delay_ms": 0, "deltas": 4})
    with running_server(loadtest_dsn, config, log) as (url, _process):
        yield url
    print(Path(log).read_text()[-2000:])
