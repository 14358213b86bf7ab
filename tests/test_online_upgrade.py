"""Migration 0002 on a populated database while writers append.

The index builds must not block writers, the one write-blocking step (the primary-key swap)
must give up its lock request instead of queueing writers behind a long transaction, and the
result must be exactly the layout a fresh migration creates. Each test makes the dangerous
moment happen on purpose instead of hoping to catch it:

* a REPEATABLE READ transaction keeps an old snapshot, so CREATE INDEX CONCURRENTLY is
  stuck waiting for it while the test watches the writers;
* an idle transaction holds a lock on the items table, so the swap's lock request times out
  and is retried while the test watches the writers.

Each test waits until the server shows that moment (pg_stat_progress_create_index,
pg_stat_activity), never for a fixed time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import pytest

from chatkit_pg import PostgresStore, migrate
from chatkit_pg.bench.variants import layout
from chatkit_pg.harness.online_upgrade import WRITER_CONTEXT, Appender, recorded_lock_holds
from chatkit_pg.harness.races import race_thread, user_message

from .concurrency.harness import Probe, wait_done_or_blocked

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


@dataclass
class _Scene:
    """A database at 0001 with data, writers appending, and two direct connections: one to
    hold a transaction the upgrade must wait for, one to watch the server."""

    store: PostgresStore[Any]
    appender: Appender
    holder: asyncpg.Connection
    monitor: asyncpg.Connection


@asynccontextmanager
async def _writers_on_0001(dsn: str) -> AsyncIterator[_Scene]:
    store = await _at_0001_with_data(dsn)
    holder = await asyncpg.connect(dsn)
    monitor = await asyncpg.connect(dsn)
    scene = _Scene(store, Appender(store, writers=2), holder, monitor)
    try:
        await scene.appender.start()
        yield scene
    finally:
        await holder.close()  # first: it releases whatever the writers wait for
        await scene.appender.stop()
        await monitor.close()
        await store.close()


async def _until_stuck(
    upgrading: asyncio.Task[None], scene: _Scene, probe: Probe, what: str
) -> None:
    """Wait until the server shows the upgrade ``what`` (``probe``); fail if it finished."""
    state = await wait_done_or_blocked(upgrading, scene.monitor, WAIT_S, probe, what)
    if state == "done":
        upgrading.result()  # raises the upgrade's own error, if it failed
        raise AssertionError(f"the upgrade finished instead of being {what}")


def _building_index_waits_for_snapshot_of(pid: int) -> Probe:
    """CREATE INDEX CONCURRENTLY waits for the snapshot of session ``pid`` to go."""

    async def probe(monitor: asyncpg.Connection) -> bool:
        waiting = await monitor.fetchval(
            """SELECT count(*) FROM pg_stat_progress_create_index
                WHERE datname = current_database()
                  AND phase = 'waiting for old snapshots' AND current_locker_pid = $1""",
            pid,
        )
        return bool(waiting)

    return probe


def _swap_retries_behind(pid: int) -> Probe:
    """A second lock request of the swap waits behind session ``pid``: the first timed out.

    Each attempt is a new LOCK TABLE statement, told apart by its ``query_start``.
    """
    first_request: list[datetime] = []

    async def probe(monitor: asyncpg.Connection) -> bool:
        requested = await monitor.fetchval(
            """SELECT query_start FROM pg_stat_activity
                WHERE datname = current_database() AND query LIKE 'LOCK TABLE %'
                  AND $1 = ANY(pg_blocking_pids(pid))""",
            pid,
        )
        if requested is None:
            return False
        if not first_request:
            first_request.append(requested)
        return bool(requested != first_request[0])

    return probe


async def test_writers_append_while_the_indexes_are_built(
    empty_database_dsn: str, database_dsn: str
) -> None:
    async with _writers_on_0001(empty_database_dsn) as scene:
        await scene.holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1")
        with recorded_lock_holds() as holds:
            upgrading = asyncio.create_task(migrate.upgrade(scene.store.engine))
            await _until_stuck(
                upgrading,
                scene,
                _building_index_waits_for_snapshot_of(scene.holder.get_server_pid()),
                "CREATE INDEX CONCURRENTLY waiting for the old snapshot",
            )
            await _writers_progress(scene.appender, f"{PROGRESS} appends during the index build")
            assert not upgrading.done()
            await scene.holder.execute("COMMIT")
            await asyncio.wait_for(upgrading, WAIT_S)
        await _writers_progress(scene.appender, "appends after the upgrade")
        await scene.appender.stop()
        # One write-blocking transaction, the swap, and it got its locks at once.
        assert [hold.attempt for hold in holds] == [1]
        await _check_result(scene.store, scene.appender, database_dsn)


async def test_the_swap_gives_way_to_a_long_transaction_instead_of_queueing_writers(
    empty_database_dsn: str, database_dsn: str
) -> None:
    async with _writers_on_0001(empty_database_dsn) as scene:
        # Idle in transaction with a lock the swap's ACCESS EXCLUSIVE request conflicts with;
        # READ COMMITTED and simple protocol, so it holds no snapshot the builds wait for.
        await scene.holder.execute("BEGIN; LOCK TABLE chatkit_thread_items IN ACCESS SHARE MODE")
        with recorded_lock_holds() as holds:
            upgrading = asyncio.create_task(migrate.upgrade(scene.store.engine))
            # Each lock request times out (2 s) and is retried: between attempts the
            # writers, queued behind the request, get through.
            await _until_stuck(
                upgrading,
                scene,
                _swap_retries_behind(scene.holder.get_server_pid()),
                "retrying the swap's lock request behind the long transaction",
            )
            assert not upgrading.done()
            await _writers_progress(scene.appender, "appends while the swap keeps retrying")
            await scene.holder.execute("COMMIT")
            await asyncio.wait_for(upgrading, WAIT_S)
        await scene.appender.stop()
        assert len(holds) == 1 and holds[0].attempt >= 2
        await _check_result(scene.store, scene.appender, database_dsn)
