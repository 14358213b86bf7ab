"""The capacity ramp's arithmetic, without Locust: snapshots of Locust's cumulative
statistics, one step's numbers from two of them, and the verdict over the steps.

:mod:`.capacity` (the ``LoadTestShape``) calls these at every step boundary; the report
fixtures are written with them too. Percentiles follow Locust's own rule
(``locust.stats.calculate_response_time_percentile``) on Locust's rounded response times.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from chatkit_pg.harness.vocabulary import SSE_TYPE


@dataclass(frozen=True)
class Ramp:
    """The stepped ramp: ``start_users`` + ``step_users`` x step, each step held
    ``step_duration_s``, up to ``max_users`` (the one place its arithmetic is written).
    ``dataclasses.asdict`` of it is the ``ramp`` that ``capacity.json`` records."""

    start_users: int
    step_users: int
    step_duration_s: float
    max_users: int
    spawn_rate: float

    @classmethod
    def of(cls, options: Any) -> Ramp:
        """The ramp of the step options (Locust's ``parsed_options`` or the settings)."""
        return cls(
            options.step_start, options.step_users, options.step_duration, options.step_max,
            options.step_rate,
        )  # fmt: skip

    @property
    def steps(self) -> int:
        """How many steps reach ``max_users`` (the last one may add fewer users)."""
        return 1 + math.ceil((self.max_users - self.start_users) / self.step_users)

    @property
    def longest_s(self) -> float:
        """The ramp's length when every step is held to its end."""
        return self.steps * self.step_duration_s

    def index_at(self, elapsed_s: float) -> int:
        return int(elapsed_s // self.step_duration_s)

    def users_at(self, index: int) -> int:
        return min(self.max_users, self.start_users + self.step_users * index)


def percentile(times: Counter[int], count: int, q: float) -> int:
    """Locust's percentile of a response-time histogram (``{ms: count}``): the smallest
    time with at most ``(1 - q)`` of the ``count`` samples above it."""
    wanted = int(count * q)
    seen = 0
    for ms in sorted(times, reverse=True):
        seen += times[ms]
        if count - seen <= wanted:
            return ms
    return 0


@dataclass
class Snapshot:
    """Locust's cumulative counters at one moment of the run."""

    at: float  # seconds into the shape
    times: Counter[int] = field(default_factory=Counter)  # the chosen entry's response times
    completed: int = 0  # the chosen entry's count
    requests: int = 0  # every HTTP entry
    failures: int = 0


def snapshot(stats: Any, request: str, at: float) -> Snapshot:
    """The counters of ``stats`` (Locust's ``RequestStats``) now."""
    snap = Snapshot(at)
    for (name, method), entry in list(stats.entries.items()):
        if name == request:
            snap.times.update(entry.response_times)
            snap.completed += entry.num_requests
        if method != SSE_TYPE:
            snap.requests += entry.num_requests
            snap.failures += entry.num_failures
    return snap


def close_step(
    index: int,
    users: int,
    before: Snapshot,
    after: Snapshot,
    slo_p95_ms: float,
    max_fail_ratio: float,
    request: str,
) -> dict[str, Any]:
    """One step's numbers, from the snapshots at its start and end, and whether it held."""
    times = after.times - before.times  # Counter subtraction keeps positive counts only
    completed = sum(times.values())
    seconds = max(after.at - before.at, 1e-9)
    requests = after.requests - before.requests
    failures = after.failures - before.failures

    def pct(q: float) -> float | None:
        return float(percentile(times, completed, q)) if completed else None

    step: dict[str, Any] = {
        "step": index,
        "users": users,
        "started_s": round(before.at, 1),
        "seconds": round(seconds, 1),
        "requests": requests,
        "failures": failures,
        "rps": round(requests / seconds, 2),
        "fail_ratio": round(failures / requests, 4) if requests else 0.0,
        "request_count": completed,
        "request_rps": round(completed / seconds, 2),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
    }
    reasons = []
    if not completed:
        reasons.append(f"no {request!r} completed in the step")
    elif step["p95_ms"] > slo_p95_ms:
        reasons.append(f"p95 of {request!r} {step['p95_ms']:.0f} ms > {slo_p95_ms:g} ms")
    if requests and failures / requests > max_fail_ratio:
        share = f"{failures / requests:.1%} > {max_fail_ratio:.1%}"
        reasons.append(f"{failures} of {requests} requests failed ({share})")
    reason = "; ".join(reasons) or None
    step["within_slo"] = reason is None
    step["reason"] = reason
    return step


def verdict(
    steps: list[dict[str, Any]],
    request: str,
    slo_p95_ms: float,
    max_fail_ratio: float,
    top_users: int,
    complete: bool,
) -> dict[str, Any]:
    """The steps, the last one within the SLO (before any that broke it) and why the ramp
    ended."""
    sustained, broken = None, None
    for step in steps:
        if not step["within_slo"]:
            broken = step
            break
        sustained = step
    if broken is not None:
        why = f"step {broken['step']} ({broken['users']} users) broke the SLO: {broken['reason']}"
    elif sustained is not None and sustained["users"] >= top_users:
        why = f"the top step ({top_users} users) held the SLO: the capacity is at least that"
    else:
        why = "the ramp ended before any step broke the SLO or reached the top"
    return {
        "request": request,
        "slo_p95_ms": slo_p95_ms,
        "max_fail_ratio": max_fail_ratio,
        "complete": complete,
        "steps": steps,
        "sustained": _brief(sustained),
        "broken": _brief(broken),
        "reached_top": broken is None and sustained is not None and sustained["users"] >= top_users,
        "why": why,
    }


def _brief(step: dict[str, Any] | None) -> dict[str, Any] | None:
    if step is None:
        return None
    keys = ("step", "users", "rps", "request_rps", "p95_ms", "failures", "reason")
    return {k: step[k] for k in keys}
