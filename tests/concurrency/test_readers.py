"""Readers paging with a cursor while writers append, and the late-commit anomaly.

A keyset reader trusts that no item will later appear behind its cursor. That holds for a
strategy that keeps commit order per thread (a key is visible only after every smaller key
is); ``sequence`` does not: a writer can take a smaller key and commit after a reader has
paged past it. The second test forces exactly that interleaving on every run.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC
from typing import Any

import asyncpg
import pytest

from chatkit_pg import SAFE_STRATEGIES, STRATEGIES, PostgresStore
from chatkit_pg.harness.races import ALICE, PAGE_LIMIT, warm

from ..conftest import StoreFactory
from ..items import thread, user_message
from .harness import wait_done_or_blocked

pytestmark = pytest.mark.race

PREFILL = 20
WRITERS = 8
ADDS_PER_WRITER = 15


async def _committed_ids(conn: asyncpg.Connection, thread_id: str) -> set[str]:
    rows = await conn.fetch("SELECT id FROM chatkit_thread_items WHERE thread_id = $1", thread_id)
    return {row["id"] for row in rows}


async def _read_pass(
    store: PostgresStore[Any], monitor: asyncpg.Connection, order: str
) -> tuple[set[str], list[str]]:
    """One reader pass: what was committed when it started, and what its pages returned."""
    before = await _committed_ids(monitor, "t")
    seen: list[str] = []
    after: str | None = None
    while True:
        page = await store.load_thread_items("t", after, PAGE_LIMIT, order, ALICE)
        seen += [item.id for item in page.data]
        if not page.has_more:
            return before, seen
        after = page.after


@pytest.mark.parametrize("strategy", SAFE_STRATEGIES)
async def test_reader_paging_during_appends_skips_and_repeats_nothing(
    make_store: StoreFactory, monitor: asyncpg.Connection, strategy: str
) -> None:
    writer_store = await make_store(sort_key_strategy=strategy, pool_size=WRITERS, max_overflow=0)
    reader_store = await make_store(sort_key_strategy=strategy, pool_size=2, max_overflow=0)
    await writer_store.save_thread(thread("t"), ALICE)
    for n in range(PREFILL):
        await writer_store.add_thread_item("t", user_message(f"pre_{n:02d}", "t"), ALICE)
    await warm(writer_store, WRITERS)

    async def writer(index: int) -> None:
        for n in range(ADDS_PER_WRITER):
            item_id = f"w{index}_{n:02d}"
            await writer_store.add_thread_item("t", user_message(item_id, "t"), ALICE)

    writers = asyncio.gather(*(writer(i) for i in range(WRITERS)))
    passes: list[tuple[str, set[str], list[str]]] = []
    while not writers.done():
        for order in ("asc", "desc"):
            before, seen = await _read_pass(reader_store, monitor, order)
            passes.append((order, before, seen))
    await writers

    assert len(passes) >= 2
    for order, before, seen in passes:
        repeated = [i for i, n in Counter(seen).items() if n > 1]
        assert repeated == [], f"{order} pass repeated {repeated}"
        skipped = before - set(seen)
        assert skipped == set(), f"{order} pass skipped items committed before it started"
    final = await _committed_ids(monitor, "t")
    assert len(final) == PREFILL + WRITERS * ADDS_PER_WRITER


def _params(thread_id: str, item: Any) -> tuple[object, ...]:
    # The strategies' parameter order (store/sql.py): thread, user, item, type, at, JSON.
    created = item.created_at.replace(tzinfo=UTC)
    return (thread_id, ALICE["user_id"], item.id, item.type, created, item.model_dump_json())


@pytest.mark.parametrize("strategy", SAFE_STRATEGIES)
async def test_late_commit_is_skipped_only_without_commit_order(
    make_store: StoreFactory, monitor: asyncpg.Connection, strategy: str
) -> None:
    promised = STRATEGIES[strategy].guarantees
    store = await make_store(sort_key_strategy=strategy, pool_size=4, max_overflow=0)
    await store.save_thread(thread("t"), ALICE)
    for n in range(3):
        await store.add_thread_item("t", user_message(f"pre_{n}", "t"), ALICE)

    async with store.connection() as slow_conn:
        # Writer A takes its key with the store's own strategy code and does not commit yet
        # (a slow commit, stretched to as long as the test needs).
        slow = slow_conn.transaction()
        await slow.start()
        try:
            slow_key = await store.strategy.add(slow_conn, _params("t", user_message("slow", "t")))
            # Writer B appends through the store's public API meanwhile.
            fast = asyncio.create_task(store.add_thread_item("t", user_message("fast", "t"), ALICE))
            fast_state = await wait_done_or_blocked(fast, monitor)

            # The reader pages to the end while A is still open.
            seen: list[str] = []
            after: str | None = None
            while True:
                page = await store.load_thread_items("t", after, 2, "asc", ALICE)
                seen += [item.id for item in page.data]
                after = page.data[-1].id if page.data else after
                if not page.has_more:
                    break
        except BaseException:
            await slow.rollback()
            raise
        await slow.commit()
    await fast

    # The reader resumes from its cursor, as a client polling for new items would.
    while True:
        page = await store.load_thread_items("t", after, 2, "asc", ALICE)
        seen += [item.id for item in page.data]
        after = page.data[-1].id if page.data else after
        if not page.has_more:
            break

    keys = dict(await monitor.fetch("SELECT id, sort_key FROM chatkit_thread_items"))
    assert Counter(seen).most_common(1)[0][1] == 1, f"an item was repeated: {seen}"
    skipped = {"pre_0", "pre_1", "pre_2", "slow", "fast"} - set(seen)
    if promised.commit_order:
        # B waited for A (a lock or A's unique-index entry), so A's smaller key became
        # visible first and the reader met it.
        assert fast_state == "blocked"
        assert skipped == set()
        assert keys["slow"] < keys["fast"]
    else:
        # B committed a larger key while A's smaller one was still open; the reader passed
        # B, so A's item lies behind its cursor for good.
        assert fast_state == "done"
        assert keys["slow"] == slow_key < keys["fast"]
        assert skipped == {"slow"}
    if promised.retries:
        assert store.counters.retries >= 1  # B lost A's key and had to try again
