"""Key-value tables of any JSON object: the conditions and the load-test settings, secrets
masked by their names."""

from __future__ import annotations

from typing import Any

from .document import Column, Table
from .mask import redact_setting


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested dicts as ``(dotted.key, leaf)`` pairs; lists joined with commas."""
    if isinstance(value, dict):
        out: list[tuple[str, Any]] = []
        for key, inner in value.items():
            out.extend(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        return [(prefix, ", ".join(str(v) for v in value))]
    return [(prefix, value)]


def key_value_table(table_id: str, title: str, source: dict[str, Any] | None) -> Table | None:
    """A two-column table of any JSON object (conditions, run settings)."""
    if not source:
        return None
    return Table(
        id=table_id,
        title=title,
        columns=[Column("Setting", key=True), Column("Value")],
        rows=[[k, redact_setting(k, v)] for k, v in flatten(source)],
        foldable=False,
    )
