"""The one matplotlib set-up every figure module draws with, and the helpers they share.

One function per figure lives in the module of its section (``figures_strategy``,
``figures_pagination``, ``figures_index``, ``figures_limit``, ``figures_load``), saved
results in, a PNG under ``figures/`` out. matplotlib's explicit API only (``fig, ax =
plt.subplots()`` through ``fig.savefig``), the Agg backend (no display, selected here before
pyplot is imported: the figure modules take ``plt`` from this module), and every figure with
a title, axis labels with units and a legend. Each function returns ``None`` when its data
are missing; plotting never measures.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import matplotlib

matplotlib.use("Agg")  # no display; must run before pyplot is imported

import matplotlib.pyplot as plt
from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from chatkit_pg.harness.results import RunFolder

from .document import Figure

__all__ = [
    "DPI",
    "FIGURES_DIR",
    "PALETTE",
    "PERCENTILE_STYLE",
    "SQUARE",
    "WIDE",
    "color",
    "concurrency_axis",
    "log_if_wide",
    "plain_log_ticks",
    "plt",
    "save",
]

FIGURES_DIR: Final = RunFolder.FIGURES_DIR
DPI: Final = 110
WIDE: Final = (10.0, 4.2)
SQUARE: Final = (8.0, 4.6)
PALETTE: Final = tuple(plt.get_cmap("tab10")(n) for n in range(10))
PERCENTILE_STYLE: Final = {50: "-", 95: "--", 99: ":"}


def color(name: str, names: list[str]) -> Any:
    """``name``'s colour, stable across a figure's panels (its place in ``names``)."""
    return PALETTE[names.index(name) % len(PALETTE)] if name in names else "grey"


def save(fig: MplFigure, folder: Path, name: str, title: str, caption: str = "") -> Figure:
    """Write ``fig`` as ``figures/<name>.png`` in ``folder``, close it, return its block."""
    path = folder / FIGURES_DIR / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return Figure(path=Path(FIGURES_DIR) / path.name, title=title, caption=caption)


def concurrency_axis(ax: Any, values: Iterable[int]) -> None:
    """A log2 x axis ticked at exactly the concurrencies measured."""
    ticks = sorted(set(values))
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_locator(NullLocator())


def plain_log_ticks(axis: Any) -> None:
    """Label a log axis 1, 2, 5, 10, 20 ... instead of 2x10^0."""
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25" else ""))


def log_if_wide(ax: Any, values: Iterable[float], axis: str = "y") -> None:
    """Log scale when the values span more than a decade."""
    positive = [v for v in values if v and v > 0]
    if positive and max(positive) / min(positive) > 10:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
        plain_log_ticks(ax.yaxis if axis == "y" else ax.xaxis)
