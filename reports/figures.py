"""Figures: one function per figure, saved results in, a PNG under ``figures/`` out.

matplotlib's explicit API only (``fig, ax = plt.subplots()`` through ``fig.savefig``), the Agg
backend (no display), and every figure with a title, axis labels with units and a legend.
Each function returns ``None`` when its data are missing; plotting never measures. What a
strategy promised (dashed lines for the unsafe ones) and which one is the default come from
the run's ``strategies.json`` (:class:`~chatkit_pg.reports.load.Results`), never from the
store's code of today.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import matplotlib

matplotlib.use("Agg")  # no display; must run before pyplot is imported

import matplotlib.pyplot as plt
from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator

from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import (
    HOT_THREAD,
    ITEMS_PAGE,
    KEYSET,
    LIMIT,
    LIMIT_METHODS,
    LOCUST_TOTAL_NAME,
    PERCENTILES,
    PGBENCH_COUNTER,
    PGBENCH_INSERT,
    SCENARIO_TITLES,
    SCENARIOS,
    SORT_KEY,
    SSE_TYPE,
    STORE,
    TTFE_PREFIX,
    limit_label,
    locust_percentile_column,
)

from .document import Figure
from .load import LoadTest, Results, csv_number
from .tables import failures_by_kind
from .verdict import IndexVerdict

FIGURES_DIR: Final = RunFolder.FIGURES_DIR
DPI: Final = 110
WIDE: Final = (10.0, 4.2)
SQUARE: Final = (8.0, 4.6)
PALETTE: Final = tuple(plt.get_cmap("tab10")(n) for n in range(10))
PERCENTILE_STYLE: Final = {50: "-", 95: "--", 99: ":"}
_PERCENT_COLUMN = re.compile(r"^(\d+(?:\.\d+)?)%$")


def _color(name: str, names: list[str]) -> Any:
    return PALETTE[names.index(name) % len(PALETTE)] if name in names else "grey"


def _save(fig: MplFigure, folder: Path, name: str, title: str, caption: str = "") -> Figure:
    path = folder / FIGURES_DIR / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return Figure(path=Path(FIGURES_DIR) / path.name, title=title, caption=caption)


def _concurrency_axis(ax: Any, values: Iterable[int]) -> None:
    ticks = sorted(set(values))
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_locator(NullLocator())


def _plain_log_ticks(axis: Any) -> None:
    """Label a log axis 1, 2, 5, 10, 20 ... instead of 2x10^0."""
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25" else ""))


def _log_if_wide(ax: Any, values: Iterable[float], axis: str = "y") -> None:
    """Log scale when the values span more than a decade."""
    positive = [v for v in values if v and v > 0]
    if positive and max(positive) / min(positive) > 10:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
        _plain_log_ticks(ax.yaxis if axis == "y" else ax.xaxis)


def _strategy_series(
    results: Results, metric: str
) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """scenario -> strategy -> sorted (concurrency, value) for the store's sort_key runs."""
    series: dict[str, dict[str, list[tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
    for b in results.of_kind(SORT_KEY):
        if b.get("method") not in (None, STORE) or not b.get("strategy"):
            continue
        value = b.ops_per_s if metric == "ops" else b.latency_ms(95)
        if value is not None:
            scenario = str(b.get("scenario") or HOT_THREAD)
            series[scenario][str(b.get("strategy"))].append((int(b.get("concurrency") or 1), value))
    for by_strategy in series.values():
        for points in by_strategy.values():
            points.sort()
    return series


def _strategy_label(name: str, results: Results) -> tuple[str, str]:
    """Legend label and line style: unsafe strategies dashed, so fast-but-wrong looks wrong.

    The promises are the run's own (``strategies.json``); unrecorded ones are dotted.
    """
    if results.unknown_guarantees(name) is not None:
        return f"{name} (guarantees unknown)", ":"
    if not results.guarantee(name, "race_free"):
        return f"{name} (not race-free)", "--"
    if not results.guarantee(name, "commit_order"):
        return f"{name} (no commit order)", "--"
    return name, "-"


def _strategy_figure(
    results: Results, folder: Path, metric: str, name: str, title: str, ylabel: str
) -> Figure | None:
    series = _strategy_series(results, metric)
    scenarios = [s for s in SCENARIOS if s in series] + sorted(set(series) - set(SCENARIOS))
    if not scenarios:
        return None
    names = sorted({n for by in series.values() for n in by})
    fig, axes = plt.subplots(1, len(scenarios), figsize=WIDE, sharey=True, layout="constrained")
    axes = [axes] if len(scenarios) == 1 else list(axes)
    values = [v for by in series.values() for pts in by.values() for _, v in pts]
    for ax, scenario in zip(axes, scenarios, strict=True):
        for strategy, points in sorted(series[scenario].items()):
            label, style = _strategy_label(strategy, results)
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, style, marker="o", color=_color(strategy, names), label=label)
        _concurrency_axis(ax, (c for pts in series[scenario].values() for c, _ in pts))
        _log_if_wide(ax, values)
        ax.set_title(SCENARIO_TITLES.get(scenario, scenario))
        ax.set_xlabel("concurrent writers")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel(ylabel)
    axes[-1].legend(fontsize="small", loc="best")
    fig.suptitle(title)
    return _save(fig, folder, name, title, "Dashed lines: strategies without the guarantees.")


def strategy_throughput(results: Results, folder: Path) -> Figure | None:
    """add_thread_item ops/s vs concurrent writers, hot thread and spread."""
    return _strategy_figure(
        results,
        folder,
        "ops",
        "strategy_throughput",
        "Sort-key strategies: add_thread_item throughput",
        "throughput (ops/s)",
    )


def strategy_p95(results: Results, folder: Path) -> Figure | None:
    """add_thread_item p95 latency vs concurrent writers, hot thread and spread."""
    return _strategy_figure(
        results,
        folder,
        "p95",
        "strategy_p95",
        "Sort-key strategies: add_thread_item p95 latency",
        "p95 latency (ms)",
    )


def strategy_correctness(
    results: Results, counters: dict[str, dict[str, int]], folder: Path
) -> Figure | None:
    """Duplicates, failed adds and retries per strategy (bench and race matrix together)."""
    if not counters:
        return None
    names = sorted(counters)
    kinds = ("duplicates", "failed_adds", "retries")
    fig, ax = plt.subplots(figsize=SQUARE, layout="constrained")
    width = 0.8 / len(kinds)
    for k, kind in enumerate(kinds):
        xs = [n + (k - 1) * width for n in range(len(names))]
        ys = [counters[s].get(kind, 0) for s in names]
        bars = ax.bar(xs, ys, width, label=kind.replace("_", " "), color=PALETTE[[3, 1, 7][k]])
        ax.bar_label(bars, labels=[f"{v:,}" if v else "0" for v in ys], fontsize="x-small")
    ax.set_yscale("symlog", linthresh=1)
    top = max((v for c in counters.values() for v in c.values()), default=1)
    ax.set_ylim(0, max(top, 1) * 6)  # headroom for the bar labels on a log axis
    ax.set_xticks(range(len(names)), [_strategy_label(n, results)[0] for n in names])
    ax.tick_params(axis="x", labelrotation=20)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    ax.set_xlabel("sort-key strategy")
    ax.set_ylabel("count (symmetric log)")
    ax.set_title("Correctness: race-free strategies must show 0 duplicates and 0 failed adds")
    ax.legend()
    ax.grid(True, axis="y", alpha=0.3)
    return _save(
        fig,
        folder,
        "strategy_correctness",
        "Correctness counters per strategy",
        "Summed over the bench runs and the race matrix; retries are the cost of unique_retry.",
    )


def pagination(results: Results, folder: Path) -> Figure | None:
    """Page latency vs depth, keyset vs OFFSET, log-log (depth 0 drawn at the axis start)."""
    series: dict[int, dict[tuple[str, str], list[tuple[int, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for b in results.of_kind(ITEMS_PAGE):
        latency = b.latency_ms(50)
        if latency is None or b.get("depth") is None:
            continue
        key = (str(b.get("method")), str(b.get("order") or ""))
        series[int(b.get("page_size") or 0)][key].append((int(b.get("depth")), latency))
    if not series:
        return None
    sizes = sorted(series)
    fig, axes = plt.subplots(1, len(sizes), figsize=WIDE, sharey=True, layout="constrained")
    axes = [axes] if len(sizes) == 1 else list(axes)
    methods = sorted({m for by in series.values() for m, _ in by})
    for ax, size in zip(axes, sizes, strict=True):
        depths: set[int] = set()
        for (method, order), points in sorted(series[size].items()):
            points.sort()
            depths.update(d for d, _ in points)
            xs = [max(d, 1) for d, _ in points]  # depth 0 cannot sit on a log axis
            ax.plot(
                xs,
                [v for _, v in points],
                "-" if order != "asc" else "--",
                marker="o" if method == KEYSET else "s",
                color=_color(method, methods),
                label=f"{method} {order}".strip(),
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain_log_ticks(ax.yaxis)
        ticks = sorted(max(d, 1) for d in depths)
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: "0" if v == 1 else f"{v:,.0f}"))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_title(f"page of {size} items")
        ax.set_xlabel("depth (items before the page)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("p50 latency (ms)")
    axes[-1].legend(fontsize="small")
    fig.suptitle("Pagination: keyset vs OFFSET by depth (log-log)")
    return _save(
        fig,
        folder,
        "pagination",
        "Page latency vs depth",
        "Keyset stays flat; OFFSET reads and discards every skipped row.",
    )


def index_reads(iv: IndexVerdict, folder: Path) -> Figure | None:
    """p50 read latency per query, bars per index variant."""
    queries = sorted({q for s in iv.scores for q in s.read_ms})
    variants = [s for s in iv.scores if s.read_ms]
    if not queries or not variants:
        return None
    fig, ax = plt.subplots(figsize=WIDE, layout="constrained")
    width = 0.8 / len(variants)
    names = [s.variant for s in variants]
    for k, s in enumerate(variants):
        xs = [n + (k - (len(variants) - 1) / 2) * width for n in range(len(queries))]
        ys = [s.read_ms.get(q, 0.0) for q in queries]
        label = s.variant + (" (recommended)" if s is iv.chosen else "")
        ax.bar(xs, ys, width, label=label, color=_color(s.variant, names))
    _log_if_wide(ax, [v for s in variants for v in s.read_ms.values()])
    ax.set_xticks(range(len(queries)), queries)
    ax.set_xlabel("query")
    ax.set_ylabel("p50 latency (ms)")
    ax.set_title("Index variants: read latency per query")
    ax.legend(fontsize="small")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    return _save(fig, folder, "index_reads", "Read latency per query and index variant")


def index_costs(iv: IndexVerdict, folder: Path) -> Figure | None:
    """Write throughput and table+index size per variant, side by side."""
    variants = [s for s in iv.scores if s.write_ops is not None or s.index_bytes is not None]
    if not variants:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=WIDE, layout="constrained")
    names = [s.variant for s in variants]
    colors = [_color(n, [s.variant for s in iv.scores]) for n in names]
    bars = left.bar(names, [s.write_ops or 0 for s in variants], color=colors)
    left.bar_label(bars, labels=[f"{s.write_ops or 0:,.0f}" for s in variants], fontsize="small")
    left.set_ylabel("add_thread_item throughput (ops/s)")
    left.set_xlabel("index variant")
    left.set_title("write cost")
    mib = 2**20
    tables = [(s.table_bytes or 0) / mib for s in variants]
    indexes = [(s.index_bytes or 0) / mib for s in variants]
    right.bar(names, tables, label="tables", color="#9db4c0")
    right.bar(names, indexes, bottom=tables, label="indexes", color="#c2847a")
    right.set_ylabel("size (MiB)")
    right.set_xlabel("index variant")
    right.set_title("table + index size")
    right.set_ylim(0, max(t + i for t, i in zip(tables, indexes, strict=True)) * 1.25 or 1)
    right.legend(loc="upper center", ncols=2)
    for ax in (left, right):
        ax.tick_params(axis="x", labelrotation=15)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle("Index variants: what the reads cost")
    return _save(fig, folder, "index_costs", "Write throughput and size per index variant")


def limit_paths(results: Results, folder: Path) -> Figure | None:
    """One-client insert throughput of each layer, as a fraction of pgbench's."""
    ops: dict[tuple[str, str], float] = {}
    for b in results.of_kind(LIMIT):
        if int(b.get("concurrency") or 1) == 1 and b.ops_per_s is not None:
            ops[(str(b.get("method")), str(b.get("query") or ""))] = b.ops_per_s
    pgbench = next(
        (
            float(r["tps"])
            for r in results.pgbench or ()
            if r.get("script") == PGBENCH_INSERT and r.get("clients") == 1 and r.get("tps")
        ),
        None,
    )
    labels, values = [], []
    if pgbench is not None:
        labels.append("pgbench (-M prepared)")
        values.append(pgbench)
    order = {m: n for n, m in enumerate(LIMIT_METHODS)}
    for method, query in sorted(ops, key=lambda mq: (order.get(mq[0], 99), mq[1])):
        labels.append(limit_label(method, query))
        values.append(ops[(method, query)])
    if len(values) < 2:
        return None
    reference = values[0]
    fig, ax = plt.subplots(figsize=SQUARE, layout="constrained")
    bars = ax.barh(labels[::-1], values[::-1], color=[PALETTE[n] for n in range(len(values))][::-1])
    ax.bar_label(
        bars,
        labels=[f"{v:,.0f} ({v / reference:.2f}x)" for v in values[::-1]],
        padding=3,
        fontsize="small",
    )
    ax.set_xlabel("single-row inserts per second, 1 client (ops/s)")
    ax.set_xlim(0, max(values) * 1.3)
    ax.set_title(f"Against the limit: ratio to {labels[0]}")
    ax.grid(True, axis="x", alpha=0.3)
    return _save(fig, folder, "limit_paths", "Insert throughput of each layer, 1 client")


def limit_contention(results: Results, folder: Path) -> Figure | None:
    """Hot-thread throughput relative to one client: the store vs pgbench's counter script."""
    lines: dict[str, list[tuple[int, float]]] = {}
    default = results.default_strategy  # as the run recorded it; None without strategies.json
    store_points = _strategy_series(results, "ops").get(HOT_THREAD, {}).get(default or "")
    if store_points:
        lines[f"store ({default}), one hot thread"] = store_points
    counter = sorted(
        (int(r["clients"]), float(r["tps"]))
        for r in results.pgbench or ()
        if r.get("script") == PGBENCH_COUNTER and r.get("clients") and r.get("tps")
    )
    if counter:
        lines[f"pgbench {PGBENCH_COUNTER}"] = counter
    lines = {k: v for k, v in lines.items() if any(c == 1 for c, _ in v)}
    if not lines:
        return None
    fig, ax = plt.subplots(figsize=SQUARE, layout="constrained")
    for n, (label, points) in enumerate(lines.items()):
        one = dict(points)[1]
        ax.plot(
            [c for c, _ in points],
            [v / one for _, v in points],
            "-o",
            label=label,
            color=PALETTE[n],
        )
    ax.axhline(1.0, color="grey", lw=0.8)
    _concurrency_axis(ax, (c for pts in lines.values() for c, _ in pts))
    ax.set_xlabel("concurrent writers / pgbench clients")
    ax.set_ylabel("throughput relative to 1 writer (x)")
    ax.set_title("Contention on one thread: scaling vs the database's own")
    ax.legend()
    ax.grid(True, alpha=0.3)
    return _save(fig, folder, "limit_contention", "Hot-thread scaling vs pgbench")


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
    _log_if_wide(bottom, latencies)
    bottom.set_ylabel("response time (ms)")
    bottom.set_xlabel("time since start (s)")
    bottom.legend(fontsize="small")
    bottom.grid(True, which="both", alpha=0.3)
    when = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M UTC")
    fig.suptitle(f"Load test over time (all requests, from {when})")
    return _save(fig, folder, "load_over_time", "Requests/s and latency over time")


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
    _log_if_wide(ax, values, axis="x")
    ax.set_xlabel("response time (ms)")
    ax.set_title("Response time percentiles per request type")
    ax.legend()
    ax.grid(True, axis="x", which="both", alpha=0.3)
    return _save(fig, folder, "load_percentiles", "Percentiles per request type")


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
    _plain_log_ticks(ax.xaxis)
    ax.set_xlabel("time to first event (ms)")
    ax.set_ylabel("requests at or below (%)")
    ax.set_ylim(0, 101)
    ax.set_title("Streaming: time-to-first-event distribution")
    ax.legend(title="request type", fontsize="small")
    ax.grid(True, which="both", alpha=0.3)
    return _save(
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
    return _save(fig, folder, "load_failures", "Failures by kind")


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
    return _save(fig, folder, "capacity", "Capacity: p95 and requests/s per step", caption)
