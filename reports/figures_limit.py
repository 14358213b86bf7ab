"""Figures of the "against the limit" section: each insert layer against pgbench, and one
hot thread's scaling against the database's own. The default strategy is the one the run
recorded."""

from __future__ import annotations

from pathlib import Path

from chatkit_pg.harness.vocabulary import (
    HOT_THREAD,
    LIMIT,
    LIMIT_METHODS,
    PGBENCH_COUNTER,
    PGBENCH_INSERT,
    limit_label,
)

from .document import Figure
from .figures import (
    PALETTE,
    SQUARE,
    concurrency_axis,
    plt,
    save,
)
from .figures_strategy import strategy_series
from .load import Results


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
    return save(fig, folder, "limit_paths", "Insert throughput of each layer, 1 client")


def limit_contention(results: Results, folder: Path) -> Figure | None:
    """Hot-thread throughput relative to one client: the store vs pgbench's counter script."""
    lines: dict[str, list[tuple[int, float]]] = {}
    default = results.default_strategy  # as the run recorded it; None without strategies.json
    store_points = strategy_series(results, "ops").get(HOT_THREAD, {}).get(default or "")
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
    concurrency_axis(ax, (c for pts in lines.values() for c, _ in pts))
    ax.set_xlabel("concurrent writers / pgbench clients")
    ax.set_ylabel("throughput relative to 1 writer (x)")
    ax.set_title("Contention on one thread: scaling vs the database's own")
    ax.legend()
    ax.grid(True, alpha=0.3)
    return save(fig, folder, "limit_contention", "Hot-thread scaling vs pgbench")
