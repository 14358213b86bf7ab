"""Tables of the "against the limit" section: goal ratios, the store against its floor, and
every insert path beside pgbench."""

from __future__ import annotations

from typing import Any

from chatkit_pg.harness.vocabulary import (
    FLOOR_GOALS,
    LIMIT,
    LIMIT_METHODS,
    SUMMARY_GOALS,
    limit_label,
    summary_goal,
    summary_value,
)

from .document import Better, Column, Table
from .load import Results


def _meets(value: float, goal: tuple[str, float]) -> bool:
    """Whether ``value`` meets a goal ``(">=" or "<=", target)``."""
    op, target = goal
    return value >= target if op == ">=" else value <= target


def _goal_text(goal: tuple[str, float] | None) -> str:
    return "" if goal is None else f"{goal[0]} {goal[1]:.2f}"


def summary_goals_table(results: Results) -> Table | None:
    summary = results.summary
    if not summary:
        return None
    rows: list[list[Any]] = []
    row_better: dict[int, Better] = {}
    for path, (_, _, label) in SUMMARY_GOALS.items():
        value = summary_value(summary, path)
        if value is None:
            continue
        goal = summary_goal(summary, path)
        if not isinstance(value, int | float):
            goal = None
        met = _meets(value, goal) if goal is not None else None
        if SUMMARY_GOALS[path][0] == "<=":
            row_better[len(rows)] = "lower"
        rows.append([label, value, _goal_text(goal), met])
    if not rows:
        return None
    return Table(
        id="limit_ratios",
        title="Ratios against the limit (bench/summary.json)",
        columns=[
            Column("Measure", key=True),
            Column("Ratio", "ratio", better="higher"),
            Column("Goal"),
            Column("Met", "bool"),
        ],
        rows=rows,
        row_better=row_better,
        caption="The goals this project holds the store to, as ratios measured in this run.",
    )


def floors_table(results: Results) -> Table | None:
    """The store against its floor, interleaved: ratio, 95% interval, goal, and whether the
    whole interval meets it (met), misses it (missed) or straddles it (undecided)."""
    section = (results.comparisons or {}).get("floors")
    if not section:
        return None
    rows: list[list[Any]] = []
    for group, contenders in section["groups"].items():
        store = next((e for name, e in contenders.items() if "ratio_to_baseline" in e), None)
        if store is None:
            continue
        ratio = store["ratio_to_baseline"]
        goal = FLOOR_GOALS.get(group)
        verdict = None
        if goal is not None:
            inside = [_meets(bound, goal) for bound in (ratio["low"], ratio["high"])]
            verdict = "met" if all(inside) else ("missed" if not any(inside) else "undecided")
        floor = (section.get("floors") or {}).get(group, "")
        rows.append(
            [group, ratio["value"], f"[{ratio['low']:.3f}, {ratio['high']:.3f}]",
             _goal_text(goal), verdict, floor]
        )  # fmt: skip
    if not rows:
        return None
    return Table(
        id="floor_ratios",
        title="The store against its floor (interleaved rounds, 95% intervals)",
        columns=[
            Column("Path", key=True),
            Column("Store / floor", "ratio"),
            Column("95% interval"),
            Column("Goal"),
            Column("Goal met"),
            Column("Floor"),
        ],
        rows=rows,
        caption="Appends as throughput (higher is better), pages as latency (lower is better); "
        "a goal is met only when the whole interval meets it.",
    )


def limit_paths_table(results: Results) -> Table | None:
    rows: list[list[Any]] = []
    order = {m: n for n, m in enumerate(LIMIT_METHODS)}
    limits = sorted(
        results.of_kind(LIMIT),
        key=lambda b: (
            order.get(b.get("method"), 99),
            str(b.get("query")),
            b.get("concurrency") or 1,
        ),
    )
    for b in limits:
        rows.append(
            [
                limit_label(b.get("method"), b.get("query")),
                b.get("concurrency") or 1,
                b.ops_per_s,
                b.latency_ms(50),
            ]
        )
    for run in results.pgbench or ():
        rows.append(
            [
                f"pgbench {run.get('script')}",
                run.get("clients"),
                run.get("tps"),
                run.get("latency_avg_ms"),
            ]
        )
    if not rows:
        return None
    return Table(
        id="limit_paths",
        title="Insert paths: Python layers against the database's own limit",
        columns=[
            Column("Path", key=True),
            Column("Clients", "int", key=True),
            Column("Throughput (ops/s)", "ops", better="higher"),
            Column("Latency p50 / avg (ms)", "ms", better="lower"),
        ],
        rows=rows,
        caption="pgbench rows report average latency (its own -M prepared runs, same database).",
    )
