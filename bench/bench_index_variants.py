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
from datetime import UTC, datetime
from typing import Any, Final

import pytest
from chatkit.types import ThreadMetadata

from chatkit_pg.harness.vocabulary import (
    ADD_THREAD_ITEM,
    INDEX_READ,
    INDEX_WRITE,
    ITEMS_PAGE_DEEP,
    ITEMS_PAGE_FIRST,
    ITEMS_PAGE_SPREAD,
    LOAD_ITEM,
    LOAD_ITEM_SPREAD,
    STORE,
    THREADS_PAGE_DEEP,
    THREADS_PAGE_FIRST,
)

from .databases import BenchDatabases
from .explain import explain, write_plan
from .measure import record, time_reads, timed_stats
from .os_cache import OsPageCache
from .profiles import Profile
from .reads import ORDER, index_reads
from .variants import VARIANTS
from .writers import WRITER_CONTEXT, WriteRun, make_jobs, run_round


def _read(
    benchmark: Any,
    loop: asyncio.AbstractEventLoop,
    databases: BenchDatabases,
    profile: Profile,
    variant: str,
    query: str,
    os_page_cache: OsPageCache | None = None,
) -> None:
    db = databases.variant(variant)
    read = index_reads(db, profile)[query]
    benchmark.group = f"index_read {query}"
    if os_page_cache is not None:
        benchmark.extra_info["os_page_cache"] = os_page_cache.drop()
    result = time_reads(benchmark, loop, profile, read.call)
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
# Every read the store serves, in the order they run (each over every variant):
INDEX_READS: Final = (
    ITEMS_PAGE_FIRST,  # newest page of the deep thread (load_thread_items, no cursor)
    ITEMS_PAGE_DEEP,  # a page at the profile's deepest depth (cursor resolved by primary key)
    LOAD_ITEM,  # one item by id (load_item)
    THREADS_PAGE_FIRST,  # newest page of the heavy user's thread list (load_threads)
    THREADS_PAGE_DEEP,  # a deep page of the thread list, through the block of equal created_at
    ITEMS_PAGE_SPREAD,  # newest page of a different background thread (another user's) per call
    LOAD_ITEM_SPREAD,  # a different background item (another user's) by id on every call
)
# The spread reads touch pages no other read has warmed: --drop-os-cache drops the OS page
# cache before them, so every variant starts equally cold.
SPREAD_READS: Final = frozenset({ITEMS_PAGE_SPREAD, LOAD_ITEM_SPREAD})


@pytest.mark.benchmark(group=INDEX_READ)
@pytest.mark.parametrize("variant", VARIANT_NAMES)
@pytest.mark.parametrize("query", INDEX_READS)
def test_index_read(
    benchmark: Any,
    loop: Any,
    databases: Any,
    profile: Profile,
    variant: str,
    query: str,
    os_page_cache: OsPageCache,
) -> None:
    """One read of :data:`INDEX_READS` on one variant, its plan saved beside it."""
    cache = os_page_cache if query in SPREAD_READS else None
    _read(benchmark, loop, databases, profile, variant, query, cache)


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
