"""The capacity sweep's figure: goodput share and p95 of ttft, itl and stream end against
the load (``loadtest/sweep.json``), with the goodput target and the knee marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from .document import Figure
from .figures import PALETTE, log_if_wide, plt, save
from .load import LoadTest
from .tables_goodput import slo_limits_text

# sweep.json point key -> label of its line on the latency panel.
P95_LINES: Final = {
    "ttft_p95_ms": "p95 time to first token",
    "itl_p95_ms": "p95 inter-token latency",
    "e2e_p95_ms": "p95 stream end",
}


def _share_percent(point: dict[str, Any], key: str) -> float | None:
    value = point.get(key)
    return None if value is None else 100.0 * value


def sweep_goodput(lt: LoadTest, folder: Path) -> Figure | None:
    """Top: goodput share of requests (and of turns) per load, the target as a line. Bottom:
    the turns' p95 per load. The knee (the highest load at the target) is a green line on
    both, the first load below the target a red X."""
    sweep = lt.sweep
    points = [p for p in (sweep or {}).get("points") or () if p.get("load") is not None]
    if not sweep or len(points) < 2:
        return None
    unit = sweep.get("unit") or "load"
    knee = sweep.get("knee") or {}
    target = knee.get("target")
    loads = [p["load"] for p in points]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.4), sharex=True, layout="constrained")
    top.plot(loads, [_share_percent(p, "goodput_share") for p in points], "o-",
             color=PALETTE[0], label="requests meeting every SLO")  # fmt: skip
    top.plot(loads, [_share_percent(p, "turns_share") for p in points], "s:",
             color=PALETTE[1], label="streamed turns meeting every SLO")  # fmt: skip
    if isinstance(target, int | float):
        top.axhline(100 * target, color=PALETTE[3], ls="--", lw=1, label=f"target {target:.0%}")
    top.set_ylabel("goodput (% of requests)")
    top.set_ylim(top=101)
    top.grid(True, alpha=0.3)
    achieved = [p.get("achieved_rate_per_s") for p in points]
    handles, labels = top.get_legend_handles_labels()
    legend_axis = top
    if any(a is not None for a in achieved):  # open loop: what the server was really sent
        rate = top.twinx()
        rate.plot(loads, achieved, "^:", color="grey", label=f"achieved ({unit})")
        rate.set_ylabel(f"achieved ({unit})")
        rate.set_ylim(bottom=0)
        extra = rate.get_legend_handles_labels()
        handles, labels = handles + extra[0], labels + extra[1]
        legend_axis = rate  # drawn last, so the legend stays above every line
    latencies: list[float] = []
    for n, (key, label) in enumerate(P95_LINES.items()):
        ys = [p.get(key) for p in points]
        latencies.extend(y for y in ys if y)
        bottom.plot(loads, ys, "o-", color=PALETTE[n + 4], label=label)
        limit = (sweep.get("slo") or {}).get(key.split("_")[0])
        if isinstance(limit, int | float):  # the SLO limit of the same metric, same colour
            bottom.axhline(limit, color=PALETTE[n + 4], ls="--", lw=1, alpha=0.6)
            latencies.append(limit)
    log_if_wide(bottom, latencies)
    bottom.set_ylabel("ms")
    bottom.set_xlabel(f"offered load ({unit})")
    bottom.grid(True, which="both", alpha=0.3)
    held, broken = knee.get("load"), knee.get("broken_at")
    for ax in (top, bottom):
        if held is not None:
            ax.axvline(held, color=PALETTE[2], lw=2, alpha=0.7)
    if held is not None:
        top.annotate(f"knee: {held:g} {unit}", xy=(held, 100 * (target or 1)), xytext=(6, -28),
                     textcoords="offset points", fontsize="small", color=PALETTE[2])  # fmt: skip
    for point in points:
        if point["load"] == broken and point.get("goodput_share") is not None:
            top.plot([broken], [100 * point["goodput_share"]], "X", color=PALETTE[3], ms=11)
    legend_axis.legend(handles, labels, loc="lower left", fontsize="small", framealpha=0.9)
    bottom.legend(loc="upper left", fontsize="small")
    slo = slo_limits_text(sweep) or "none given"
    fig.suptitle(f"Capacity sweep: goodput and p95 per load (SLO {slo})")
    caption = (
        "The green line is the knee: the highest load at the target with every load below "
        "it. Dashed lines below: the SLO limit of the metric of the same colour. Goodput "
        "holds a turn's largest gap to the itl limit, so it can miss while p95 itl is below."
    )
    if broken is not None:
        caption += f" The red X is the first load below the target ({broken:g} {unit})."
    return save(fig, folder, "sweep_goodput", "Capacity sweep: goodput and p95 per load", caption)
