"""Baseline comparison: every table gains the baseline value and the change, per measure.

Rows are matched by their key columns; a measured column (one with a ``better`` direction)
regresses when it moved the wrong way by more than the threshold. A counter that was zero
and is not (duplicates, failures) always regresses: its change is infinite.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Final

from .document import Better, Change, Column, Regression, Table

DEFAULT_THRESHOLD: Final = 0.10
"""A measure that got worse by more than this fraction is a regression (the CLI's default)."""


def change_of(current: Any, baseline: Any) -> float | None:
    """Signed relative change, ``inf`` from a zero baseline, ``None`` when not comparable."""
    if not _is_number(current) or not _is_number(baseline):
        return None
    if baseline == 0:
        return 0.0 if current == 0 else math.copysign(math.inf, current)
    return (current - baseline) / abs(baseline)


def is_regression(change: float | None, better: Better, threshold: float) -> bool:
    if change is None:
        return False
    return change < -threshold if better == "higher" else change > threshold


def with_baseline(
    table: Table, baseline: Table | None, threshold: float
) -> tuple[Table, list[Regression]]:
    """Return ``table`` widened with baseline and change columns, and its regressions.

    Args:
        table: the current run's table.
        baseline: the same table (same ``id``) built from the baseline run, or ``None``.
        threshold: relative change beyond which a worse value is a regression (0.10 = 10%).
    """
    measured = [n for n, c in enumerate(table.columns) if c.better is not None]
    if not measured:
        return table, []
    if baseline is None:  # nothing to compare: say so once instead of columns of n/a
        note = "Not in the baseline."
        caption = f"{table.caption} {note}" if table.caption else note
        return replace(table, caption=caption), []
    base_rows = {baseline.key_of(r): r for r in baseline.rows}
    columns: list[Column] = []
    for n, column in enumerate(table.columns):
        columns.append(column)
        if n in measured:
            columns.append(Column("baseline", column.fmt))
            columns.append(Column("change", "change"))
    regressions: list[Regression] = []
    rows: list[list[Any]] = []
    for r, row in enumerate(table.rows):
        key = table.key_of(row)
        base = base_rows.get(key)
        out: list[Any] = []
        for n, value in enumerate(row):
            out.append(value)
            if n not in measured:
                continue
            better = table.row_better.get(r) or table.columns[n].better
            assert better is not None
            base_value: Any = base[n] if base is not None else None
            change = change_of(value, base_value)
            regressed = is_regression(change, better, threshold)
            out.extend([base_value, Change(change, regressed)])
            if regressed:
                assert change is not None and _is_number(base_value)
                regressions.append(
                    Regression(
                        table=table.title,
                        row=" / ".join(str(k) for k in key) or str(r + 1),
                        column=table.columns[n].name,
                        baseline=float(base_value),
                        current=float(value),
                        change=change,
                    )
                )
        rows.append(out)
    widened = Table(
        id=table.id,
        title=table.title,
        columns=columns,
        rows=rows,
        caption=table.caption,
    )
    return widened, regressions


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
