"""The reads the store serves, as the index-variant benchmarks time them.

One definition per read (the store call, and the statement + parameters it sends for
EXPLAIN), shared by the per-variant benchmarks and the interleaved comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chatkit_pg import sql
from chatkit_pg.harness.vocabulary import (
    ITEMS_PAGE_DEEP,
    ITEMS_PAGE_FIRST,
    LOAD_ITEM,
    THREADS_PAGE_DEEP,
    THREADS_PAGE_FIRST,
)

from .databases import VariantDatabase
from .profiles import Profile
from .seed import DEEP_THREAD_ID, USER_ID

CONTEXT = {"user_id": USER_ID}
PAGE_SIZE = 20
ORDER = "desc"  # what a chat UI loads: the newest page first, then older ones


@dataclass(frozen=True)
class Read:
    """One read: the store call to time, and the statement + parameters it sends."""

    query: str
    call: Callable[[], Any]
    statement: str
    params: tuple[Any, ...]
    depth: int | None
    page_size: int | None
    check: Callable[[Any], bool]


def index_reads(db: VariantDatabase, profile: Profile) -> dict[str, Read]:
    """Every read of the comparison on ``db``, by query name."""
    items, threads = db.seed.deep_item_ids, db.seed.heavy_thread_ids[::-1]
    deep, thread_deep = profile.deepest, max(profile.thread_page_depths)
    fetch = PAGE_SIZE + 1
    store = db.store
    middle = items[len(items) // 2]
    item_cursor, thread_cursor = items[::-1][deep - 1], threads[thread_deep - 1]
    return {
        ITEMS_PAGE_FIRST: Read(
            ITEMS_PAGE_FIRST,
            lambda: store.load_thread_items(DEEP_THREAD_ID, None, PAGE_SIZE, ORDER, CONTEXT),
            sql.SELECT_ITEMS_FIRST_PAGE_SQL[ORDER],
            (DEEP_THREAD_ID, USER_ID, fetch),
            0,
            PAGE_SIZE,
            lambda page: page.data[0].id == items[-1],
        ),
        ITEMS_PAGE_DEEP: Read(
            ITEMS_PAGE_DEEP,
            lambda: store.load_thread_items(DEEP_THREAD_ID, item_cursor, PAGE_SIZE, ORDER, CONTEXT),
            sql.SELECT_ITEMS_NEXT_PAGE_SQL[ORDER],
            (DEEP_THREAD_ID, USER_ID, fetch, item_cursor),
            deep,
            PAGE_SIZE,
            lambda page: page.data[0].id == items[::-1][deep],
        ),
        LOAD_ITEM: Read(
            LOAD_ITEM,
            lambda: store.load_item(DEEP_THREAD_ID, middle, CONTEXT),
            sql.SELECT_ITEM_SQL,
            (DEEP_THREAD_ID, USER_ID, middle),
            None,
            None,
            lambda item: item.id == middle,
        ),
        THREADS_PAGE_FIRST: Read(
            THREADS_PAGE_FIRST,
            lambda: store.load_threads(PAGE_SIZE, None, ORDER, CONTEXT),
            sql.SELECT_THREADS_FIRST_PAGE_SQL[ORDER],
            (USER_ID, fetch),
            0,
            PAGE_SIZE,
            lambda page: page.data[0].id == threads[0],
        ),
        THREADS_PAGE_DEEP: Read(
            THREADS_PAGE_DEEP,
            lambda: store.load_threads(PAGE_SIZE, thread_cursor, ORDER, CONTEXT),
            sql.SELECT_THREADS_NEXT_PAGE_SQL[ORDER],
            (USER_ID, fetch, thread_cursor),
            thread_deep,
            PAGE_SIZE,
            lambda page: page.data[0].id == threads[thread_deep],
        ),
    }


