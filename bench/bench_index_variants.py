"""Index variants (bench/variants.py) on copies of the same seeded data.

Per variant: latency of each read the store serves (item page first and deep, load_item,
thread page first and deep), add_thread_item throughput, and the plan each read actually
used (EXPLAIN ANALYZE, BUFFERS) saved to ``bench/plans/<variant>/<query>.json``. Table and
index sizes are written when a variant's database is made (``bench/sizes.json``).
"""

from __future__ import annotations

import asyncio
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from chatkit.types import ThreadMetadata

from chatkit_pg import sql
from chatkit_pg.harness.vocabulary import (
    ADD_THREAD_ITEM,
    INDEX_READ,
    INDEX_WRITE,
    ITEMS_PAGE_DEEP,
    ITEMS_PAGE_FIRST,
    LOAD_ITEM,
    STORE,
    THREADS_PAGE_DEEP,
    THREADS_PAGE_FIRST,
)

from .databases import BenchDatabases, VariantDatabase
from .explain import explain, write_plan
from .measure import record, timed_stats
from .profiles import Profile
from .seed import DEEP_THREAD_ID, USER_ID
from .variants import VARIANTS
from .writers import WRITER_CONTEXT, WriteRun, make_jobs, run_round

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


def _reads(db: VariantDatabase, profile: Profile) -> dict[str, Read]:
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


def _read(
    benchmark: Any,
    loop: asyncio.AbstractEventLoop,
    databases: BenchDatabases,
    profile: Profile,
    variant: str,
    query: str,
) -> None:
    db = databases.variant(variant)
    read = _reads(db, profile)[query]
    benchmark.group = f"index_read {query}"
    result = benchmark.pedantic(
        lambda: loop.run_until_complete(read.call()),
        rounds=profile.read_rounds,
        warmup_rounds=profile.read_warmup_rounds,
    )
    record(
        benchmark,
        profile.name,
        kind=INDEX_READ,
        method=STORE,
        variant=variant,
        query=query,
        depth=read.depth,
        page_size=read.page_size,
        order=ORDER if read.page_size else None,
        **timed_stats(benchmark),
    )
    assert read.check(result), f"{query} on {variant} returned the wrong rows"
    plan = loop.run_until_complete(explain(db.raw, read.statement, read.params))
    conditions = {
        **databases.conditions,
        "variant": variant,
        "variant_ddl": list(VARIANTS[variant].ddl),
        "scale": profile.as_dict(),
    }
    write_plan(databases.results, variant, query, plan, conditions)
    benchmark.extra_info["plan_nodes"] = plan["node_types"]


VARIANT_NAMES = tuple(VARIANTS)


@pytest.mark.benchmark(group=INDEX_READ)
@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_items_page_first(
    benchmark: Any, loop: Any, databases: Any, profile: Profile, variant: str
) -> None:
    """Newest page of the deep thread (load_thread_items, no cursor)."""
    _read(benchmark, loop, databases, profile, variant, ITEMS_PAGE_FIRST)


@pytest.mark.benchmark(group=INDEX_READ)
@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_items_page_deep(
    benchmark: Any, loop: Any, databases: Any, profile: Profile, variant: str
) -> None:
    """A page at the profile's deepest depth (cursor resolved by primary key)."""
    _read(benchmark, loop, databases, profile, variant, ITEMS_PAGE_DEEP)


@pytest.mark.benchmark(group=INDEX_READ)
@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_load_item(
    benchmark: Any, loop: Any, databases: Any, profile: Profile, variant: str
) -> None:
    """One item by id (load_item)."""
    _read(benchmark, loop, databases, profile, variant, LOAD_ITEM)


@pytest.mark.benchmark(group=INDEX_READ)
@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_threads_page_first(
    benchmark: Any, loop: Any, databases: Any, profile: Profile, variant: str
) -> None:
    """Newest page of the heavy user's thread list (load_threads)."""
    _read(benchmark, loop, databases, profile, variant, THREADS_PAGE_FIRST)


@pytest.mark.benchmark(group=INDEX_READ)
@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_threads_page_deep(
    benchmark: Any, loop: Any, databases: Any, profile: Profile, variant: str
) -> None:
    """A deep page of the thread list, through the block of equal created_at values."""
    _read(benchmark, loop, databases, profile, variant, THREADS_PAGE_DEEP)


@pytest.mark.benchmark(group=INDEX_WRITE)
@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_add_thread_item(
    benchmark: Any,
    loop: asyncio.AbstractEventLoop,
    databases: BenchDatabases,
    profile: Profile,
    variant: str,
) -> None:
    """add_thread_item (counter strategy, one writer) into a variant's full-size tables."""
    db = databases.variant(variant)
    store = databases.store(db.dsn, pool_size=1)
    try:
        rng = random.Random(zlib.crc32(variant.encode()))
        thread_id = f"thr_bench_write_{variant}"
        loop.run_until_complete(_new_thread(store, thread_id))
        run = WriteRun()
        benchmark.group = "index_write add_thread_item"
        benchmark.pedantic(
            lambda jobs: loop.run_until_complete(run_round(store, jobs, run)),
            setup=lambda: ((make_jobs(rng, [thread_id], 1, profile.adds_per_round),), {}),
            rounds=profile.write_rounds,
            warmup_rounds=profile.write_warmup_rounds,
        )
        record(
            benchmark,
            profile.name,
            kind=INDEX_WRITE,
            method=STORE,
            strategy="counter",
            variant=variant,
            concurrency=1,
            query=ADD_THREAD_ITEM,
            failed_adds=sum(run.failed),
            **run.measured(profile.write_rounds),
        )
    finally:
        databases.release(store)
    assert sum(run.failed) == 0, dict(run.errors)


async def _new_thread(store: Any, thread_id: str) -> None:
    await store.save_thread(
        ThreadMetadata(id=thread_id, created_at=datetime.now(UTC)), WRITER_CONTEXT
    )
