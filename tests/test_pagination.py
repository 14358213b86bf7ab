"""Keyset pagination of items and threads."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from chatkit_pg import NotFoundError, PostgresStore

from .items import at, thread, user_message

ALICE = {"user_id": "alice"}


async def _page_all(fetch: Any, limit: int, order: str) -> tuple[list[str], int]:
    ids: list[str] = []
    after, pages = None, 0
    while True:
        page = await fetch(after, limit, order)
        pages += 1
        ids += [x.id for x in page.data]
        if page.has_more:
            assert page.after == page.data[-1].id
            after = page.after
        else:
            assert page.after is None
            return ids, pages


@pytest.mark.parametrize("limit", [1, 7, 25, 26, 100])
async def test_items_page_through_every_item_exactly_once(
    store: PostgresStore[Any], limit: int
) -> None:
    await store.save_thread(thread("t"), ALICE)
    expected = [f"m{n:02d}" for n in range(25)]
    for item_id in expected:
        await store.add_thread_item("t", user_message(item_id, "t"), ALICE)

    async def fetch(after: str | None, lim: int, order: str) -> Any:
        return await store.load_thread_items("t", after, lim, order, ALICE)

    asc, pages = await _page_all(fetch, limit, "asc")
    desc, _ = await _page_all(fetch, limit, "desc")
    assert asc == expected
    assert desc == expected[::-1]
    assert pages == max(1, -(-25 // limit))


async def test_threads_with_equal_created_at_are_never_skipped_or_repeated(
    store: PostgresStore[Any],
) -> None:
    # 30 threads, most sharing one created_at: only (created_at, id) orders them.
    expected = []
    for n in range(30):
        created = at(0) if n % 5 else at(n)
        await store.save_thread(thread(f"thr_{n:02d}", created_at=created), ALICE)
        expected.append((created, f"thr_{n:02d}"))
    await store.save_thread(thread("thr_other"), {"user_id": "bob"})
    expected.sort()

    async def fetch(after: str | None, lim: int, order: str) -> Any:
        return await store.load_threads(lim, after, order, ALICE)

    for limit in (1, 4, 7, 30, 31):
        asc, _ = await _page_all(fetch, limit, "asc")
        desc, _ = await _page_all(fetch, limit, "desc")
        assert asc == [tid for _, tid in expected]
        assert desc == asc[::-1]


async def test_empty_thread_and_empty_user(store: PostgresStore[Any]) -> None:
    await store.save_thread(thread("t"), ALICE)
    page = await store.load_thread_items("t", None, 10, "asc", ALICE)
    assert page.data == [] and page.has_more is False and page.after is None
    assert (await store.load_threads(10, None, "asc", {"user_id": "nobody"})).data == []


async def test_unknown_cursor_is_not_found(store: PostgresStore[Any]) -> None:
    await store.save_thread(thread("t"), ALICE)
    await store.add_thread_item("t", user_message("m0", "t"), ALICE)
    with pytest.raises(NotFoundError, match="cursor"):
        await store.load_thread_items("t", "nope", 10, "asc", ALICE)
    with pytest.raises(NotFoundError, match="cursor"):
        await store.load_threads(10, "thr_nope", "desc", ALICE)
    # A cursor that exists but sits at the end gives an empty last page, not an error.
    page = await store.load_thread_items("t", "m0", 10, "asc", ALICE)
    assert page.data == [] and not page.has_more


@pytest.mark.parametrize("order", ["ASC", "up", "", None, "asc; DROP TABLE x"])
async def test_bad_order_is_a_value_error(store: PostgresStore[Any], order: Any) -> None:
    with pytest.raises(ValueError, match="order"):
        await store.load_thread_items("t", None, 10, order, ALICE)
    with pytest.raises(ValueError, match="order"):
        await store.load_threads(10, None, order, ALICE)


@pytest.mark.parametrize("limit", [0, -1, 2.5, "10", True, None])
async def test_bad_limit_is_a_value_error(store: PostgresStore[Any], limit: Any) -> None:
    with pytest.raises(ValueError, match="limit"):
        await store.load_thread_items("t", None, limit, "asc", ALICE)
    with pytest.raises(ValueError, match="limit"):
        await store.load_threads(limit, None, "asc", ALICE)


async def test_limit_above_the_maximum_is_capped(make_store: Any) -> None:
    store = await make_store(max_page_size=5)
    await store.save_thread(thread("t"), ALICE)
    for n in range(8):
        await store.add_thread_item("t", user_message(f"m{n}", "t"), ALICE)
    page = await store.load_thread_items("t", None, 10_000, "asc", ALICE)
    assert len(page.data) == 5 and page.has_more and page.after == "m4"


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_each_page_is_one_statement(make_store: Any, order: str) -> None:
    """Ownership check and cursor resolution ride in the page statement itself."""
    store = await make_store(pool_size=1)
    await store.save_thread(thread("t"), ALICE)
    await store.save_thread(thread("t2"), ALICE)
    for n in range(6):
        await store.add_thread_item("t", user_message(f"m{n}", "t"), ALICE)
    statements: list[str] = []
    async with store.connection() as conn:  # the pool's only connection
        conn.add_query_logger(lambda record: statements.append(record.query))
    for cursor in (None, "m3"):
        statements.clear()
        await store.load_thread_items("t", cursor, 2, order, ALICE)
        await asyncio.sleep(0.01)  # asyncpg calls query loggers with call_soon
        assert len(statements) == 1, statements
        statements.clear()
        await store.load_threads(1, None if cursor is None else "t", order, ALICE)
        await asyncio.sleep(0.01)
        assert len(statements) == 1, statements
