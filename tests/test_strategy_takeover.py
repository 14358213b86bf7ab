"""Any sort-key strategy takes over a thread that another one wrote.

The strategy is a run-time setting, so a database outlives it: a rolling deploy mixes two,
a changed setting meets threads written under the old one. Whatever wrote a thread before,
the next strategy appends after its newest item, and no sort_key violation reaches a caller
as a driver error.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from chatkit_pg import SAFE_STRATEGIES, STRATEGIES, PostgresStore

from .conftest import StoreFactory
from .items import at, thread, user_message

ALICE = {"user_id": "alice"}


async def _append(store: PostgresStore[Any], thread_id: str, ids: list[str]) -> None:
    for item_id in ids:
        second = int(item_id.rsplit("_", 1)[1])
        item = user_message(item_id, thread_id, created_at=at(second))
        await store.add_thread_item(thread_id, item, ALICE)


async def _keys(dsn: str, thread_id: str) -> list[tuple[str, int]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT id, sort_key FROM chatkit_thread_items WHERE thread_id = $1 ORDER BY sort_key",
            thread_id,
        )
    finally:
        await conn.close()
    return [(r["id"], r["sort_key"]) for r in rows]


@pytest.mark.parametrize("taker", tuple(STRATEGIES))
@pytest.mark.parametrize("writer", tuple(STRATEGIES))
async def test_a_strategy_appends_after_a_thread_another_one_wrote(
    make_store: StoreFactory, database_dsn: str, writer: str, taker: str
) -> None:
    before = await make_store(sort_key_strategy=writer)
    after = await make_store(sort_key_strategy=taker)
    # The global sequence moves ahead on other threads, so `sequence` leaves keys far above
    # the thread's count, which `counter` alone would never reach.
    pusher = await make_store(sort_key_strategy="sequence")
    await before.save_thread(thread("thr_mixed"), ALICE)
    await before.save_thread(thread("thr_other"), ALICE)
    await _append(pusher, "thr_other", [f"msg_o_{n}" for n in range(1, 6)])

    await _append(before, "thr_mixed", [f"msg_a_{n}" for n in range(1, 6)])
    await _append(after, "thr_mixed", [f"msg_b_{n}" for n in range(6, 11)])
    await _append(before, "thr_mixed", [f"msg_c_{n}" for n in range(11, 13)])

    expected = [f"msg_a_{n}" for n in range(1, 6)]
    expected += [f"msg_b_{n}" for n in range(6, 11)]
    expected += [f"msg_c_{n}" for n in range(11, 13)]
    page = await after.load_thread_items("thr_mixed", None, 50, "asc", ALICE)
    assert [item.id for item in page.data] == expected
    keys = await _keys(database_dsn, "thr_mixed")
    assert [item_id for item_id, _ in keys] == expected
    assert len({key for _, key in keys}) == len(keys)


@pytest.mark.parametrize("other", [s for s in SAFE_STRATEGIES if s != "counter"])
async def test_two_strategies_appending_at_once_lose_nothing(
    make_store: StoreFactory, database_dsn: str, other: str
) -> None:
    """A rolling deploy: `counter` and another race-free strategy share one hot thread."""
    stores = [
        await make_store(sort_key_strategy=name, pool_size=4)
        for name in ("counter", other, "counter", other)
    ]
    await stores[0].save_thread(thread("thr_hot"), ALICE)
    batches = [[f"msg_{w}_{n}" for n in range(10)] for w in range(8)]

    async def writer(number: int) -> None:
        store = stores[number % len(stores)]
        for item_id in batches[number]:
            item = user_message(item_id, "thr_hot", created_at=at(number))
            await store.add_thread_item("thr_hot", item, ALICE)

    await asyncio.gather(*(writer(n) for n in range(len(batches))))
    keys = await _keys(database_dsn, "thr_hot")
    assert sorted(item_id for item_id, _ in keys) == sorted(i for b in batches for i in b)
    assert len({key for _, key in keys}) == len(keys)
    for batch in batches:  # each writer's own appends stay in its order
        positions = [next(k for i, k in keys if i == item_id) for item_id in batch]
        assert positions == sorted(positions)
