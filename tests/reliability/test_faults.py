"""Faults on a real server: restarts, exhaustion, timeouts, serialization failures.

These tests stop and start PostgreSQL, so they run on an embedded server of their own and
never on the shared session server (or on a CHATKIT_PG_DSN server, which they skip).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from chatkit_pg import (
    PostgresStore,
    StoreTimeoutError,
    StoreUnavailableError,
    TransientConflictError,
)
from chatkit_pg.harness.provision import PostgresServer, start_server
from chatkit_pg.harness.vocabulary import DSN_ENV

from ..concurrency.harness import wait_done_or_blocked
from ..conftest import fresh_database
from ..items import thread, user_message

ALICE = {"user_id": "alice"}


@pytest.fixture(scope="module")
def own_server() -> Iterator[PostgresServer]:
    if os.environ.get(DSN_ENV):
        pytest.skip("fault tests stop and start the server: they need the embedded provider")
    server = start_server(provider="embedded")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def fault_dsn(own_server: PostgresServer) -> AsyncIterator[str]:
    """A migrated database per test (tests change database settings and restart the server)."""
    async with fresh_database(own_server, "chatkit_fault", migrate=True) as dsn:
        yield dsn


@asynccontextmanager
async def _thread_row_locked(dsn: str, thread_id: str) -> AsyncIterator[asyncpg.Connection]:
    """Hold the thread's row lock on another connection (as a concurrent writer would),
    so a store call on that thread waits inside its statement until the block ends."""
    holder = await asyncpg.connect(dsn)
    try:
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("SELECT 1 FROM chatkit_threads WHERE id = $1 FOR UPDATE", thread_id)
        try:
            yield holder
        finally:
            await transaction.rollback()
    finally:
        await holder.close()


async def _until_blocked(task: asyncio.Task[Any], dsn: str) -> None:
    """Return once ``task`` waits on a lock in ``dsn``'s database (``pg_stat_activity``).

    Fails the test if the task finishes first, and times out (``wait_done_or_blocked``'s
    deadline) if it never gets that far. The check runs on a connection of its own: the
    activity view is read once per transaction, so a lock holder could not see it change.
    """
    monitor = await asyncpg.connect(dsn)
    try:
        state = await wait_done_or_blocked(task, monitor)
    finally:
        await monitor.close()
    assert state == "blocked", f"{task!r} finished before it waited on the row lock"


async def _count_items(dsn: str, thread_id: str) -> tuple[int, int, int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            """
            SELECT count(*) AS n, count(DISTINCT i.sort_key) AS keys,
                   coalesce(max(i.sort_key), 0) AS max_key,
                   (SELECT last_sort_key FROM chatkit_threads WHERE id = $1) AS counter
              FROM chatkit_thread_items i WHERE i.thread_id = $1
            """,
            thread_id,
        )
    finally:
        await conn.close()
    return row["n"], row["keys"], row["max_key"], row["counter"]


async def test_restart_between_calls_is_invisible_to_the_next_call(
    own_server: PostgresServer, fault_dsn: str
) -> None:
    async with PostgresStore(fault_dsn, pool_size=3) as store:
        await store.save_thread(thread("t"), ALICE)
        # Warm every pooled connection, so all of them go stale in the restart.
        await asyncio.gather(*(store.load_thread("t", ALICE) for _ in range(6)))
        await asyncio.to_thread(own_server.restart)
        assert (await store.load_thread("t", ALICE)).id == "t"
        await store.add_thread_item("t", user_message("m_after", "t"), ALICE)
        await asyncio.gather(*(store.load_thread("t", ALICE) for _ in range(6)))
        assert (await store.load_item("t", "m_after", ALICE)).id == "m_after"


async def test_restart_during_writes_loses_no_acknowledged_write(
    own_server: PostgresServer, fault_dsn: str
) -> None:
    acknowledged: list[str] = []
    failed: list[BaseException] = []
    target = 50
    reached = asyncio.Event()
    async with PostgresStore(fault_dsn, pool_size=4, pool_timeout=5) as store:
        await store.save_thread(thread("t"), ALICE)
        stop = asyncio.Event()

        async def writer(w: int) -> None:
            n = 0
            while not stop.is_set():
                item_id = f"m_{w}_{n}"
                n += 1
                try:
                    await store.add_thread_item("t", user_message(item_id, "t"), ALICE)
                    acknowledged.append(item_id)
                    if len(acknowledged) >= target:
                        reached.set()
                except Exception as exc:  # every kind is recorded; asserted below
                    failed.append(exc)
                    await asyncio.sleep(0.05)

        writers = [asyncio.create_task(writer(w)) for w in range(4)]
        try:
            async with asyncio.timeout(60):
                await reached.wait()
                await asyncio.to_thread(own_server.restart, "immediate")  # a crash, then recovery
                reached.clear()
                target = len(acknowledged) + 50  # and 50 more acknowledged after it
                await reached.wait()
        finally:
            stop.set()
            await asyncio.gather(*writers)

        stored = {i.id for i in (await store.load_thread_items("t", None, 1000, "asc", ALICE)).data}
    assert set(acknowledged) <= stored, "an acknowledged write was lost"
    assert failed, "the restart should have failed some in-flight writes"
    # Every failure is the store's clear error, never a raw driver exception.
    assert {type(exc) for exc in failed} == {StoreUnavailableError}, failed
    # A failed write left no partial state: the counter equals the item count and the keys
    # are 1..n without holes (the bump and the insert commit together or not at all).
    n, keys, max_key, counter = await _count_items(fault_dsn, "t")
    assert n == keys == max_key == counter
    # Writes that raised may or may not have committed (the ack was lost in flight), never
    # more than once: stored = acknowledged + a subset of the failed attempts.
    assert len(stored) - len(acknowledged) <= len(failed)


async def test_pool_exhaustion_waits_then_fails_clearly_then_recovers(fault_dsn: str) -> None:
    async with PostgresStore(fault_dsn, pool_size=2, max_overflow=0, pool_timeout=0.3) as store:
        await store.save_thread(thread("t"), ALICE)
        async with store.connection(), store.connection():
            with pytest.raises(StoreUnavailableError, match="no database connection became free"):
                await store.load_thread("t", ALICE)
        assert (await store.load_thread("t", ALICE)).id == "t"


async def test_statement_timeout_is_a_clear_error_and_the_connection_stays_usable(
    fault_dsn: str,
) -> None:
    async with PostgresStore(fault_dsn, pool_size=1, statement_timeout_ms=200) as store:
        await store.save_thread(thread("t"), ALICE)
        async with _thread_row_locked(fault_dsn, "t"):
            with pytest.raises(StoreTimeoutError, match="statement_timeout"):
                await store.add_thread_item("t", user_message("m_blocked", "t"), ALICE)
        await store.add_thread_item("t", user_message("m_ok", "t"), ALICE)  # same connection
        ids = [i.id for i in (await store.load_thread_items("t", None, 10, "asc", ALICE)).data]
    assert ids == ["m_ok"]


async def _serialization_failure(store: PostgresStore[Any], dsn: str) -> None:
    """Make the store's next append meet 40001 exactly once: a SERIALIZABLE database where
    another transaction updates the thread row and commits while the append waits on it."""
    blocker = await asyncpg.connect(dsn)
    try:
        transaction = blocker.transaction(isolation="serializable")
        await transaction.start()
        await blocker.execute("UPDATE chatkit_threads SET updated_at = now() WHERE id = 't'")
        append = asyncio.create_task(
            store.add_thread_item("t", user_message("m_conflict", "t"), ALICE)
        )
        await _until_blocked(append, dsn)
        await transaction.commit()
        await append
    finally:
        await blocker.close()


async def test_serialization_failures_are_retried(fault_dsn: str) -> None:
    admin = await asyncpg.connect(fault_dsn)
    await admin.execute(
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET default_transaction_isolation"
        " = serializable', current_database()); END $$"
    )
    await admin.close()
    async with PostgresStore(fault_dsn, pool_size=1) as store:
        await store.save_thread(thread("t"), ALICE)
        await _serialization_failure(store, fault_dsn)
        assert store.counters.retries == 1
        assert (await store.load_item("t", "m_conflict", ALICE)).id == "m_conflict"

    async with PostgresStore(fault_dsn, pool_size=1, transient_retries=1) as strict:
        with pytest.raises(TransientConflictError, match="40001"):
            await _serialization_failure(strict, fault_dsn)
    n, keys, max_key, counter = await _count_items(fault_dsn, "t")
    assert n == keys == max_key == counter == 1


async def _fail_item_inserts(dsn: str, times: int, message: str) -> None:
    """Make the next ``times`` item inserts raise XX000 with ``message``, as the server does.

    A sequence counts the failures: unlike a table, it is not rolled back with the failed
    insert. The real multixact race is too rare to hit on purpose (about once per 300,000
    appends to one thread); this raises the very SQLSTATE and message inside the statement.
    """
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(
            f"""
            CREATE SEQUENCE fault_inserts;
            CREATE FUNCTION fault_fail_insert() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF nextval('fault_inserts') <= {times} THEN
                    RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = '{message}';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER fault_fail_insert BEFORE INSERT ON chatkit_thread_items
               FOR EACH ROW EXECUTE FUNCTION fault_fail_insert();
            """
        )
    finally:
        await admin.close()


MULTIXACT_RACE = "new multixact has more than one updating member: 0 3[1 (nokeyupd), 2 (nokeyupd)]"


@pytest.mark.parametrize("strategy", ["counter", "locked_max"])
async def test_the_multixact_race_is_retried_and_writes_once(fault_dsn: str, strategy: str) -> None:
    async with PostgresStore(fault_dsn, pool_size=1, sort_key_strategy=strategy) as store:
        await store.save_thread(thread("t"), ALICE)
        await _fail_item_inserts(fault_dsn, 2, MULTIXACT_RACE)
        await store.add_thread_item("t", user_message("m_raced", "t"), ALICE)
        assert store.counters.retries == 2
        page = await store.load_thread_items("t", None, 10, "asc", ALICE)
    assert [item.id for item in page.data] == ["m_raced"]
    n, keys, max_key, _ = await _count_items(fault_dsn, "t")
    assert (n, keys, max_key) == (1, 1, 1)


async def test_the_multixact_race_gives_up_after_transient_retries(fault_dsn: str) -> None:
    async with PostgresStore(fault_dsn, pool_size=1, transient_retries=3) as store:
        await store.save_thread(thread("t"), ALICE)
        await _fail_item_inserts(fault_dsn, 3, MULTIXACT_RACE)
        with pytest.raises(TransientConflictError, match="gave up after 3 attempts: XX000"):
            await store.add_thread_item("t", user_message("m_raced", "t"), ALICE)
    assert await _count_items(fault_dsn, "t") == (0, 0, 0, 0)


async def test_any_other_internal_error_is_raised_at_once(fault_dsn: str) -> None:
    async with PostgresStore(fault_dsn, pool_size=1) as store:
        await store.save_thread(thread("t"), ALICE)
        await _fail_item_inserts(fault_dsn, 1, "could not read block 7 in file base/1/2")
        with pytest.raises(asyncpg.InternalServerError, match="could not read block"):
            await store.add_thread_item("t", user_message("m_failed", "t"), ALICE)
        assert store.counters.retries == 0
        await store.add_thread_item("t", user_message("m_next", "t"), ALICE)
    assert await _count_items(fault_dsn, "t") == (1, 1, 1, 1)


async def test_a_call_cancelled_mid_statement_does_not_poison_the_pool(fault_dsn: str) -> None:
    """A client that goes away mid-query cancels the store call; the connection it held must
    not go back to the pool in the middle of an operation."""
    async with PostgresStore(fault_dsn, pool_size=1, max_overflow=0) as store:
        await store.save_thread(thread("t"), ALICE)
        async with _thread_row_locked(fault_dsn, "t"):
            append = asyncio.create_task(
                store.add_thread_item("t", user_message("m_cancelled", "t"), ALICE)
            )
            await _until_blocked(append, fault_dsn)  # it now waits inside its statement
            append.cancel()
            with pytest.raises(asyncio.CancelledError):
                await append
        # The pool's only connection serves the next calls.
        for n in range(3):
            await store.add_thread_item("t", user_message(f"m_{n}", "t"), ALICE)
        ids = [i.id for i in (await store.load_thread_items("t", None, 10, "asc", ALICE)).data]
    assert ids == ["m_0", "m_1", "m_2"]


async def test_a_terminated_session_is_a_clear_error_and_is_replaced(fault_dsn: str) -> None:
    """pg_terminate_backend mid-statement: the server says FATAL and closes the session."""
    async with PostgresStore(fault_dsn, pool_size=1, max_overflow=0) as store:
        await store.save_thread(thread("t"), ALICE)
        async with _thread_row_locked(fault_dsn, "t") as holder:
            append = asyncio.create_task(
                store.add_thread_item("t", user_message("m_killed", "t"), ALICE)
            )
            await _until_blocked(append, fault_dsn)  # on the row lock, inside its statement
            await holder.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'chatkit-pg' AND wait_event_type = 'Lock'"
            )
            with pytest.raises(StoreUnavailableError, match="connection lost"):
                await append
        await store.add_thread_item("t", user_message("m_after", "t"), ALICE)
        ids = [i.id for i in (await store.load_thread_items("t", None, 10, "asc", ALICE)).data]
    assert ids == ["m_after"]


async def test_a_connection_left_mid_operation_is_unavailable_then_replaced(
    fault_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver's "another operation is in progress" (an idle connection that got the
    server's shutdown notice, seen in a restart) is a 503-class error, never a raw driver
    error; a read retries once on a fresh connection."""
    planted = [0]
    real_fetchval = asyncpg.Connection.fetchval

    async def fetchval(self: asyncpg.Connection, *args: Any, **kwargs: Any) -> Any:
        if planted[0] > 0:
            planted[0] -= 1
            raise asyncpg.InternalClientError("cannot switch to state 12; another operation")
        return await real_fetchval(self, *args, **kwargs)

    async with PostgresStore(fault_dsn, pool_size=1, max_overflow=0) as store:
        await store.save_thread(thread("t"), ALICE)
        monkeypatch.setattr(asyncpg.Connection, "fetchval", fetchval)
        planted[0] = 1
        assert (await store.load_thread("t", ALICE)).id == "t"  # retried, fresh connection
        planted[0] = 2
        with pytest.raises(StoreUnavailableError, match="unusable state"):
            await store.load_thread("t", ALICE)
        assert (await store.load_thread("t", ALICE)).id == "t"
