"""Column sets several tables share, so a percentile is titled and read one way."""

from __future__ import annotations

from chatkit_pg.harness.vocabulary import PERCENTILES

from .document import Column
from .load import Benchmark


def latency_columns(better: bool = True) -> list[Column]:
    """One ``p<N> (ms)`` column per reported percentile (lower is better unless not)."""
    return [Column(f"p{p} (ms)", "ms", better="lower" if better else None) for p in PERCENTILES]


def latencies(b: Benchmark) -> list[float | None]:
    """``b``'s latency at each reported percentile, in the order of :func:`latency_columns`."""
    return [b.latency_ms(p) for p in PERCENTILES]
