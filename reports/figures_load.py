"""Figures of the load-test section: the run over time, percentiles per request type, the
time-to-first-event distribution, failures by kind and the capacity ramp."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from matplotlib.ticker import MaxNLocator

from chatkit_pg.harness.vocabulary import (
    LOCUST_TOTAL_NAME,
    PERCENTILES,
    SSE_TYPE,
    TTFE_PREFIX,
    locust_percentile_column,
)

from .document import Figure
from .figures import (
    PALETTE,
    PERCENTILE_STYLE,
    SQUARE,
    WIDE,
    log_if_wide,
    plain_log_ticks,
    plt,
    save,
)
from .load import LoadTest, csv_number
from .tables_load import failures_by_kind

_PERCENT_COLUMN = re.compile(r"^(\d+(?:\.\d+)?)%$")


def _history_rows(lt: LoadTest) -> list[dict[str, str]]:
    return [r for r in lt.history or () if r.get("Name") == LOCUST_TOTAL_NAME]


def load_over_time(lt: LoadTest, folder: Path) -> Figure | None:
    """Requests/s, failures/s, users and p50/p95 over the run (Locust's stats history)."""
    rows = _history_rows(lt)
    stamps = [csv_number(r, "Timestamp") for r in rows]
    rows = [r for r, t in zip(rows, stamps, strict=True) if t is not None]
    if len(rows) < 2:
        return None
    start = min(csv_number(r, "Timestamp") or 0 for r in rows)
    t = [(csv_number(r, "Timestamp") or 0) - start for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, layout="constrained")
    top.plot(t, [csv_number(r, "Requests/s") for r in rows], color=PALETTE[0], label="requests/s")
    top.plot(t, [csv_number(r, "Failures/s") for r in rows], color=PALETTE[3], label="failures/s")
    top.set_ylabel("rate (1/s)")
    users = top.twinx()
    users.plot(t, [csv_number(r, "User Count") for r in rows], color="grey", ls=":", label="users")
    users.set_ylabel("simulated users")
    handles = top.get_legend_handles_labels()
    extra = users.get_legend_handles_labels()
    top.legend(handles[0] + extra[0], handles[1] + extra[1], loc="lower right", fontsize="small")
    top.grid(True, alpha=0.3)
    latencies: list[float] = []
    for p in PERCENTILES[:2]:
        ys = [csv_number(r, locust_percentile_column(p)) for r in rows]
        latencies.extend(y for y in ys if y)
        bottom.plot(t, ys, PERCENTILE_STYLE[p], color=PALETTE[1], label=f"p{p}")
    log_if_wide(bottom, latencies)
    bottom.set_ylabel("response time (ms)")
    bottom.set_xlabel("time since start (s)")
    bottom.legend(fontsize="small")
    bottom.grid(True, which="both", alpha=0.3)
    when = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M UTC")
    fig.suptitle(f"Load test over time (all requests, from {when})")
    return save(fig, folder, "load_over_time", "Requests/s and latency over time")


def load_percentiles(lt: LoadTest, folder: Path) -> Figure | None:
    """p50/p95/p99 per ChatKit request type (horizontal bars, log scale)."""
    rows = [
        r
        for r in lt.stats or ()
        if r.get("Name") != LOCUST_TOTAL_NAME and r.get("Type") != SSE_TYPE
    ]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(rows) + 1.8), layout="constrained")
    height = 0.8 / len(PERCENTILES)
    values = []
    for k, p in enumerate(PERCENTILES):
        ys = [csv_number(r, locust_percentile_column(p)) or 0 for r in rows]
        values.extend(ys)
        pos = [n + (k - (len(PERCENTILES) - 1) / 2) * height for n in range(len(rows))]
        ax.barh(pos, ys, height, label=f"p{p}", color=PALETTE[k])
    ax.set_yticks(range(len(rows)), [f"{r.get('Type')} {r.get('Name')}" for r in rows])
    ax.invert_yaxis()
    log_if_wide(ax, values, axis="x")
    ax.set_xlabel("response time (ms)")
    ax.set_title("Response time percentiles per request type")
    ax.legend()
    ax.grid(True, axis="x", which="both", alpha=0.3)
    return save(fig, folder, "load_percentiles", "Percentiles per request type")


def ttfe_distribution(lt: LoadTest, folder: Path) -> Figure | None:
    """Time to first event as a distribution: every percentile Locust saved, as a CDF."""
    rows = [
        r
        for r in lt.stats or ()
        if r.get("Type") == SSE_TYPE and (r.get("Name") or "").startswith(TTFE_PREFIX)
    ]
    if not rows:
        return None
    columns = [(float(m.group(1)), c) for c in rows[0] if (m := _PERCENT_COLUMN.match(c or ""))]
    fig, ax = plt.subplots(figsize=SQUARE, layout="constrained")
    drawn = False
    for n, row in enumerate(rows):
        points = sorted(
            (v, pct) for pct, c in columns if (v := csv_number(row, c)) is not None and v > 0
        )
        if points:
            ax.step(
                [v for v, _ in points],
                [pct for _, pct in points],
                where="post",
                marker=".",
                color=PALETTE[n],
                label=(row.get("Name") or "")[len(TTFE_PREFIX) :],
            )
            drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xscale("log")
    plain_log_ticks(ax.xaxis)
    ax.set_xlabel("time to first event (ms)")
    ax.set_ylabel("requests at or below (%)")
    ax.set_ylim(0, 101)
    ax.set_title("Streaming: time-to-first-event distribution")
    ax.legend(title="request type", fontsize="small")
    ax.grid(True, which="both", alpha=0.3)
    return save(
        fig,
        folder,
        "ttfe_distribution",
        "Time to first event",
        "Cumulative, from the percentiles Locust recorded for each request type.",
    )


def load_failures(lt: LoadTest, folder: Path) -> Figure | None:
    """Failures by kind; ``None`` when there were none (the text says so)."""
    counts = failures_by_kind(lt)
    if not sum(counts.values()):
        return None
    kinds = sorted(counts, key=lambda k: -counts[k])
    fig, ax = plt.subplots(figsize=SQUARE, layout="constrained")
    bars = ax.bar(kinds, [counts[k] for k in kinds], color=PALETTE[3])
    ax.bar_label(bars)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("failure kind")
    ax.set_ylabel("occurrences (requests)")
    ax.set_title("Load-test failures by kind")
    ax.grid(True, axis="y", alpha=0.3)
    return save(fig, folder, "load_failures", "Failures by kind")


def capacity_steps(lt: LoadTest, folder: Path) -> Figure | None:
    """The capacity ramp: p95 of the held request and requests/s per step, the SLO line, the
    knee (the last step within the SLO) marked, the step that broke it in red."""
    capacity = lt.capacity
    steps = [s for s in (capacity or {}).get("steps") or () if s.get("users") is not None]
    if not capacity or not steps:
        return None
    users = [s["users"] for s in steps]
    p95 = [s.get("p95_ms") for s in steps]
    slo = capacity.get("slo_p95_ms")
    fig, ax = plt.subplots(figsize=WIDE, layout="constrained")
    ax.plot(users, p95, "o-", color=PALETTE[1], label=f"p95 {capacity.get('request')}")
    if isinstance(slo, int | float):
        ax.axhline(slo, color=PALETTE[3], ls="--", lw=1, label=f"SLO p95 {slo:g} ms")
    ax.set_xlabel("simulated users (step)")
    ax.set_ylabel("p95 (ms)")
    ax.grid(True, alpha=0.3)
    rate = ax.twinx()
    rate.plot(users, [s.get("rps") for s in steps], "s:", color=PALETTE[0], label="requests/s")
    rate.set_ylabel("requests/s")
    rate.set_ylim(bottom=0)
    sustained, broken = capacity.get("sustained"), capacity.get("broken")
    if sustained and sustained.get("users") is not None:
        ax.axvline(sustained["users"], color=PALETTE[2], lw=2, alpha=0.7)
        ax.annotate(
            f"knee: {sustained['users']} users\n{sustained.get('rps') or 0:.0f} req/s",
            xy=(sustained["users"], sustained.get("p95_ms") or 0),
            xytext=(8, 12),
            textcoords="offset points",
            fontsize="small",
            color=PALETTE[2],
        )
    for step in steps:
        if not step.get("within_slo") and step.get("p95_ms") is not None:
            ax.plot([step["users"]], [step["p95_ms"]], "X", color=PALETTE[3], ms=11, zorder=5)
    handles = ax.get_legend_handles_labels()
    extra = rate.get_legend_handles_labels()
    ax.legend(handles[0] + extra[0], handles[1] + extra[1], loc="upper left", fontsize="small")
    fig.suptitle("Capacity ramp: p95 and requests/s per step")
    caption = "The green line is the knee: the last step within the SLO."
    if broken:
        caption += f" The red X is the step that broke it: {broken.get('reason')}."
    return save(fig, folder, "capacity", "Capacity: p95 and requests/s per step", caption)
