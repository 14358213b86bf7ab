"""Pagination: one page of load_thread_items / load_threads at increasing depth.

Keyset (the store) against the same statement through raw asyncpg and an OFFSET/LIMIT
baseline, on the ``recommended`` variant of the seeded data. Every measured page is checked
to start at the row its depth says, so a fast wrong page cannot pass.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from functools import partial
from typing import Any, Final

import pytest

from chatkit_pg.harness.vocabulary import (
    ITEMS_PAGE,
    KEYSET,
    LOAD_THREAD_ITEMS,
    LOAD_THREADS,
    OFFSET,
    RAW_ASYNCPG,
    THREADS_PAGE,
)

from .baselines import offset_items_page, offset_threads_page, raw_items_page
from .databases import BenchDatabases, VariantDatabase
from .measure import record, time_reads, timed_stats
from .profiles import Profile
from .seed import DEEP_THREAD_ID, USER_ID

ORDERS = ("asc", "desc")
CONTEXT = {"user_id": USER_ID}


@pytest.fixture(scope="module")
def recommended(databases: BenchDatabases) -> VariantDatabase:
    return databases.variant("recommended")


def item_positions(ids: list[str], depth: int, order: str) -> tuple[str | None, str]:
    """``(cursor id, expected first id)`` of the page after ``depth`` items in ``order``."""
    ordered = ids if order == "asc" else ids[::-1]
    return (ordered[depth - 1] if depth else None), ordered[depth]


QUERIES: Final = {ITEMS_PAGE: LOAD_THREAD_ITEMS, THREADS_PAGE: LOAD_THREADS}


def _page(
    benchmark: Any,
    loop: asyncio.AbstractEventLoop,
    profile: Profile,
    call: Any,
    kind: str,
    method: str,
    depth: int,
    page_size: int,
    order: str,
) -> Any:
    """Time ``call`` (one page of ``kind`` by ``method``), record it, return its last page."""
    benchmark.group = f"{kind} n{page_size} {order}"  # one table per size and order
    page = time_reads(benchmark, loop, profile, call)
    record(
        benchmark,
        profile.name,
        kind=kind,
        method=method,
        depth=depth,
        page_size=page_size,
        order=order,
        query=QUERIES[kind],
        variant="recommended",
        **timed_stats(benchmark),
    )
    return page


Page = tuple[Callable[[], Any], Callable[[Any], None]]


def items_page(db: VariantDatabase, method: str, depth: int, page_size: int, order: str) -> Page:
    """One page of the deep thread by ``method``: what is called, and the check of its
    result (it starts at the row its depth says)."""
    after, first = item_positions(db.seed.deep_item_ids, depth, order)
    if method == KEYSET:  # load_thread_items: the cursor resolved in the same statement

        def keyset(page: Any) -> None:
            assert [page.data[0].id, len(page.data), page.has_more] == [first, page_size, True]

        call = partial(db.store.load_thread_items, DEEP_THREAD_ID, after, page_size, order, CONTEXT)
        return call, keyset
    if method == RAW_ASYNCPG:  # the store's page statement, no pool, no parsing

        def raw(rows: Any) -> None:
            assert [json.loads(rows[0]["data"])["id"], len(rows)] == [first, page_size + 1]

        return partial(
            raw_items_page, db.raw, DEEP_THREAD_ID, USER_ID, page_size, after, order
        ), raw

    async def offset() -> Any:  # same rows and parsing, every skipped row read and dropped
        async with db.store.connection() as conn:
            return await offset_items_page(conn, DEEP_THREAD_ID, USER_ID, page_size, depth, order)

    return offset, partial(_starts_at, first, page_size)


def threads_page(db: VariantDatabase, method: str, depth: int, page_size: int, order: str) -> Page:
    """One page of the heavy user's thread list by ``method``, and its check."""
    after, first = item_positions(db.seed.heavy_thread_ids, depth, order)
    if method == KEYSET:  # load_threads: keyset over (created_at, id)
        return partial(db.store.load_threads, page_size, after, order, CONTEXT), partial(
            _starts_at, first, page_size
        )

    async def offset() -> Any:
        async with db.store.connection() as conn:
            return await offset_threads_page(conn, USER_ID, page_size, depth, order)

    return offset, partial(_starts_at, first, page_size)


def _starts_at(first: str, page_size: int, page: Any) -> None:
    assert [page.data[0].id, len(page.data)] == [first, page_size]


@pytest.mark.benchmark(group=ITEMS_PAGE)
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("method", (KEYSET, RAW_ASYNCPG, OFFSET))
def test_items_page(
    benchmark: Any,
    loop: Any,
    recommended: VariantDatabase,
    profile: Profile,
    depth: int,
    page_size: int,
    order: str,
    method: str,
) -> None:
    """load_thread_items' page at ``depth``: the store's keyset, its statement on raw
    asyncpg, and the OFFSET/LIMIT baseline."""
    call, check = items_page(recommended, method, depth, page_size, order)
    check(_page(benchmark, loop, profile, call, ITEMS_PAGE, method, depth, page_size, order))


@pytest.mark.benchmark(group=THREADS_PAGE)
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("method", (KEYSET, OFFSET))
def test_threads_page(
    benchmark: Any,
    loop: Any,
    recommended: VariantDatabase,
    profile: Profile,
    thread_depth: int,
    page_size: int,
    order: str,
    method: str,
) -> None:
    """load_threads' page at ``thread_depth`` for a user with thousands of threads: the
    store's keyset and the OFFSET/LIMIT baseline."""
    call, check = threads_page(recommended, method, thread_depth, page_size, order)
    page = _page(
        benchmark, loop, profile, call, THREADS_PAGE, method, thread_depth, page_size, order
    )
    check(page)
