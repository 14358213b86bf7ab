"""Pagination: one page of load_thread_items / load_threads at increasing depth.

Keyset (the store) against the same statement through raw asyncpg and an OFFSET/LIMIT
baseline, on the ``recommended`` variant of the seeded data. Every measured page is checked
to start at the row its depth says, so a fast wrong page cannot pass.
"""

from __future__ import annotations

import asyncio
import json
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


@pytest.mark.benchmark(group=ITEMS_PAGE)
@pytest.mark.parametrize("order", ORDERS)
def test_items_keyset_store(
    benchmark: Any,
    loop: Any,
    recommended: VariantDatabase,
    profile: Profile,
    depth: int,
    page_size: int,
    order: str,
) -> None:
    """load_thread_items: the store's keyset page (cursor resolved in the same statement)."""
    after, first = item_positions(recommended.seed.deep_item_ids, depth, order)
    page = _page(
        benchmark,
        loop,
        profile,
        lambda: recommended.store.load_thread_items(
            DEEP_THREAD_ID, after, page_size, order, CONTEXT
        ),
        ITEMS_PAGE,
        KEYSET,
        depth,
        page_size,
        order,
    )
    assert [page.data[0].id, len(page.data), page.has_more] == [first, page_size, True]


@pytest.mark.benchmark(group=ITEMS_PAGE)
@pytest.mark.parametrize("order", ORDERS)
def test_items_keyset_raw_asyncpg(
    benchmark: Any,
    loop: Any,
    recommended: VariantDatabase,
    profile: Profile,
    depth: int,
    page_size: int,
    order: str,
) -> None:
    """The store's page statement on a raw asyncpg connection (no pool, no parsing)."""
    after, first = item_positions(recommended.seed.deep_item_ids, depth, order)
    rows = _page(
        benchmark,
        loop,
        profile,
        lambda: raw_items_page(recommended.raw, DEEP_THREAD_ID, USER_ID, page_size, after, order),
        ITEMS_PAGE,
        RAW_ASYNCPG,
        depth,
        page_size,
        order,
    )
    assert json.loads(rows[0]["data"])["id"] == first
    assert len(rows) == page_size + 1


@pytest.mark.benchmark(group=ITEMS_PAGE)
@pytest.mark.parametrize("order", ORDERS)
def test_items_offset(
    benchmark: Any,
    loop: Any,
    recommended: VariantDatabase,
    profile: Profile,
    depth: int,
    page_size: int,
    order: str,
) -> None:
    """OFFSET/LIMIT baseline: same rows and parsing, every skipped row read and dropped."""
    _, first = item_positions(recommended.seed.deep_item_ids, depth, order)

    async def call() -> Any:
        async with recommended.store.connection() as conn:
            return await offset_items_page(conn, DEEP_THREAD_ID, USER_ID, page_size, depth, order)

    page = _page(benchmark, loop, profile, call, ITEMS_PAGE, OFFSET, depth, page_size, order)
    assert [page.data[0].id, len(page.data)] == [first, page_size]


@pytest.mark.benchmark(group=THREADS_PAGE)
@pytest.mark.parametrize("order", ORDERS)
def test_threads_keyset_store(
    benchmark: Any,
    loop: Any,
    recommended: VariantDatabase,
    profile: Profile,
    thread_depth: int,
    page_size: int,
    order: str,
) -> None:
    """load_threads: keyset over (created_at, id) for a user with thousands of threads."""
    after, first = item_positions(recommended.seed.heavy_thread_ids, thread_depth, order)
    page = _page(
        benchmark,
        loop,
        profile,
        lambda: recommended.store.load_threads(page_size, after, order, CONTEXT),
        THREADS_PAGE,
        KEYSET,
        thread_depth,
        page_size,
        order,
    )
    assert [page.data[0].id, len(page.data)] == [first, page_size]


@pytest.mark.benchmark(group=THREADS_PAGE)
@pytest.mark.parametrize("order", ORDERS)
def test_threads_offset(
    benchmark: Any,
    loop: Any,
    recommended: VariantDatabase,
    profile: Profile,
    thread_depth: int,
    page_size: int,
    order: str,
) -> None:
    """OFFSET/LIMIT baseline for the thread list."""
    _, first = item_positions(recommended.seed.heavy_thread_ids, thread_depth, order)

    async def call() -> Any:
        async with recommended.store.connection() as conn:
            return await offset_threads_page(conn, USER_ID, page_size, thread_depth, order)

    page = _page(
        benchmark, loop, profile, call, THREADS_PAGE, OFFSET, thread_depth, page_size, order
    )
    assert [page.data[0].id, len(page.data)] == [first, page_size]
