"""Per-store-operation timings, served at ``GET /metrics`` (one worker process each).

The store is wrapped, not patched: :class:`MeteredPostgresStore` overrides each ``Store``
method with a timed call to the real one, so the figures are what the ChatKit server
waited for, pool checkout included. Its writes run to their end even when the stream that
asked for them is cancelled (:func:`~.streams.uninterrupted`).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from chatkit_pg import PostgresStore

from .streams import uninterrupted

# Upper bounds of the histogram buckets, in milliseconds (roughly x1.5 apart).
BUCKETS_MS: Final = tuple(round(0.1 * 1.5**n, 3) for n in range(30))

TIMED_METHODS: Final = (
    "load_thread",
    "save_thread",
    "load_threads",
    "delete_thread",
    "load_thread_items",
    "add_thread_item",
    "save_item",
    "load_item",
    "delete_thread_item",
    "save_attachment",
    "load_attachment",
    "delete_attachment",
)
# Writes finish even when the stream that asked for them is cancelled (see streams.py).
WRITE_METHODS: Final = frozenset(
    {
        "save_thread",
        "delete_thread",
        "add_thread_item",
        "save_item",
        "delete_thread_item",
        "save_attachment",
        "delete_attachment",
    }
)


@dataclass
class OperationTimings:
    """Count, sum, max and a fixed-bucket histogram of one operation's durations."""

    count: int = 0
    errors: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_MS) + 1))

    def observe(self, elapsed_ms: float, failed: bool) -> None:
        self.count += 1
        self.errors += int(failed)
        self.total_ms += elapsed_ms
        self.max_ms = max(self.max_ms, elapsed_ms)
        self.buckets[bisect.bisect_left(BUCKETS_MS, elapsed_ms)] += 1

    def percentile(self, q: float) -> float | None:
        """Upper bound of the bucket holding the q-th percentile (None when empty)."""
        if not self.count:
            return None
        rank, seen = q / 100 * self.count, 0
        for index, n in enumerate(self.buckets):
            seen += n
            if seen >= rank:
                bound = BUCKETS_MS[index] if index < len(BUCKETS_MS) else self.max_ms
                return min(bound, round(self.max_ms, 3))
        return self.max_ms

    def summary(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "errors": self.errors,
            "mean_ms": round(self.total_ms / self.count, 3) if self.count else None,
            "p50_ms": self.percentile(50),
            "p95_ms": self.percentile(95),
            "p99_ms": self.percentile(99),
            "max_ms": round(self.max_ms, 3),
        }


class StoreMetrics:
    """Timings per store operation for this process."""

    def __init__(self) -> None:
        self.operations: dict[str, OperationTimings] = {}
        self.started = time.time()

    def observe(self, name: str, elapsed_ms: float, failed: bool) -> None:
        self.operations.setdefault(name, OperationTimings()).observe(elapsed_ms, failed)

    def snapshot(self) -> dict[str, Any]:
        return {
            "since": self.started,
            "unit": "ms (percentiles are histogram bucket upper bounds)",
            "operations": {n: t.summary() for n, t in sorted(self.operations.items())},
        }


def _timed(name: str) -> Callable[..., Any]:
    async def method(self: MeteredPostgresStore, *args: Any, **kwargs: Any) -> Any:
        started, failed = time.perf_counter(), True
        try:
            call = getattr(PostgresStore, name)(self, *args, **kwargs)
            result = await (uninterrupted(call) if name in WRITE_METHODS else call)
            failed = False
            return result
        finally:
            self.metrics.observe(name, (time.perf_counter() - started) * 1000, failed)

    method.__name__ = name
    method.__doc__ = f"Timed :meth:`PostgresStore.{name}`."
    return method


class MeteredPostgresStore(PostgresStore[Any]):
    """A :class:`PostgresStore` that records how long each Store call took."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = StoreMetrics()


for _name in TIMED_METHODS:
    setattr(MeteredPostgresStore, _name, _timed(_name))
