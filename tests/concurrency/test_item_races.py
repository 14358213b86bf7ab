"""Races beyond plain appends: saving one new item id at once, and deleting a thread while
appends are in flight."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from chatkit_pg import STRATEGIES, NotFoundError, PostgresStore, SortKeyConflictError
from chatkit_pg.harness.races import ALICE, page_ids, warm

from ..conftest import StoreFactory
from ..items import thread, user_message
from .harness import ArrivalBarrier, orphan_items, wait_done_or_blocked

pytestmark = pytest.mark.race

WRITERS = 8
MAX_ADDS = 2_000  # a writer that never meets the delete ends here and fails the test


async def _item_rows(conn: asyncpg.Connection, thread_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, sort_key, data::text AS data FROM chatkit_thread_items "
        "WHERE thread_id = $1 ORDER BY sort_key",
        thread_id,
    )


def _text(item: Any) -> str:
    return str(item.content[0].text)


@pytest.mark.parametrize("strategy", tuple(STRATEGIES))
async def test_concurrent_save_of_one_new_item_keeps_one_row(
    make_store: StoreFactory, monitor: asyncpg.Connection, strategy: str
) -> None:
    promised = STRATEGIES[strategy].guarantees
    barrier = ArrivalBarrier(WRITERS)
    stores = [
        await make_store(sort_key_strategy=strategy, race_hook=barrier, pool_size=1, max_overflow=0)
        for _ in range(WRITERS)
    ]
    plain = await make_store(sort_key_strategy=strategy, pool_size=1, max_overflow=0)
    await plain.save_thread(thread("t"), ALICE)
    await plain.add_thread_item("t", user_message("before", "t"), ALICE)
    for store in stores:
        await warm(store, 1)

    versions = [user_message("same", "t", text=f"version {n}") for n in range(WRITERS)]
    outcomes = await asyncio.gather(
        *(s.save_item("t", v, ALICE) for s, v in zip(stores, versions, strict=True)),
        return_exceptions=True,
    )
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    if promised.race_free:
        assert errors == []
    else:
        assert all(isinstance(e, SortKeyConflictError) for e in errors), errors

    rows = [r for r in await _item_rows(monitor, "t") if r["id"] == "same"]
    assert len(rows) == 1, "one item id, one row"
    stored = await plain.load_item("t", "same", ALICE)
    assert _text(stored) in {_text(v) for v in versions}, "a whole version won, not a mix"
    assert await page_ids(plain, "t", "asc") == ["before", "same"]

    # Afterwards the item updates in place: the last write wins and keeps its key.
    await plain.save_item("t", user_message("same", "t", text="final"), ALICE)
    again = [r for r in await _item_rows(monitor, "t") if r["id"] == "same"]
    assert [r["sort_key"] for r in again] == [rows[0]["sort_key"]]
    assert _text(await plain.load_item("t", "same", ALICE)) == "final"


@pytest.mark.parametrize("method", ["add_thread_item", "save_item"])
@pytest.mark.parametrize("strategy", tuple(STRATEGIES))
async def test_delete_thread_inside_the_race_window(
    make_store: StoreFactory, monitor: asyncpg.Connection, strategy: str, method: str
) -> None:
    # The thread is deleted at the exact point between the strategy's ownership read and
    # its write (or just before its single statement). Whoever wins, the loser sees
    # NotFoundError, never a foreign-key error, and nothing is left behind.
    deleter = await make_store(sort_key_strategy=strategy, pool_size=1, max_overflow=0)
    deletions: list[str] = []

    async def delete_now(thread_id: str, item_id: str) -> None:
        task = asyncio.create_task(deleter.delete_thread(thread_id, ALICE))
        # A lock the writer holds may make the delete wait for the writer's commit.
        deletions.append(await wait_done_or_blocked(task, monitor))
        pending.append(task)

    pending: list[asyncio.Task[None]] = []
    writer = await make_store(
        sort_key_strategy=strategy, race_hook=delete_now, pool_size=1, max_overflow=0
    )
    await deleter.save_thread(thread("t"), ALICE)
    try:
        await getattr(writer, method)("t", user_message("racer", "t"), ALICE)
        outcome = "added"
    except NotFoundError:
        outcome = "not_found"
    await asyncio.gather(*pending)

    assert len(deletions) == 1
    # Added only if the delete had to wait for the writer (it then cascades the new item).
    assert outcome == ("added" if deletions == ["blocked"] else "not_found")
    assert await orphan_items(monitor) == 0
    assert await _item_rows(monitor, "t") == []
    with pytest.raises(NotFoundError):
        await deleter.load_thread("t", ALICE)


@pytest.mark.parametrize("strategy", tuple(STRATEGIES))
async def test_delete_thread_while_appends_are_in_flight(
    make_store: StoreFactory, monitor: asyncpg.Connection, strategy: str
) -> None:
    promised = STRATEGIES[strategy].guarantees
    store = await make_store(sort_key_strategy=strategy, pool_size=WRITERS, max_overflow=0)
    deleter = await make_store(sort_key_strategy=strategy, pool_size=1, max_overflow=0)
    await store.save_thread(thread("t"), ALICE)
    await warm(store, WRITERS)
    added = 0
    enough = asyncio.Event()
    unexpected: list[BaseException] = []

    async def writer(index: int) -> str:
        # Appends until the thread is gone; returns how this writer's last add ended.
        nonlocal added
        for n in range(MAX_ADDS):
            try:
                await store.add_thread_item("t", user_message(f"w{index}_{n}", "t"), ALICE)
            except NotFoundError:
                return "not_found"
            except SortKeyConflictError as exc:
                if promised.race_free:
                    unexpected.append(exc)
                continue
            except Exception as exc:  # e.g. a leaked ForeignKeyViolationError
                unexpected.append(exc)
                return type(exc).__name__
            added += 1
            if added >= 4 * WRITERS:
                enough.set()
        return "never stopped"

    writers = [asyncio.create_task(writer(i)) for i in range(WRITERS)]
    await enough.wait()
    await deleter.delete_thread("t", ALICE)
    endings = await asyncio.gather(*writers)

    assert unexpected == []
    assert endings == ["not_found"] * WRITERS
    assert await orphan_items(monitor) == 0
    assert await _item_rows(monitor, "t") == []


async def test_many_stores_append_to_a_thread_being_deleted(
    make_store: StoreFactory, monitor: asyncpg.Connection
) -> None:
    # The same race with every writer its own store (a process each), default strategy.
    stores: list[PostgresStore[Any]] = [
        await make_store(pool_size=1, max_overflow=0) for _ in range(WRITERS)
    ]
    deleter = await make_store(pool_size=1, max_overflow=0)
    await deleter.save_thread(thread("t"), ALICE)
    for store in stores:
        await warm(store, 1)

    async def writer(store: PostgresStore[Any], index: int) -> int:
        for n in range(MAX_ADDS):
            try:
                await store.add_thread_item("t", user_message(f"w{index}_{n}", "t"), ALICE)
            except NotFoundError:
                return n
        return -1

    writers = [asyncio.create_task(writer(s, i)) for i, s in enumerate(stores)]
    await asyncio.sleep(0.05)
    await deleter.delete_thread("t", ALICE)
    counts = await asyncio.gather(*writers)
    assert all(n >= 0 for n in counts)
    assert await orphan_items(monitor) == 0
