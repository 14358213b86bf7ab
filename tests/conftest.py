"""Fixtures that give every test a real, freshly migrated PostgreSQL database.

The server comes from :mod:`chatkit_pg.harness.provision` (embedded PostgreSQL 18 by default,
Debian's PostgreSQL with ``CHATKIT_PG_PROVIDER=system`` -- 15 in CI --, a server of your own
through ``CHATKIT_PG_DSN``, or testcontainers when asked), started once per session.
A template database is migrated once with the production code path
(``PostgresStore.create_schema``); each test gets its own copy (``CREATE DATABASE ...
TEMPLATE``), dropped afterwards, so tests never see each other's rows.

``CHATKIT_PG_PGBOUNCER=true`` puts Debian's PgBouncer (transaction mode) in front of that
server: every store ``make_store`` (hence the ``store`` fixture) makes connects through it with
``pgbouncer=True``, while database admin work and ``monitor`` connections stay direct. Tests
that cannot pass through transaction pooling carry ``@pytest.mark.no_pgbouncer("why")`` and
are skipped with that reason in such a run.

Two helpers for fixtures elsewhere, imported from here:

* :func:`fresh_database` -- the one way to make a database for a fixture (any scope, any
  server): ``async with fresh_database(pg_server, "chatkit_lt") as dsn: yield dsn``.
* :func:`serving` -- ``chatkit-pg serve`` on a database, on loopback, for HTTP tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from chatkit_pg import SAFE_STRATEGIES, STRATEGIES, PostgresStore
from chatkit_pg.harness.provision import (
    PostgresServer,
    database_name,
    pgbouncer_requested,
    start_server,
    temporary_database,
)
from chatkit_pg.loadtest.orchestration.run import running_server
from chatkit_pg.loadtest.server.settings import ServerSettings

from .requirements import need

StoreFactory = Callable[..., Awaitable[PostgresStore[Any]]]


@asynccontextmanager
async def fresh_database(
    server: PostgresServer, prefix: str, *, template: str | None = None, migrate: bool = False
) -> AsyncIterator[str]:
    """A new database ``{prefix}_<hex>`` on ``server``: yields its DSN, drops it afterwards.

    Args:
        server: where to create it (``pg_server``, or a test module's own server).
        prefix: the name prefix, so a leftover database tells which tests made it.
        template: an existing database to copy (e.g. the migrated template).
        migrate: run ``PostgresStore.create_schema`` on it before yielding. Leave it off when
            the code under test migrates (``chatkit-pg serve`` does at start).
    """
    async with temporary_database(server, prefix, template=template) as dsn:
        if migrate:
            async with PostgresStore(dsn, pool_size=1, max_overflow=0) as migrator:
                await migrator.create_schema()
        yield dsn


@contextmanager
def serving(dsn: str, log: Path, **server_options: Any) -> Iterator[str]:
    """``chatkit-pg serve`` on ``dsn`` at 127.0.0.1 and a free port; yields its base URL.

    ``server_options`` are :class:`ServerSettings` fields (``deltas=2``); there is no delay
    between streamed deltas unless they set one, so tests stay quick. The server
    migrates the database at start and is stopped when the block ends; the tail of its log
    is then printed (pytest shows it with a failing test).
    """
    server_options.setdefault("delta_delay_ms", 0)
    settings = ServerSettings(dsn=dsn, **server_options)
    try:
        with running_server(settings, log) as (url, _process):
            yield url
    finally:
        if log.exists():
            print(f"--- {log} (tail) ---\n{log.read_text(errors='replace')[-2000:]}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip, with their stated reason, the tests that cannot pass through PgBouncer."""
    if not pgbouncer_requested():
        return
    for item in items:
        marker = item.get_closest_marker("no_pgbouncer")
        if marker is None:
            continue
        if not marker.args or not isinstance(marker.args[0], str):
            raise pytest.UsageError(f"{item.nodeid}: no_pgbouncer needs a reason string")
        item.add_marker(pytest.mark.skip(reason=f"not through PgBouncer: {marker.args[0]}"))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """The session's server; with ``CHATKIT_PG_PGBOUNCER=true``, PgBouncer in front of it."""
    # A leg whose server program is not installed (PostgreSQL 15, PgBouncer) skips on a
    # developer's machine and fails in CI.
    server = need(lambda: start_server(pgbouncer=pgbouncer_requested()))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
async def template_database(pg_server: PostgresServer) -> AsyncIterator[str]:
    """Name of the migrated database every test's database is copied from."""
    async with fresh_database(pg_server, "chatkit_template", migrate=True) as dsn:
        yield database_name(dsn)


@pytest.fixture
async def database_dsn(pg_server: PostgresServer, template_database: str) -> AsyncIterator[str]:
    """DSN of a fresh, migrated database owned by this test."""
    async with fresh_database(pg_server, "chatkit_test", template=template_database) as dsn:
        yield dsn


@pytest.fixture
async def empty_database_dsn(pg_server: PostgresServer) -> AsyncIterator[str]:
    """DSN of a fresh database with no schema at all (for migration tests)."""
    async with fresh_database(pg_server, "chatkit_empty") as dsn:
        yield dsn


@pytest.fixture
def store_dsn(pg_server: PostgresServer, database_dsn: str) -> str:
    """The DSN a store uses for this test's database: through PgBouncer when it is on."""
    return pg_server.client_dsn(database_dsn)


@pytest.fixture(scope="session")
def store_options(pg_server: PostgresServer) -> dict[str, Any]:
    """Options every store of the session needs: ``pgbouncer=True`` behind PgBouncer."""
    return {"pgbouncer": True} if pg_server.pooler is not None else {}


@pytest.fixture
async def make_store(store_dsn: str, store_options: dict[str, Any]) -> AsyncIterator[StoreFactory]:
    """Factory of stores on this test's database; every store made is closed at the end.

    Behind PgBouncer the stores connect through it, with ``pgbouncer=True``.
    """
    made: list[PostgresStore[Any]] = []

    async def factory(**options: Any) -> PostgresStore[Any]:
        options.setdefault("pool_size", 4)
        options.setdefault("max_overflow", 0)
        options = {**store_options, **options}
        store: PostgresStore[Any] = PostgresStore(store_dsn, **options)
        made.append(store)
        return store

    try:
        yield factory
    finally:
        for store in made:
            await store.close()


@pytest.fixture(params=SAFE_STRATEGIES)
def safe_strategy(request: pytest.FixtureRequest) -> str:
    """Every strategy that promises race-free keys."""
    return str(request.param)


@pytest.fixture(params=tuple(STRATEGIES))
def any_strategy(request: pytest.FixtureRequest) -> str:
    """Every strategy, the racy baseline included (for tests where order does not matter)."""
    return str(request.param)


@pytest.fixture
async def store(make_store: StoreFactory, safe_strategy: str) -> PostgresStore[Any]:
    """A store with each race-free strategy in turn."""
    return await make_store(sort_key_strategy=safe_strategy)
