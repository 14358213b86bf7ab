"""The one vocabulary of a benchmark's ``extra_info``, and latency percentiles.

Every benchmark records the same keys (``None`` where a key does not apply) so the report
reads one shape: what was measured (kind, method, strategy, variant, scenario, concurrency,
depth, page size, order, query), the numbers (ops/s, p50/p95/p99 in ms) and the correctness
counters of the same run (duplicates, failed adds, retries).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

from chatkit_pg.harness.vocabulary import KINDS, METHODS, PERCENTILES

EXTRA_KEYS: Final = (
    "kind",
    "method",
    "strategy",
    "variant",
    "scenario",
    "concurrency",
    "depth",
    "page_size",
    "order",
    "query",
    "ops_per_s",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "duplicates",
    "failed_adds",
    "retries",
    "profile",
)


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile ``p`` (0-100) of already sorted values."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    rank = (len(sorted_values) - 1) * p / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return float(sorted_values[low])
    weight = rank - low
    return float(sorted_values[low] * (1 - weight) + sorted_values[high] * weight)


def latency_summary(seconds: Sequence[float]) -> dict[str, float | None]:
    """``{"p50_ms", "p95_ms", "p99_ms"}`` of per-operation latencies given in seconds."""
    if not seconds:
        return {f"p{p}_ms": None for p in PERCENTILES}
    ordered = sorted(seconds)
    return {f"p{p}_ms": round(percentile(ordered, p) * 1000.0, 4) for p in PERCENTILES}


def record(benchmark: Any, profile: str, **values: Any) -> dict[str, Any]:
    """Set ``benchmark.extra_info`` to every key of :data:`EXTRA_KEYS` (missing ones ``None``).

    Raises:
        ValueError: an unknown key, kind or method (a typo would silently hide a result).
    """
    unknown = set(values) - set(EXTRA_KEYS)
    if unknown:
        raise ValueError(f"unknown extra_info keys: {sorted(unknown)}")
    if values.get("kind") not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {values.get('kind')!r}")
    if values.get("method") not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {values.get('method')!r}")
    info = dict.fromkeys(EXTRA_KEYS)
    info.update(values)
    info["profile"] = profile
    benchmark.extra_info.update(info)
    return info


def timed_stats(benchmark: Any) -> dict[str, float | None]:
    """ops/s and percentiles from pytest-benchmark's own per-round timings (one call each).

    Empty (all ``None``) when benchmarking is disabled (``--benchmark-disable``).
    """
    stats = getattr(getattr(benchmark, "stats", None), "stats", None)
    data = list(getattr(stats, "data", None) or ())
    if not data:
        return {"ops_per_s": None, **latency_summary(())}
    return {"ops_per_s": round(len(data) / sum(data), 2), **latency_summary(data)}


def time_reads(benchmark: Any, loop: Any, profile: Any, call: Any) -> Any:
    """Time ``await call()`` for the profile's read rounds after its warm-up, on one loop.

    Returns what the last call returned (for the benchmark's correctness check).
    """
    return benchmark.pedantic(
        lambda: loop.run_until_complete(call()),
        rounds=profile.read_rounds,
        warmup_rounds=profile.read_warmup_rounds,
    )
