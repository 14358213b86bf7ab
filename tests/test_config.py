"""Construction, URLs, engines, options and lifecycle."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from chatkit_pg import STRATEGIES, PostgresStore
from chatkit_pg.engine import async_url

from .items import thread

ALICE = {"user_id": "alice"}


def test_creating_a_store_connects_nothing() -> None:
    # Nothing listens there: construction must not try.
    store: PostgresStore[Any] = PostgresStore("postgresql://u:p@127.0.0.1:1/db")
    assert store.sort_key_strategy == "counter"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h:5432/d", "postgresql+asyncpg://u:p@h:5432/d"),
        ("postgres://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql+asyncpg://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql://u@/d?host=/tmp/sock", "postgresql+asyncpg://u@/d?host=/tmp/sock"),
    ],
)
def test_url_forms(given: str, expected: str) -> None:
    assert async_url(given) == expected


@pytest.mark.parametrize("bad", ["mysql://u:secret@h/d", "sqlite:///x.db", "not a url"])
def test_bad_url_is_a_clear_error_without_the_password(bad: str) -> None:
    with pytest.raises(ValueError, match="not a PostgreSQL URL") as info:
        PostgresStore(bad)
    assert "secret" not in str(info.value)


def test_unknown_strategy_and_option_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="counter"):
        PostgresStore("postgresql://h/d", sort_key_strategy="fastest")
    with pytest.raises(TypeError, match="pool_szie"):
        PostgresStore("postgresql://h/d", pool_szie=3)
    assert set(STRATEGIES) >= {
        "naive_max",
        "locked_max",
        "counter",
        "advisory",
        "unique_retry",
        "sequence",
    }


async def test_unix_socket_url_from_the_embedded_server(database_dsn: str) -> None:
    assert "host=/" in database_dsn or "CHATKIT_PG_DSN" in database_dsn or "@" in database_dsn
    async with PostgresStore(database_dsn, pool_size=1) as store:
        await store.save_thread(thread("t"), ALICE)
        assert (await store.load_thread("t", ALICE)).id == "t"


async def test_callers_engine_is_used_and_left_open(database_dsn: str) -> None:
    engine = create_async_engine(async_url(database_dsn), pool_size=2)
    try:
        store: PostgresStore[Any] = PostgresStore(engine)
        await store.save_thread(thread("t"), ALICE)
        await store.close()
        # The caller still owns a working engine.
        other: PostgresStore[Any] = PostgresStore(engine)
        assert (await other.load_thread("t", ALICE)).id == "t"
        with pytest.raises(TypeError, match="pool options"):
            PostgresStore(engine, pool_size=3)
    finally:
        await engine.dispose()


async def test_many_first_uses_at_once_open_one_pool(database_dsn: str) -> None:
    store: PostgresStore[Any] = PostgresStore(database_dsn, pool_size=3, max_overflow=0)
    try:
        engines = set()

        async def first_use(n: int) -> None:
            engines.add(id(store.engine))
            await store.load_threads(5, None, "asc", {"user_id": f"u{n}"})

        await asyncio.gather(*(first_use(n) for n in range(50)))
        assert len(engines) == 1
        assert store.engine.sync_engine.pool.checkedin() <= 3
    finally:
        await store.close()


@pytest.mark.no_pgbouncer(
    "statement_timeout_ms is a session setting sent at connect; pgbouncer=True sends none "
    "(transaction pooling would leak it to other clients): set it on PgBouncer's side"
)
async def test_statement_timeout_option_reaches_the_server(make_store: Any) -> None:
    store = await make_store(statement_timeout_ms=1234)
    async with store.connection() as conn:
        assert await conn.fetchval("SHOW statement_timeout") == "1234ms"


async def test_pgbouncer_mode_uses_no_prepared_statement_cache(make_store: Any) -> None:
    store = await make_store(pgbouncer=True)
    await store.save_thread(thread("t"), ALICE)
    assert (await store.load_thread("t", ALICE)).id == "t"
    async with store.connection() as conn:
        assert conn._stmt_cache.get_max_size() == 0  # asyncpg's statement cache is off


async def test_close_is_idempotent_and_the_store_reopens(make_store: Any) -> None:
    store = await make_store()
    await store.save_thread(thread("t"), ALICE)
    await store.close()
    await store.close()
    assert (await store.load_thread("t", ALICE)).id == "t"  # first use after close reopens


def test_an_engine_on_another_driver_is_a_clear_error() -> None:
    engine = create_async_engine("postgresql+asyncpg://u@h/d")
    engine.sync_engine.dialect.driver = "psycopg"  # as an engine made for psycopg reports
    with pytest.raises(ValueError, match="postgresql\\+asyncpg"):
        PostgresStore(engine)
