"""The store's idle connections: kept out of SQLAlchemy's pool between calls, never hoarded.

The store keeps healthy connections of its own engine checked out between calls (a pool
checkout through SQLAlchemy's greenlet costs more CPU than the rest of an append). These
tests hold it to the pool's promises: a caller waiting for a connection gets the next one
freed, recycling still happens, closing the store returns everything, and the server's
restart or a failed call never leaves a dead connection in the stack.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import event

from chatkit_pg import PostgresStore

pytestmark = pytest.mark.no_pgbouncer("counts and identifies server sessions")


async def _backend_pid(store: PostgresStore[Any]) -> int:
    async with store.connection() as conn:
        return int(await conn.fetchval("SELECT pg_backend_pid()"))


async def test_a_caller_waiting_in_the_pool_gets_the_connection_freed_next(
    database_dsn: str,
) -> None:
    store: PostgresStore[Any] = PostgresStore(
        database_dsn, pool_size=1, max_overflow=0, pool_timeout=5
    )
    try:
        holding = asyncio.Event()

        async def hold_the_only_connection() -> None:
            async with store.connection():
                holding.set()
                await asyncio.sleep(0.3)

        async def wait_for_it() -> int:
            await holding.wait()
            return await _backend_pid(store)

        first = asyncio.create_task(hold_the_only_connection())
        # Within pool_timeout: the freed connection went to the waiter, not to the idle stack.
        pid = await asyncio.wait_for(wait_for_it(), 4)
        await first
        assert pid == await _backend_pid(store)  # and afterwards it is reused
        assert store.connections_in_use() == 0
    finally:
        await store.close()


async def test_an_idle_connection_is_handed_out_only_until_pool_recycle(
    database_dsn: str,
) -> None:
    """On the stack's own clock (a test clock here): no waiting, so no race with the machine."""
    store: PostgresStore[Any] = PostgresStore(database_dsn, pool_size=2, pool_recycle=1)
    now = [0.0]
    store._connections.clock = lambda: now[0]  # frozen: the grace timer releases nothing
    pool_checkouts: list[object] = []
    event.listen(store.engine.sync_engine.pool, "checkout", lambda *_: pool_checkouts.append(1))
    try:
        first = await _backend_pid(store)
        now[0] = 0.999
        assert await _backend_pid(store) == first
        assert len(pool_checkouts) == 1  # the second call took it from the idle stack
        now[0] = 1.0  # pool_recycle seconds since it left the pool (at 0.0)
        await _backend_pid(store)
        assert len(pool_checkouts) == 2  # given back to the pool, not handed out again
    finally:
        await store.close()


async def test_a_busy_store_still_recycles_its_connection(database_dsn: str) -> None:
    """Calls back to back keep the connection on the idle stack the whole time (no await
    between them), so only the stack giving it up lets the pool recycle it."""
    store: PostgresStore[Any] = PostgresStore(database_dsn, pool_size=2, pool_recycle=1)
    try:
        began = time.monotonic()
        first = pid = await _backend_pid(store)
        while pid == first:
            assert time.monotonic() - began < 30, "the connection was never recycled"
            pid = await _backend_pid(store)
        assert time.monotonic() - began >= 1  # not replaced before pool_recycle
    finally:
        await store.close()


async def test_close_returns_the_idle_connections(database_dsn: str) -> None:
    store: PostgresStore[Any] = PostgresStore(database_dsn, pool_size=3)
    await asyncio.gather(*(_backend_pid(store) for _ in range(3)))
    pool = store.engine.sync_engine.pool
    assert store.connections_in_use() == 0
    await store.close()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_connection_whose_call_failed_is_not_kept(database_dsn: str) -> None:
    store: PostgresStore[Any] = PostgresStore(database_dsn, pool_size=2)
    try:
        first = await _backend_pid(store)

        async def cancelled_mid_query() -> None:
            async with store.connection() as conn:
                await conn.fetchval("SELECT pg_sleep(5)")

        task = asyncio.create_task(cancelled_mid_query())
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await _backend_pid(store) != first  # the cancelled one was discarded
        assert store.connections_in_use() == 0
    finally:
        await store.close()


async def test_others_on_the_same_engine_are_not_starved(database_dsn: str) -> None:
    owner: PostgresStore[Any] = PostgresStore(
        database_dsn, pool_size=2, max_overflow=0, pool_timeout=3
    )
    try:
        await asyncio.gather(_backend_pid(owner), _backend_pid(owner))  # both kept idle
        other: PostgresStore[Any] = PostgresStore(owner.engine)
        # Waits in the pool for one of them, which the owner gives back after its grace.
        assert await _backend_pid(other) > 0
        await owner.create_schema()  # migrations use the engine too (two connections)
        assert owner.connections_in_use() == 0
    finally:
        await owner.close()
