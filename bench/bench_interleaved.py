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
from typing import Any

import pytest

from chatkit_pg import DEFAULT_STRATEGY, STRATEGIES, PostgresStore
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import HOT_THREAD, INDEX_READ_QUERIES

from .databases import BenchDatabases
from .profiles import Profile
from .reads import index_reads
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
