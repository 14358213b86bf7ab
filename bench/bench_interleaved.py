"""Index variants compared read for read in interleaved rounds, with 95% intervals.

The per-variant benchmarks (bench_index_variants.py) time one variant after another, so
drift over the run (cache warm-up, a noisy neighbour) lands on whichever came last, and
their medians differ by less than run-to-run noise. Here every round times every variant
back to back, in a rotating order, and bench/statistics.py turns the rounds into medians,
ratios to the shipped layout and a call that is made only when the interval says so.
Written to ``bench/comparisons.json``; the report's index verdict reads it.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import pytest

from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import INDEX_READ_QUERIES

from .databases import BenchDatabases
from .profiles import Profile
from .reads import index_reads
from .statistics import BOOTSTRAP_SAMPLES, CONFIDENCE, compare, rotation
from .variants import RECOMMENDED, VARIANTS


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
    results.write_json(
        RunFolder.COMPARISONS_FILE,
        {
            "index_reads": {
                "baseline": RECOMMENDED.name,
                "unit": "ms",
                "rounds": profile.compare_rounds,
                "calls_per_round": profile.compare_calls,
                "order": "rotating (ABCD, BCDA, ...)",
                "bootstrap_samples": BOOTSTRAP_SAMPLES,
                "confidence": CONFIDENCE,
                "elapsed_s": round(time.monotonic() - started, 2),
                "queries": comparisons,
            }
        },
        {**conditions, "profile": profile.name},
    )
    for query, by_variant in comparisons.items():
        for name, entry in by_variant.items():
            interval = entry["median"]
            assert interval["low"] <= interval["value"] <= interval["high"], (query, name)
