"""Goodput: the share and rate of requests that met every SLO given, from the records.

``--goodput 'ttft=2000,itl=200,e2e=10000'`` sets the limits (ms). A request meets them when
it succeeded and each limit that applies to it holds:

* ``ttft`` / ``ttfe``: its time to first token / event (a streamed turn without assistant
  text has no ttft and misses a ttft limit);
* ``itl``: its *largest* gap between text deltas (one stall breaks the turn, as a user
  sees it; a turn with fewer than two deltas has no gap and meets it);
* ``tpot``: its time per output token;
* ``e2e``: its whole time (a stream: to its end).

Streamed-only limits do not apply to a non-streamed request (``threads.list`` is held to
``e2e`` only). Only measured requests count (``phase`` ``warmup`` is left out). The rate
is per second of the measured window: first start to last end.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any, Final

from chatkit_pg.harness.vocabulary import STREAMING_REQUESTS

# The limits --goodput takes; a record holds each as "<metric>_ms" (itl: its gaps).
METRICS: Final = ("ttft", "itl", "tpot", "e2e", "ttfe")
STREAMED_ONLY: Final = frozenset({"ttft", "itl", "tpot", "ttfe"})
FAILED: Final = "failed"


def parse_goodput(text: str) -> dict[str, float]:
    """``'ttft=2000,itl=200,e2e=10000'`` as ``{'ttft': 2000.0, ...}`` (ms).

    Raises:
        ValueError: naming ``--goodput`` and what is wrong (an unknown metric, a limit that is
            not a positive number, a metric given twice, nothing given).
    """
    limits: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if name not in METRICS:
            raise ValueError(
                f"--goodput: unknown metric {name!r} in {part!r}; use {', '.join(METRICS)}"
            )
        try:
            limit = float(value)
        except ValueError:
            limit = -1.0
        if not sep or not limit > 0:
            raise ValueError(f"--goodput: {part!r} must be {name}=MS with MS > 0")
        if name in limits:
            raise ValueError(f"--goodput: {name} is given twice")
        limits[name] = limit
    if not limits:
        raise ValueError("--goodput needs at least one limit, e.g. 'ttft=2000,e2e=10000'")
    return limits


def format_goodput(limits: dict[str, float]) -> str:
    return ",".join(f"{name}={limit:g}" for name, limit in limits.items())


def _value(record: dict[str, Any], metric: str) -> float | None:
    if metric == "itl":
        gaps = record.get("itl_ms") or []
        return max(gaps) if gaps else 0.0
    return record.get(f"{metric}_ms")


def missed(record: dict[str, Any], limits: dict[str, float]) -> str | None:
    """The first limit ``record`` missed (``failed`` for a failed request); None: met."""
    if record.get("status") != "ok":
        return FAILED
    streamed = record.get("type") in STREAMING_REQUESTS
    for metric, limit in limits.items():
        if metric in STREAMED_ONLY and not streamed:
            continue
        value = _value(record, metric)
        if value is None or value > limit:
            return metric
    return None


def measured(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records of measured requests (warm-up left out)."""
    return [r for r in records if r.get("phase", "measure") != "warmup" and "t0" in r]


def window_s(records: list[dict[str, Any]]) -> float:
    """The measured window: the first request's start to the last one's end."""
    if not records:
        return 0.0
    start = min(r["t0"] for r in records)
    end = max(r["t0"] + (r.get("e2e_ms") or 0.0) / 1000 for r in records)
    return max(end - start, 0.0)


def _share(met: int, total: int) -> float | None:
    return round(met / total, 4) if total else None


Z_95: Final = 1.959964


def share_interval(met: int, total: int) -> list[float] | None:
    """The 95% Wilson score interval of the share ``met / total`` (``[low, high]``).

    Goodput near a 99% target moves by tenths of a percent between runs of the same load;
    the interval says whether a share below the target is below it beyond the counting
    noise of that many requests (Wilson's, not the normal one: it stays inside 0..1 and
    holds near 100%)."""
    if not total:
        return None
    p, z2 = met / total, Z_95 * Z_95
    centre = (p + z2 / (2 * total)) / (1 + z2 / total)
    half = Z_95 * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / (1 + z2 / total)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def goodput(records: Iterable[dict[str, Any]], limits: dict[str, float]) -> dict[str, Any]:
    """What ``run.json`` says of goodput: the limits, the requests that met them (share and
    per second), per request type, and why the others missed (their first missed limit)."""
    kept = measured(records)
    window = window_s(kept)
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    reasons: Counter[str] = Counter()
    for record in kept:
        reason = missed(record, limits)
        counts = by_type[record.get("type", "?")]
        counts["requests"] += 1
        if reason is None:
            counts["met"] += 1
        else:
            reasons[reason] += 1
    met = sum(c["met"] for c in by_type.values())
    streamed = [c for kind, c in by_type.items() if kind in STREAMING_REQUESTS]
    turns, turns_met = sum(c["requests"] for c in streamed), sum(c["met"] for c in streamed)
    return {
        "slo": dict(limits),
        "slo_text": format_goodput(limits),
        "window_s": round(window, 2),
        "requests": len(kept),
        "met": met,
        "share": _share(met, len(kept)),
        "share_ci95": share_interval(met, len(kept)),
        "rate_per_s": round(met / window, 3) if window else None,
        "turns": turns,
        "turns_met": turns_met,
        "turns_share": _share(turns_met, turns),
        "missed_by": dict(reasons),
        "by_type": {
            kind: {**counts, "share": _share(counts["met"], counts["requests"])}
            for kind, counts in sorted(by_type.items())
        },
    }


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` percentile (0..100) of ``values``, nearest rank (None for none)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return round(ordered[int(rank) - 1], 3)


def turn_latencies(records: Iterable[dict[str, Any]]) -> dict[str, float | None]:
    """p50/p95/p99 of the measured streamed turns' ttft, itl (every gap) and e2e (ms)."""
    turns = [
        r for r in measured(records) if r.get("type") in STREAMING_REQUESTS and r["status"] == "ok"
    ]
    series = {
        "ttft": [r["ttft_ms"] for r in turns if r.get("ttft_ms") is not None],
        "itl": [gap for r in turns for gap in r.get("itl_ms") or []],
        "e2e": [r["e2e_ms"] for r in turns if r.get("e2e_ms") is not None],
    }
    return {
        f"{name}_p{q}_ms": percentile(values, q)
        for name, values in series.items()
        for q in (50, 95, 99)
    }
