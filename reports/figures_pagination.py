"""The pagination section's figure: page latency by depth, keyset against OFFSET."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from chatkit_pg.harness.vocabulary import (
    ITEMS_PAGE,
    KEYSET,
)

from .document import Figure
from .figures import (
    WIDE,
    color,
    plain_log_ticks,
    plt,
    save,
)
from .load import Results


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
                color=color(method, methods),
                label=f"{method} {order}".strip(),
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)
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
    return save(
        fig,
        folder,
        "pagination",
        "Page latency vs depth",
        "Keyset stays flat; OFFSET reads and discards every skipped row.",
    )
