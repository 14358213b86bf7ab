"""Figures of the index section: read latency per query, and what each layout costs writes
and space."""

from __future__ import annotations

from pathlib import Path

from .document import Figure
from .figures import (
    WIDE,
    color,
    log_if_wide,
    plt,
    save,
)
from .verdict import IndexVerdict


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
        ax.bar(xs, ys, width, label=label, color=color(s.variant, names))
    log_if_wide(ax, [v for s in variants for v in s.read_ms.values()])
    ax.set_xticks(range(len(queries)), queries)
    ax.set_xlabel("query")
    ax.set_ylabel("p50 latency (ms)")
    ax.set_title("Index variants: read latency per query")
    ax.legend(fontsize="small")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    return save(fig, folder, "index_reads", "Read latency per query and index variant")


def index_costs(iv: IndexVerdict, folder: Path) -> Figure | None:
    """Write throughput and table+index size per variant, side by side."""
    variants = [s for s in iv.scores if s.write_ops is not None or s.index_bytes is not None]
    if not variants:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=WIDE, layout="constrained")
    names = [s.variant for s in variants]
    colors = [color(n, [s.variant for s in iv.scores]) for n in names]
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
    return save(fig, folder, "index_costs", "Write throughput and size per index variant")
