"""chatkit_pg.reports: one report from saved results only (plotting never measures).

    from chatkit_pg.reports import build_report
    html = build_report(Path("results/20250101-120000"), baseline=Path("results/older"))

``python -m chatkit_pg.reports RESULTS_DIR [--baseline DIR]`` and ``chatkit-pg report`` do the
same. Names are imported on first use, so the CLI's discovery does not pay for matplotlib.
The report reads files only: it imports matplotlib and the harness's plain-Python
``results`` and ``vocabulary``, never chatkit, SQLAlchemy or a database driver.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DEFAULT_THRESHOLD": "compare",
    "BuiltReport": "build",
    "build": "build",
    "build_report": "build",
    "ReportInputError": "errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
