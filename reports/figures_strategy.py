"""Figures of the sort-key strategies section: throughput and p95 by concurrent writers, and
the correctness counters. What a strategy promised (dashed lines for the unsafe ones) comes
from the run's ``strategies.json``, never from the store's code of today."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Final

from chatkit_pg.harness.vocabulary import (
    HOT_THREAD,
    SCENARIO_TITLES,
    SCENARIOS,
    SORT_KEY,
    STORE,
)

from .document import Figure
from .figures import (
    PALETTE,
    SQUARE,
    WIDE,
    color,
    concurrency_axis,
    log_if_wide,
    plt,
    save,
)
from .load import Results


def strategy_series(results: Results, metric: str) -> dict[str, dict[str, list[tuple[int, float]]]]:
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


# metric -> (figure name, title, y label)
STRATEGY_FIGURES: Final = {
    "ops": (
        "strategy_throughput",
        "Sort-key strategies: add_thread_item throughput",
        "throughput (ops/s)",
    ),
    "p95": (
        "strategy_p95",
        "Sort-key strategies: add_thread_item p95 latency",
        "p95 latency (ms)",
    ),
}


def _strategy_figure(results: Results, folder: Path, metric: str) -> Figure | None:
    name, title, ylabel = STRATEGY_FIGURES[metric]
    series = strategy_series(results, metric)
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
            ax.plot(xs, ys, style, marker="o", color=color(strategy, names), label=label)
        concurrency_axis(ax, (c for pts in series[scenario].values() for c, _ in pts))
        log_if_wide(ax, values)
        ax.set_title(SCENARIO_TITLES.get(scenario, scenario))
        ax.set_xlabel("concurrent writers")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel(ylabel)
    axes[-1].legend(fontsize="small", loc="best")
    fig.suptitle(title)
    return save(fig, folder, name, title, "Dashed lines: strategies without the guarantees.")


def strategy_throughput(results: Results, folder: Path) -> Figure | None:
    """add_thread_item ops/s vs concurrent writers, hot thread and spread."""
    return _strategy_figure(results, folder, "ops")


def strategy_p95(results: Results, folder: Path) -> Figure | None:
    """add_thread_item p95 latency vs concurrent writers, hot thread and spread."""
    return _strategy_figure(results, folder, "p95")


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
    return save(
        fig,
        folder,
        "strategy_correctness",
        "Correctness counters per strategy",
        "Summed over the bench runs and the race matrix; retries are the cost of unique_retry.",
    )
