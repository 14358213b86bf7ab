"""Tables of goodput and open-loop arrivals: one run's goodput per request type and its
arrivals (``loadtest/run.json``), and a capacity sweep's points (``loadtest/sweep.json``)."""

from __future__ import annotations

from typing import Any

from .document import Column, Table
from .load import LoadTest


def _percent(share: Any) -> float | None:
    return None if share is None else round(100.0 * share, 2)


def slo_limits_text(sweep: dict[str, Any]) -> str | None:
    """A sweep's SLO as ``ttft <= 500 ms, e2e <= 2000 ms``; None when it recorded none."""
    slo = sweep.get("slo") or {}
    return ", ".join(f"{k} <= {v:g} ms" for k, v in slo.items()) or None


def interval_text(interval: Any) -> str | None:
    """``[0.984, 0.992]`` as ``98.4-99.2``; None for no interval."""
    if not isinstance(interval, list) or len(interval) != 2:
        return None
    return f"{100 * interval[0]:.1f}-{100 * interval[1]:.1f}"


def _missed_text(missed_by: Any) -> str:
    if not isinstance(missed_by, dict) or not missed_by:
        return ""
    return ", ".join(f"{reason} {n}" for reason, n in sorted(missed_by.items()))


def goodput_table(lt: LoadTest) -> Table | None:
    """run.json ``goodput``: per request type the measured requests, those that met every
    limit and their share; a last row for all of them with the rate."""
    good = (lt.run or {}).get("goodput")
    if not isinstance(good, dict) or not good.get("by_type"):
        return None
    rows: list[list[Any]] = [
        [kind, counts.get("requests"), counts.get("met"), _percent(counts.get("share")), None]
        for kind, counts in sorted(good["by_type"].items())
        if isinstance(counts, dict)
    ]
    rows.append(
        ["all", good.get("requests"), good.get("met"), _percent(good.get("share")),
         good.get("rate_per_s")]
    )  # fmt: skip
    return Table(
        id="load_goodput",
        title=f"Goodput at SLO {good.get('slo_text')} (ms)",
        columns=[
            Column("Request type", key=True),
            Column("Requests", "int"),
            Column("Met every SLO", "int"),
            Column("Goodput %", "float", better="higher"),
            Column("Goodput /s", "float", better="higher"),
        ],
        rows=rows,
        caption="From the per-request records, warm-up left out. A request meets the SLO when "
        "it succeeded and every limit that applies to it holds (itl: its largest gap between "
        "text deltas; streamed-only limits do not apply to non-streamed requests). Missed, by "
        f"the first limit missed: {_missed_text(good.get('missed_by')) or 'none'}.",
    )


def arrivals_table(lt: LoadTest) -> Table | None:
    """run.json ``arrivals`` (open loop): the target, the cap, and what was achieved."""
    arrivals = (lt.run or {}).get("arrivals")
    if not isinstance(arrivals, dict):
        return None
    rows = [
        ["target rate (conversations/s)", arrivals.get("rate_per_s")],
        ["offered rate (started + refused, /s)", arrivals.get("offered_rate_per_s")],
        ["achieved rate (started, /s)", arrivals.get("achieved_rate_per_s")],
        ["burstiness (gamma shape; 1 = Poisson)", arrivals.get("burstiness")],
        ["concurrency cap (conversations)", arrivals.get("cap")],
        ["generators (one per Locust process)", arrivals.get("generators")],
        ["measured window (s)", arrivals.get("window_s")],
        ["started", arrivals.get("started")],
        ["refused (the cap was full)", arrivals.get("refused")],
        ["skipped (the generator was behind)", arrivals.get("skipped")],
    ]
    return Table(
        id="load_arrivals",
        title="Open-loop arrivals",
        columns=[Column("Arrivals", key=True), Column("Value")],
        rows=rows,
        caption="New conversations arrive at the target rate whatever the server does; an "
        "arrival the cap has no room for is refused and counted, never queued, and one the "
        "generator was late for is skipped, never fired late. Counts are of the measured "
        "window (after the warm-up).",
    )


def sweep_table(lt: LoadTest) -> Table | None:
    """sweep.json ``points``: one row per load, with its verdict against the target."""
    sweep = lt.sweep
    if not sweep or not sweep.get("points"):
        return None
    knee = sweep.get("knee") or {}
    target = knee.get("target")
    rows = []
    for point in sweep["points"]:
        share = point.get("goodput_share")
        if point.get("load") == knee.get("load"):
            verdict = "at target (the knee)"
        elif share is not None and target is not None and share >= target:
            verdict = "at target"
        else:
            verdict = "below target"
        rows.append(
            [
                point.get("load"),
                point.get("achieved_rate_per_s"),
                point.get("requests"),
                point.get("failures"),
                _percent(share),
                interval_text(point.get("goodput_share_ci95")),
                point.get("goodput_rate_per_s"),
                _percent(point.get("turns_share")),
                point.get("ttft_p95_ms"),
                point.get("itl_p95_ms"),
                point.get("e2e_p95_ms"),
                point.get("refused"),
                point.get("loadgen_cpu_p95"),
                verdict,
            ]
        )
    unit = sweep.get("unit") or "load"
    return Table(
        id="load_sweep",
        title=f"Capacity sweep per load ({unit})",
        columns=[
            Column(f"Load ({unit})", "float", key=True),
            Column("Achieved /s", "float"),
            Column("Requests", "int"),
            Column("Failures", "int", better="lower"),
            Column("Goodput %", "float", better="higher"),
            Column("95% CI"),
            Column("Goodput /s", "float", better="higher"),
            Column("Turns goodput %", "float", better="higher"),
            Column("p95 ttft (ms)", "ms", better="lower"),
            Column("p95 itl (ms)", "ms", better="lower"),
            Column("p95 stream end (ms)", "ms", better="lower"),
            Column("Refused", "int", better="lower"),
            Column("Locust CPU p95 %", "float"),
            Column("Verdict"),
        ],
        rows=rows,
        caption="Each load is a whole run in its own folder (loadtest/sweep/<load>/, with its "
        "run.json and Locust files). Achieved /s: conversations started per second (open "
        "loop). 95% CI: the Wilson interval of the goodput share from the count of requests "
        "alone (the requests of one run are not independent, so the spread between runs is "
        "wider). Percentiles are of the measured turns' records, nearest rank; itl over every "
        "gap. Locust CPU: the busiest Locust process's p95 (near 100%, Locust is the limit).",
    )
