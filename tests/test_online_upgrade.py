"""Migration 0002 on a populated database while writers append.

The index builds must not block writers, the one write-blocking step (the primary-key swap)
must give up its lock request instead of queueing writers behind a long transaction, and the
result must be exactly the layout a fresh migration creates. Each test makes the dangerous
moment happen on purpose instead of hoping to catch it:

* a REPEATABLE READ transaction keeps an old snapshot, so CREATE INDEX CONCURRENTLY is
  stuck waiting for it while the test watches the writers;
* an idle transaction holds a lock on the items table, so the swap's lock request times out
  and is retried while the test watches the writers.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import pytest

from chatkit_pg import PostgresStore, migrate
from chatkit_pg.bench.variants import layout
from chatkit_pg.harness.online_upgrade import WRITER_CONTEXT, Appender, recorded_lock_holds
from chatkit_pg.harness.races import race_thread, user_message

pytestmark = pytest.mark.no_pgbouncer("the test holds transactions open on direct connections")

SEEDED_THREADS = 20
SEEDED_ITEMS_PER_THREAD = 50
PROGRESS = 20  # appends that must commit while the migration is stuck
WAIT_S = 30.0


async def _at_0001_with_data(dsn: str) -> PostgresStore[Any]:
    store: PostgresStore[Any] = PostgresStore(dsn, pool_size=4)
    await migrate.upgrade(store.engine, "0001")
    for t in range(SEEDED_THREADS):
        thread_id = f"thr_seeded_{t}"
        await store.save_thread(race_thread(thread_id), WRITER_CONTEXT)
        for n in range(SEEDED_ITEMS_PER_THREAD):
            await store.add_thread_item(
                thread_id, user_message(f"msg_{t}_{n}", thread_id), WRITER_CONTEXT
            )
    return store


async def _eventually(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT_S:.0f} s: {what}")
        await asyncio.sleep(0.02)


async def _writers_progress(appender: Appender, what: str) -> None:
    start = appender.appended
    await _eventually(_true_when(lambda: appender.appended >= start + PROGRESS), what)


def _true_when(predicate: Any) -> Any:
    async def check() -> bool:
        return bool(predicate())

    return check


async def _check_result(store: PostgresStore[Any], appender: Appender, fresh_dsn: str) -> None:
    assert appender.failures == []
    assert await migrate.current_revision(store.engine) == migrate.head_revision()
    async with store.connection() as conn:
        for thread_id in appender.thread_ids:
            keys = await conn.fetch(
                "SELECT sort_key FROM chatkit_thread_items WHERE thread_id = $1 ORDER BY 1",
                thread_id,
            )
            assert [k["sort_key"] for k in keys] == list(range(1, len(keys) + 1))
        total = await conn.fetchval("SELECT count(*) FROM chatkit_thread_items")
        assert total == SEEDED_THREADS * SEEDED_ITEMS_PER_THREAD + appender.appended
        invalid = await conn.fetch(
            "SELECT conname FROM pg_constraint WHERE contype = 'f' AND NOT convalidated"
        )
        assert invalid == []
        upgraded = await layout(conn)
    fresh = await asyncpg.connect(fresh_dsn)
    try:
        assert upgraded == await layout(fresh)  # no leftover *_next index, same definitions
    finally:
        await fresh.close()
    page = await store.load_thread_items("thr_seeded_3", "msg_3_9", 5, "asc", WRITER_CONTEXT)
    assert [item.id for item in page.data] == [f"msg_3_{n}" for n in range(10, 15)]


async def _concurrent_index_build_waiting(monitor: asyncpg.Connection) -> bool:
    return bool(
        await monitor.fetchval(
            """SELECT count(*) FROM pg_stat_activity
                WHERE query LIKE 'CREATE UNIQUE INDEX CONCURRENTLY%'
                  AND wait_event_type = 'Lock'"""
        )
    )


async def test_writers_append_while_the_indexes_are_built(
    empty_database_dsn: str, database_dsn: str
) -> None:
    store = await _at_0001_with_data(empty_database_dsn)
    appender = Appender(store, writers=2)
    old_snapshot = await asyncpg.connect(empty_database_dsn)
    monitor = await asyncpg.connect(empty_database_dsn)
    try:
        await appender.start()
        await old_snapshot.execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1")
        with recorded_lock_holds() as holds:
            upgrading = asyncio.create_task(migrate.upgrade(store.engine))
            await _eventually(
                lambda: _concurrent_index_build_waiting(monitor),
                "CREATE INDEX CONCURRENTLY waiting for the old snapshot",
            )
            await _writers_progress(appender, f"{PROGRESS} appends during the index build")
            assert not upgrading.done()
            await old_snapshot.execute("COMMIT")
            await asyncio.wait_for(upgrading, WAIT_S)
        await _writers_progress(appender, "appends after the upgrade")
        await appender.stop()
        # One write-blocking transaction, the swap, and it got its locks at once.
        assert [hold.attempt for hold in holds] == [1]
        await _check_result(store, appender, database_dsn)
    finally:
        await old_snapshot.close()
        await monitor.close()
        await store.close()


async def test_the_swap_gives_way_to_a_long_transaction_instead_of_queueing_writers(
    empty_database_dsn: str, database_dsn: str
) -> None:
    store = await _at_0001_with_data(empty_database_dsn)
    appender = Appender(store, writers=2)
    long_transaction = await asyncpg.connect(empty_database_dsn)
    try:
        await appender.start()
        # Idle in transaction with a lock the swap's ACCESS EXCLUSIVE request conflicts with;
        # READ COMMITTED and simple protocol, so it holds no snapshot the builds wait for.
        await long_transaction.execute(
            "BEGIN; LOCK TABLE chatkit_thread_items IN ACCESS SHARE MODE"
        )
        with recorded_lock_holds() as holds:
            upgrading = asyncio.create_task(migrate.upgrade(store.engine))
            # Each lock request times out (2 s) and is retried: between attempts the
            # writers, queued behind the request, get through.
            await asyncio.sleep(5)
            assert not upgrading.done()
            await _writers_progress(appender, "appends while the swap keeps retrying")
            await long_transaction.execute("COMMIT")
            await asyncio.wait_for(upgrading, WAIT_S)
        await appender.stop()
        assert len(holds) == 1 and holds[0].attempt >= 2
        await _check_result(store, appender, database_dsn)
    finally:
        await long_transaction.close()
        await store.close()
