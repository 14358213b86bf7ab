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
import json
import random
import statistics
import time
import zlib
from typing import Any, Final

import pytest

from chatkit_pg import DEFAULT_STRATEGY, STRATEGIES, PostgresStore
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import (
    HOT_THREAD,
    INDEX_READ_QUERIES,
    MIXED_READER_GROUP,
    MIXED_WRITER_GROUP,
)

from .databases import BenchDatabases
from .profiles import Profile
from .reads import CONTEXT, ORDER, PAGE_SIZE, index_reads
from .seed import DEEP_THREAD_ID
from .statistics import BOOTSTRAP_SAMPLES, CONFIDENCE, compare, rotation
from .variants import RECOMMENDED, VARIANTS
from .writers import WriteRun, make_jobs, new_threads, run_round, warm_pool


def _write_section(
    results: RunFolder,
    name: str,
    section: dict[str, Any],
    conditions: dict[str, Any],
    profile: Profile,
) -> None:
    """Add one comparison to ``bench/comparisons.json`` (each test writes its own section)."""
    path = results.path / RunFolder.COMPARISONS_FILE
    document = json.loads(path.read_text()) if path.exists() else {}
    document.pop("conditions", None)
    document[name] = {
        **section,
        "bootstrap_samples": BOOTSTRAP_SAMPLES,
        "confidence": CONFIDENCE,
    }
    results.write_json(
        RunFolder.COMPARISONS_FILE, document, {**conditions, "profile": profile.name}
    )


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
) -> None:
    names = [name for name in VARIANTS if databases.skip_reason(name) is None]
    reads = {name: index_reads(databases.variant(name), profile) for name in names}
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
        "elapsed_s": round(time.monotonic() - started, 2),
        "groups": comparisons,  # by read
    }
    _write_section(results, "index_reads", section, conditions, profile)
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
    shared = databases.store(dsn, pool_size=writers)
    stores = {
        name: PostgresStore(shared.engine, sort_key_strategy=name) for name in names
    }
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
    section = {
        "baseline": DEFAULT_STRATEGY,
        "unit": "adds/s",
        "higher_is_better": True,
        "scenario": HOT_THREAD,
        "concurrency": writers,
        "adds_per_round": profile.adds_per_round,
        "rounds": profile.compare_rounds,
        "order": "rotating, after one untimed warm-up round",
        "elapsed_s": round(time.monotonic() - started, 2),
        "failed_adds": {name: sum(run.failed) for name, run in runs.items()},
        "groups": {
            f"{HOT_THREAD} c{writers}": compare(samples, DEFAULT_STRATEGY, lower_is_better=False)
        },
    }
    _write_section(results, "strategies", section, conditions, profile)
    for name, run in runs.items():
        assert sum(run.failed) == 0, (name, dict(run.errors))


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
    names = [name for name in VARIANTS if databases.skip_reason(name) is None]
    stores = {
        name: databases.store(
            databases.variant(name).dsn, pool_size=MIXED_WRITERS + MIXED_READERS
        )
        for name in names
    }
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
    section = {
        "baseline": RECOMMENDED.name,
        "writers": MIXED_WRITERS,
        "readers": MIXED_READERS,
        "reads_per_reader": MIXED_READS_PER_READER,
        "adds_per_round": profile.adds_per_round,
        "rounds": profile.compare_rounds,
        "order": "rotating, after one untimed warm-up round",
        "elapsed_s": round(time.monotonic() - started, 2),
        "groups": {
            MIXED_READER_GROUP: compare(reader_ms, RECOMMENDED.name),
            MIXED_WRITER_GROUP: compare(writer_ops, RECOMMENDED.name, lower_is_better=False),
        },
        "failed_adds": {name: sum(run.failed) for name, run in runs.items()},
    }
    _write_section(results, "mixed", section, conditions, profile)
    for name, run in runs.items():
        assert sum(run.failed) == 0, (name, dict(run.errors))


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

    await asyncio.gather(
        run_round(store, jobs, run), *(reader(n) for n in range(MIXED_READERS))
    )
    return latencies
