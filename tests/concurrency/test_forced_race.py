"""The dangerous interleaving, forced on every run: every writer reads before any writes.

Each writer is its own ``PostgresStore`` (one connection each), as separate server
processes would be. The store's race hook is an :class:`ArrivalBarrier`: writers of a
strategy without a lock all stop after reading the next key (or just before their single
statement) and go on together; writers of a locking strategy reach the hook one at a time,
holding the lock, and the barrier lets them through after a short grace period.
"""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any

import asyncpg
import pytest

from chatkit_pg import STRATEGIES, SortKeyConflictError
from chatkit_pg.harness.races import ALICE, append_round, check_threads, warm
from chatkit_pg.sql import INSERT_ITEM_SQL, ITEMS_SORT_KEY_UNIQUE

from ..conftest import StoreFactory
from ..items import thread, user_message
from .harness import RACE_FREE, ArrivalBarrier, wait_done_or_blocked

pytestmark = pytest.mark.race

WRITERS = 8


async def _forced_round(make_store: StoreFactory, strategy: str, barrier: ArrivalBarrier):
    stores = [
        await make_store(sort_key_strategy=strategy, race_hook=barrier, pool_size=1, max_overflow=0)
        for _ in range(WRITERS)
    ]
    await stores[0].save_thread(thread("hot"), ALICE)
    for store in stores:
        await warm(store, 1)
    result = await append_round(stores, ["hot"], WRITERS, tag="forced")
    added = {"hot": set(result.added["hot"])}
    return result, await check_threads(stores[0], added, result.failures)


@pytest.mark.parametrize("strategy", tuple(STRATEGIES))
async def test_forced_interleaving(make_store: StoreFactory, strategy: str) -> None:
    promised = STRATEGIES[strategy].guarantees
    barrier = ArrivalBarrier(WRITERS)
    result, check = await _forced_round(make_store, strategy, barrier)

    # Either every writer was held at the race point together, or a lock taken before it
    # let them through one at a time; anything else means the race was not forced.
    assert barrier.arrived == WRITERS
    assert barrier.opened_by == "all" or barrier.max_waiting == 1, vars(barrier)
    if promised.race_free:
        assert check.problems(promised) == []
        assert check.rows == WRITERS
        assert result.failures == []
    else:
        # naive_max: all writers read the same key; UNIQUE (thread_id, sort_key) lets one
        # insert and turns the other N-1 into failed adds. The checks must flag that.
        assert barrier.opened_by == "all"
        assert check.rows == 1
        assert len(result.failures) == WRITERS - 1
        assert all(isinstance(e, SortKeyConflictError) for e in result.failures)
        found = check.problems(RACE_FREE)
        assert any("adds raised to their callers" in p for p in found), found


async def test_naive_max_without_the_unique_constraint_writes_duplicate_keys(
    make_store: StoreFactory, monitor: asyncpg.Connection
) -> None:
    # The design we started from had no UNIQUE (thread_id, sort_key): the race then goes
    # unnoticed by every caller and leaves duplicate keys, which break keyset pages.
    await monitor.execute(
        f'ALTER TABLE chatkit_thread_items DROP CONSTRAINT "{ITEMS_SORT_KEY_UNIQUE}"'
    )
    barrier = ArrivalBarrier(WRITERS)
    result, check = await _forced_round(make_store, "naive_max", barrier)

    assert barrier.opened_by == "all"
    assert result.failures == []
    assert check.rows == WRITERS
    assert check.duplicates == WRITERS - 1
    assert {key for key, _ in check.threads[0].keys} == {1}
    found = check.problems(RACE_FREE)
    assert any("duplicate sort_keys" in p for p in found), found
    # With 8 rows on one key, a page of 7 ends on that key and "after it" is empty.
    assert any("asc pages repeat" in p for p in found), found


async def test_unique_retry_never_fails_an_add_however_often_it_loses(
    make_store: StoreFactory, database_dsn: str, monitor: asyncpg.Connection
) -> None:
    # Other writers always hold the next key uncommitted (their INSERT done, commit pending),
    # so each attempt of the victim computes a taken key, waits, and loses. Every loss is
    # another writer's successful append: the thread makes progress, the victim does not.
    store = await make_store(sort_key_strategy="unique_retry", pool_size=1, max_overflow=0)
    await store.save_thread(thread("hot"), ALICE)
    others = [await asyncpg.connect(database_dsn) for _ in range(3)]
    held: list[tuple[asyncpg.Connection, Any]] = []
    next_key = 1

    async def hold_next_key() -> None:
        nonlocal next_key
        conn = next(c for c in others if all(c is not h for h, _ in held))
        tx = conn.transaction()
        await tx.start()
        item = user_message(f"other_{next_key:03d}", "hot")
        await conn.execute(
            INSERT_ITEM_SQL,
            "hot",
            item.id,
            next_key,
            item.type,
            item.created_at.replace(tzinfo=UTC),
            item.model_dump_json(),
        )
        held.append((conn, tx))
        next_key += 1

    try:
        await hold_next_key()
        victim = asyncio.create_task(
            store.add_thread_item("hot", user_message("victim", "hot"), ALICE)
        )
        # Four times the 64 attempts that an attempt-count bound once allowed.
        losses = 256
        while not victim.done() and next_key <= losses:
            await hold_next_key()  # the key after the committed maximum is always taken
            await wait_done_or_blocked(victim, monitor)
            _, tx = held.pop(0)
            await tx.commit()
        while held:  # let the victim through
            _, tx = held.pop(0)
            await tx.commit()
        await victim
    finally:
        for _, tx in held:
            await tx.rollback()
        for conn in others:
            await conn.close()
    # Not every held key catches the victim mid-attempt (it may be in its backoff pause),
    # but far more losses than the old 64-attempt bound must have been survived.
    assert store.counters.retries > 2 * 64
    page = await store.load_thread_items("hot", None, 1, "desc", ALICE)
    assert [i.id for i in page.data] == ["victim"]
