"""What the code under measurement promised, written beside the measurements.

The report judges a run by what it recorded, never by today's code: every producer that
measures sort-key strategies writes :func:`strategy_catalog` into the run's
``strategies.json``, so an old baseline keeps the guarantees it was measured with.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from chatkit_pg.strategies import DEFAULT_STRATEGY, STRATEGIES

from .results import RunFolder


def strategy_catalog() -> dict[str, Any]:
    """Every strategy's description and guarantees, and which one is the default."""
    return {
        "default": DEFAULT_STRATEGY,
        "strategies": {
            name: {"description": cls.description, "guarantees": asdict(cls.guarantees)}
            for name, cls in STRATEGIES.items()
        },
    }


def write_strategy_catalog(folder: RunFolder, conditions: dict[str, Any]) -> Path:
    """Write ``strategies.json`` (the same content from every producer of one commit)."""
    return folder.write_json(RunFolder.STRATEGIES_FILE, strategy_catalog(), conditions)
