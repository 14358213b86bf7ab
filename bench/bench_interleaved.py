"""Layout variants (reads) and sort-key strategies (hot-thread appends) compared in
interleaved rounds, with 95% intervals.

The per-variant benchmarks (bench_index_variants.py) time one variant after another, so
drift over the run (cache warm-up, a noisy neighbour) lands on whichever came last, and
their medians differ by less than run-to-run noise. Here every round times every variant
back to back, in a rotating order, and bench/statistics.py turns the rounds into medians,
ratios to the shipped layout and a call that is made only when the interval says so.
Strategies share one engine (one pool), so every strategy writes through the same
connections; each round gives each strategy a fresh hot thread, so thread length never
favours the strategy that went first. Written to ``bench/comparisons.json``; the report's
verdicts read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg
import pytest
from chatkit.types import ThreadItem
from pydantic import TypeAdapter

from chatkit_pg import DEFAULT_STRATEGY, STRATEGIES, PostgresStore, sql
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import (
    FLOOR_APPENDS_GROUP as APPENDS_GROUP,
)
from chatkit_pg.harness.vocabulary import (
    FLOOR_PAGE_GROUP as PAGE_GROUP,
)
from chatkit_pg.harness.vocabulary import (
    HOT_THREAD,
    INDEX_READ_QUERIES,
    MIXED_READER_GROUP,
    MIXED_WRITER_GROUP,
)

from . import baselines
from .databases import BenchDatabases
from .mixed_items import mixed_items
from .os_cache import OsPageCache
from .profiles import Profile
from .reads import CONTEXT, ORDER, PAGE_SIZE, index_reads
from .seed import DEEP_THREAD_ID, make_item
from .statistics import compare, rotation, write_comparison
from .variants import RECOMMENDED
from .writers import WRITER_CONTEXT, WriteRun, make_jobs, new_threads, run_round, warm_pool

THREAD_ITEM: Final = TypeAdapter(ThreadItem)  # what the store validates each row with


def _round_sample(loop: asyncio.AbstractEventLoop, call: Any, calls: int) -> float:
    """Median latency (ms) of ``calls`` back-to-back awaits of ``call()``."""
    timings = []
    for _ in range(calls):
        started = time.perf_counter()
        loop.run_until_complete(call())
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000.0


@pytest.mark.benchmark(group="index_read interleaved")
def test_index_reads_interleaved(
    loop: asyncio.AbstractEventLoop,
    databases: BenchDatabases,
    profile: Profile,
    results: RunFolder,
    conditions: dict[str, Any],
    os_page_cache: OsPageCache,
) -> None:
    names = databases.measured_variants()
    reads = {name: index_reads(databases.variant(name), profile) for name in names}
    page_cache = os_page_cache.drop()  # before the warm-up: every variant starts equally cold
    for name in names:  # right rows first, and every pool and cache warmed once
        for query, read in reads[name].items():
            assert read.check(loop.run_until_complete(read.call())), (name, query)
    samples: dict[str, dict[str, list[float]]] = {
        query: {name: [] for name in names} for query in INDEX_READ_QUERIES
    }
    started = time.monotonic()
    for round_number in range(profile.compare_rounds):
        for query in INDEX_READ_QUERIES:
            for name in rotation(names, round_number):
                sample = _round_sample(loop, reads[name][query].call, profile.compare_calls)
                samples[query][name].append(round(sample, 5))
        if (round_number + 1) % 10 == 0:
            print(f"interleaved reads: round {round_number + 1}/{profile.compare_rounds}")
    comparisons = {
        query: compare(by_variant, RECOMMENDED.name) for query, by_variant in samples.items()
    }
    section = {
        "baseline": RECOMMENDED.name,
        "unit": "ms",
        "rounds": profile.compare_rounds,
        "calls_per_round": profile.compare_calls,
        "order": "rotating (ABCD, BCDA, ...)",
        "os_page_cache": page_cache,
        "elapsed_s": round(time.monotonic() - started, 2),
        "groups": comparisons,  # by read
    }
    write_comparison(results, "index_reads", section, conditions, profile)
    for query, by_variant in comparisons.items():
        for name, entry in by_variant.items():
            interval = entry["median"]
            assert interval["low"] <= interval["value"] <= interval["high"], (query, name)


@pytest.mark.benchmark(group="sort_key interleaved")
def test_strategies_interleaved(
    loop: asyncio.AbstractEventLoop,
    databases: BenchDatabases,
    profile: Profile,
    results: RunFolder,
    conditions: dict[str, Any],
) -> None:
    names = [name for name, cls in STRATEGIES.items() if cls.guarantees.race_free]
    writers = max(profile.concurrency)
    dsn = databases.scratch("bench_strategies")
    with databases.borrowed_store(dsn, pool_size=writers) as shared:
        samples, runs, elapsed = _race_strategies(loop, shared, names, writers, profile)
    section = {
        "baseline": DEFAULT_STRATEGY,
        "unit": "adds/s",
        "higher_is_better": True,
        "scenario": HOT_THREAD,
        "concurrency": writers,
        "adds_per_round": profile.adds_per_round,
        "rounds": profile.compare_rounds,
        "order": "rotating, after one untimed warm-up round",
        "elapsed_s": elapsed,
        "failed_adds": {name: sum(run.failed) for name, run in runs.items()},
        "groups": {
            f"{HOT_THREAD} c{writers}": compare(samples, DEFAULT_STRATEGY, lower_is_better=False)
        },
    }
    write_comparison(results, "strategies", section, conditions, profile)
    for name, run in runs.items():
        assert sum(run.failed) == 0, (name, dict(run.errors))


def _race_strategies(
    loop: asyncio.AbstractEventLoop,
    shared: PostgresStore[Any],
    names: list[str],
    writers: int,
    profile: Profile,
) -> tuple[dict[str, list[float]], dict[str, WriteRun], float]:
    """Interleaved hot-thread rounds of every strategy through one shared pool."""
    stores = {name: PostgresStore(shared.engine, sort_key_strategy=name) for name in names}
    rng = random.Random(zlib.crc32(b"strategies interleaved"))
    loop.run_until_complete(warm_pool(shared, writers))
    samples: dict[str, list[float]] = {name: [] for name in names}
    runs = {name: WriteRun() for name in names}
    started = time.monotonic()
    for round_number in range(-1, profile.compare_rounds):  # round -1 warms up, untimed
        for name in rotation(names, max(round_number, 0)):
            threads = loop.run_until_complete(new_threads(shared, 1, f"cmp_{name}"))
            jobs = make_jobs(rng, threads, writers, profile.adds_per_round)
            loop.run_until_complete(run_round(stores[name], jobs, runs[name]))
            if round_number >= 0:
                samples[name].append(round(runs[name].added[-1] / runs[name].elapsed[-1], 3))
        if (round_number + 1) % 10 == 0:
            print(f"interleaved strategies: round {round_number + 1}/{profile.compare_rounds}")
    return samples, runs, round(time.monotonic() - started, 2)


MIXED_WRITERS: Final = 4
MIXED_READERS: Final = 4
MIXED_READS_PER_READER: Final = 6  # alternating the newest page and a deep page


@pytest.mark.benchmark(group="mixed interleaved")
def test_mixed_workload_interleaved(
    loop: asyncio.AbstractEventLoop,
    databases: BenchDatabases,
    profile: Profile,
    results: RunFolder,
    conditions: dict[str, Any],
) -> None:
    """Appends to hot threads while readers page the deep thread, per layout, interleaved."""
    names = databases.measured_variants()
    with contextlib.ExitStack() as borrowed:
        stores = {
            name: borrowed.enter_context(
                databases.borrowed_store(
                    databases.variant(name).dsn, pool_size=MIXED_WRITERS + MIXED_READERS
                )
            )
            for name in names
        }
        reader_ms, writer_ops, runs, elapsed = _mixed_rounds(loop, databases, stores, profile)
    section = {
        "baseline": RECOMMENDED.name,
        "writers": MIXED_WRITERS,
        "readers": MIXED_READERS,
        "reads_per_reader": MIXED_READS_PER_READER,
        "adds_per_round": profile.adds_per_round,
        "rounds": profile.compare_rounds,
        "order": "rotating, after one untimed warm-up round",
        "elapsed_s": elapsed,
        "groups": {
            MIXED_READER_GROUP: compare(reader_ms, RECOMMENDED.name),
            MIXED_WRITER_GROUP: compare(writer_ops, RECOMMENDED.name, lower_is_better=False),
        },
        "failed_adds": {name: sum(run.failed) for name, run in runs.items()},
    }
    write_comparison(results, "mixed", section, conditions, profile)
    for name, run in runs.items():
        assert sum(run.failed) == 0, (name, dict(run.errors))


def _mixed_rounds(
    loop: asyncio.AbstractEventLoop,
    databases: BenchDatabases,
    stores: dict[str, PostgresStore[Any]],
    profile: Profile,
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, WriteRun], float]:
    """Interleaved rounds of appends beside paging readers, one per layout each."""
    names = list(stores)
    cursor = databases.variant(names[0]).seed.deep_item_ids[::-1][profile.deepest - 1]
    rng = random.Random(zlib.crc32(b"mixed interleaved"))
    reader_ms: dict[str, list[float]] = {name: [] for name in names}
    writer_ops: dict[str, list[float]] = {name: [] for name in names}
    runs = {name: WriteRun() for name in names}
    for name in names:
        loop.run_until_complete(warm_pool(stores[name], MIXED_WRITERS + MIXED_READERS))
    started = time.monotonic()
    for round_number in range(-1, profile.compare_rounds):  # round -1 warms up, untimed
        for name in rotation(names, max(round_number, 0)):
            store = stores[name]
            hot = loop.run_until_complete(new_threads(store, 2, f"mixed_{name}"))
            jobs = make_jobs(rng, hot, MIXED_WRITERS, profile.adds_per_round)
            latencies = loop.run_until_complete(
                _read_while_writing(store, jobs, runs[name], cursor)
            )
            if round_number >= 0:
                reader_ms[name].append(round(statistics.median(latencies) * 1000.0, 5))
                writer_ops[name].append(round(runs[name].added[-1] / runs[name].elapsed[-1], 3))
        if (round_number + 1) % 10 == 0:
            print(f"interleaved mixed load: round {round_number + 1}/{profile.compare_rounds}")
    return reader_ms, writer_ops, runs, round(time.monotonic() - started, 2)


async def _read_while_writing(
    store: PostgresStore[Any], jobs: Any, run: WriteRun, cursor: str
) -> list[float]:
    """Run the writers' round and the readers at once; the readers' latencies (s)."""
    latencies: list[float] = []

    async def reader(number: int) -> None:
        for n in range(MIXED_READS_PER_READER):
            after = cursor if (n + number) % 2 else None  # deep and newest pages alternate
            began = time.perf_counter()
            page = await store.load_thread_items(DEEP_THREAD_ID, after, PAGE_SIZE, ORDER, CONTEXT)
            latencies.append(time.perf_counter() - began)
            assert len(page.data) == PAGE_SIZE

    await asyncio.gather(run_round(store, jobs, run), *(reader(n) for n in range(MIXED_READERS)))
    return latencies


FLOOR_PAGE_SIZE: Final = 50
STORE_PATH: Final = "store"
FLOOR_PATH: Final = "floor"


@pytest.mark.benchmark(group="floors interleaved")
def test_store_against_its_floor_interleaved(
    loop: asyncio.AbstractEventLoop,
    databases: BenchDatabases,
    profile: Profile,
    results: RunFolder,
    conditions: dict[str, Any],
) -> None:
    """The store's own path beside the floor, one client, interleaved round by round.

    Appends: ``add_thread_item`` against raw asyncpg running the identical statement with
    parameters made ahead (its floor). Pages: ``load_thread_items`` of 50 mixed SDK items
    against raw asyncpg fetching the same rows plus pydantic validating the same JSON.

    Both run on one server session: the store has one connection, and the floor's calls use
    its asyncpg connection directly. On separate sessions, which CPU each backend process
    ran on beside the client moved one path's round trip by up to 20 us between runs (gone
    with the processes pinned), more than the difference this measures.
    """
    dsn = databases.scratch("bench_floors")
    rng = random.Random(zlib.crc32(b"floors interleaved"))
    with databases.borrowed_store(dsn, pool_size=1, max_overflow=0) as store:
        samples = _floor_rounds(loop, store, rng, profile)
    section = {
        "baseline": FLOOR_PATH,
        "rounds": profile.compare_rounds,
        "calls_per_round": profile.compare_calls,
        "order": "rotating, after one untimed warm-up round",
        "session": "one server session for both paths (the store's only connection)",
        "floors": {
            APPENDS_GROUP: "raw asyncpg, the store's ADD_ITEM_COUNTER_SQL, parameters made ahead",
            PAGE_GROUP: "raw asyncpg fetching the same rows + pydantic validate_json of each",
        },
        "groups": {
            APPENDS_GROUP: compare(samples[APPENDS_GROUP], FLOOR_PATH, lower_is_better=False),
            PAGE_GROUP: compare(samples[PAGE_GROUP], FLOOR_PATH),
        },
    }
    write_comparison(results, "floors", section, conditions, profile)


def _floor_rounds(
    loop: asyncio.AbstractEventLoop,
    store: PostgresStore[Any],
    rng: random.Random,
    profile: Profile,
) -> dict[str, dict[str, list[float]]]:
    """Interleaved rounds of the store's and the floor's appends and pages (one client)."""
    threads = loop.run_until_complete(new_threads(store, 3, "floor"))
    page_thread, store_thread, raw_thread = threads
    for item in mixed_items(page_thread, FLOOR_PAGE_SIZE + 10, datetime.now(UTC)):
        loop.run_until_complete(store.add_thread_item(page_thread, item, WRITER_CONTEXT))
    user = WRITER_CONTEXT["user_id"]
    statement = sql.SELECT_ITEMS_FIRST_PAGE_SQL["desc"]
    session: dict[str, asyncpg.Connection] = {}  # the store's connection while the floor runs

    def fresh(thread_id: str) -> Any:
        item_id = f"msg_{rng.getrandbits(96):024x}"
        return make_item(rng, thread_id, item_id, 0, datetime.now(UTC))

    async def store_append() -> None:
        await store.add_thread_item(store_thread, pending[STORE_PATH].pop(), WRITER_CONTEXT)

    async def raw_append() -> None:
        await session[FLOOR_PATH].fetchval(sql.ADD_ITEM_COUNTER_SQL, *pending[FLOOR_PATH].pop())

    async def store_page() -> None:
        page = await store.load_thread_items(
            page_thread, None, FLOOR_PAGE_SIZE, "desc", WRITER_CONTEXT
        )
        assert len(page.data) == FLOOR_PAGE_SIZE

    async def floor_page() -> None:
        rows = await session[FLOOR_PATH].fetch(statement, page_thread, user, FLOOR_PAGE_SIZE + 1)
        items = [THREAD_ITEM.validate_json(r["data"]) for r in rows[:FLOOR_PAGE_SIZE]]
        assert len(items) == FLOOR_PAGE_SIZE

    measures = {
        APPENDS_GROUP: {STORE_PATH: store_append, FLOOR_PATH: raw_append},
        PAGE_GROUP: {STORE_PATH: store_page, FLOOR_PATH: floor_page},
    }
    samples: dict[str, dict[str, list[float]]] = {
        group: {STORE_PATH: [], FLOOR_PATH: []} for group in measures
    }
    for round_number in range(-1, profile.compare_rounds):  # round -1 warms up
        # Items and the raw path's parameters are made before the clock starts.
        pending = {
            STORE_PATH: [fresh(store_thread) for _ in range(profile.compare_calls)],
            FLOOR_PATH: [
                baselines.item_params(raw_thread, user, fresh(raw_thread))
                for _ in range(profile.compare_calls)
            ],
        }
        for group, paths in measures.items():
            for path in rotation(list(paths), max(round_number, 0)):
                holding = (
                    _holding_store_connection(loop, store, session)
                    if path == FLOOR_PATH
                    else contextlib.nullcontext()
                )
                with holding:
                    median_ms = _round_sample(loop, paths[path], profile.compare_calls)
                if round_number >= 0:
                    # Appends are compared as throughput (1 client: 1000 / latency).
                    value = 1000.0 / median_ms if group == APPENDS_GROUP else median_ms
                    samples[group][path].append(round(value, 5))
    return samples


@contextlib.contextmanager
def _holding_store_connection(
    loop: asyncio.AbstractEventLoop,
    store: PostgresStore[Any],
    session: dict[str, asyncpg.Connection],
) -> Iterator[None]:
    """Hold the store's connection as ``session[FLOOR_PATH]`` for a floor round (untimed)."""
    borrowed = store.connection()
    session[FLOOR_PATH] = loop.run_until_complete(borrowed.__aenter__())
    try:
        yield
    finally:
        del session[FLOOR_PATH]
        loop.run_until_complete(borrowed.__aexit__(None, None, None))
