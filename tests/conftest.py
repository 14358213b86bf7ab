"""Fixtures that give every test a real, freshly migrated PostgreSQL database.

The server comes from :mod:`store.provision` (embedded by default, ``CHATKIT_PG_DSN`` or
testcontainers when asked), started once per session. A template database is migrated once
with the production code path (``PostgresStore.create_schema``); each test gets its own copy
(``CREATE DATABASE ... TEMPLATE``), dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from chatkit_pg import SAFE_STRATEGIES, STRATEGIES, PostgresStore
from chatkit_pg.harness.provision import PostgresServer, database_name, start_server

StoreFactory = Callable[..., Awaitable[PostgresStore[Any]]]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = start_server()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
async def template_database(pg_server: PostgresServer) -> AsyncIterator[str]:
    dsn = await pg_server.create_database(prefix="chatkit_template")
    name = database_name(dsn)
    store: PostgresStore[Any] = PostgresStore(dsn, pool_size=1, max_overflow=0)
    await store.create_schema()
    await store.close()
    try:
        yield name
    finally:
        await pg_server.drop_database(name)


@pytest.fixture
async def database_dsn(pg_server: PostgresServer, template_database: str) -> AsyncIterator[str]:
    """DSN of a fresh, migrated database owned by this test."""
    dsn = await pg_server.create_database(prefix="chatkit_test", template=template_database)
    try:
        yield dsn
    finally:
        await pg_server.drop_database(database_name(dsn))


@pytest.fixture
async def empty_database_dsn(pg_server: PostgresServer) -> AsyncIterator[str]:
    """DSN of a fresh database with no schema at all (for migration tests)."""
    dsn = await pg_server.create_database(prefix="chatkit_empty")
    try:
        yield dsn
    finally:
        await pg_server.drop_database(database_name(dsn))


@pytest.fixture
async def make_store(database_dsn: str) -> AsyncIterator[StoreFactory]:
    """Factory of stores on this test's database; every store made is closed at the end."""
    made: list[PostgresStore[Any]] = []

    async def factory(**options: Any) -> PostgresStore[Any]:
        options.setdefault("pool_size", 4)
        options.setdefault("max_overflow", 0)
        store: PostgresStore[Any] = PostgresStore(database_dsn, **options)
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
