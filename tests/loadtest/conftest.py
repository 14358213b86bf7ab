"""Fixtures of the load-test tests: a database and the real server on loopback, and the
docs-style server (not ours).

The first two come from ``tests/conftest.py``: the database from ``fresh_database`` on the
session's ``pg_server``, the server from ``serving`` (``chatkit-pg serve`` in a subprocess
on 127.0.0.1 and a free port, which migrates the database at start). All last the module.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from chatkit_pg.harness.provision import PostgresServer, free_port

from ..conftest import fresh_database, serving

ROOT = Path(__file__).resolve().parents[2]


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


@pytest.fixture(scope="module")
def docs_url() -> Iterator[str]:
    """Base URL of the docs-style server (``tests/docs_server``: not ours) on loopback."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.docs_server.app", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the docs-style server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(10)
