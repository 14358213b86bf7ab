"""The reads the store serves, as the index-variant benchmarks time them.

One definition per read (the store call, and the statement + parameters it sends for
EXPLAIN), shared by the per-variant benchmarks and the interleaved comparison.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from chatkit_pg import sql
from chatkit_pg.harness.vocabulary import (
    ITEMS_PAGE_DEEP,
    ITEMS_PAGE_FIRST,
    ITEMS_PAGE_SPREAD,
    LOAD_ITEM,
    LOAD_ITEM_SPREAD,
    THREADS_PAGE_DEEP,
    THREADS_PAGE_FIRST,
)

from .databases import VariantDatabase
from .profiles import Profile
from .seed import DEEP_THREAD_ID, USER_ID

CONTEXT = {"user_id": USER_ID}
PAGE_SIZE = 20
ORDER = "desc"  # what a chat UI loads: the newest page first, then older ones
SPREAD_ORDER_SEED: Final = 20261128


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


class SpreadSample:
    """Background items of every user, one per call in a fixed shuffled order (cycling).

    Consecutive calls touch different threads, so what a read costs includes finding its
    pages outside shared_buffers once the data is larger. Every variant gets the same order,
    and a later benchmark of the same read on the same database goes on where the previous
    one stopped instead of re-reading pages it brought into memory.
    """

    _taken_so_far: dict[tuple[str, str], int] = {}  # (database, read) -> calls made

    def __init__(self, items: list[tuple[str, str, str]], database: str, read: str) -> None:
        if not items:
            raise ValueError("the seed recorded no background items to spread reads over")
        self._order = random.Random(SPREAD_ORDER_SEED).sample(items, len(items))
        self._key = (database, read)
        self.last = self._order[self._taken_so_far.get(self._key, 0) % len(self._order)]

    def take(self) -> tuple[str, str, str]:
        """The next ``(thread_id, user_id, item_id)``."""
        taken = self._taken_so_far.get(self._key, 0)
        self.last = self._order[taken % len(self._order)]
        self._taken_so_far[self._key] = taken + 1
        return self.last


def index_reads(db: VariantDatabase, profile: Profile) -> dict[str, Read]:
    """Every read of the comparison on ``db``, by query name."""
    items, threads = db.seed.deep_item_ids, db.seed.heavy_thread_ids[::-1]
    # EXPLAIN reads the last sampled item, which no timed spread call touches.
    *spread, (cold_thread, cold_user, cold_item) = db.seed.spread_items
    spread_pages = SpreadSample(spread, db.dsn, ITEMS_PAGE_SPREAD)
    spread_items = SpreadSample(spread, db.dsn, LOAD_ITEM_SPREAD)
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
        ITEMS_PAGE_SPREAD: Read(
            ITEMS_PAGE_SPREAD,
            lambda: _newest_page(store, spread_pages.take()),
            sql.SELECT_ITEMS_FIRST_PAGE_SQL[ORDER],
            (cold_thread, cold_user, fetch),
            0,
            PAGE_SIZE,
            lambda page: bool(page.data) and page.data[0].thread_id == spread_pages.last[0],
        ),
        LOAD_ITEM_SPREAD: Read(
            LOAD_ITEM_SPREAD,
            lambda: _one_item(store, spread_items.take()),
            sql.SELECT_ITEM_SQL,
            (cold_thread, cold_user, cold_item),
            None,
            None,
            lambda item: item.id == spread_items.last[2],
        ),
    }


def _newest_page(store: Any, picked: tuple[str, str, str]) -> Any:
    thread_id, user_id, _ = picked
    return store.load_thread_items(thread_id, None, PAGE_SIZE, ORDER, {"user_id": user_id})


def _one_item(store: Any, picked: tuple[str, str, str]) -> Any:
    thread_id, user_id, item_id = picked
    return store.load_item(thread_id, item_id, {"user_id": user_id})
