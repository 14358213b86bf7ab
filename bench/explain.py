"""Plans and sizes as result files: EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) and pg sizes.

EXPLAIN runs the exact statement and parameters the store sends. It plans with the actual
parameter values (a custom plan), which is also what the store's prepared statements use for
their first executions; PostgreSQL may switch a long-lived prepared statement to a generic
plan later, which EXPLAIN here does not show.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg

from chatkit_pg.harness.results import RunFolder, write_json

from .variants import SIZES_SQL, TABLES


def _nodes(plan: dict[str, Any]) -> Iterator[str]:
    yield str(plan.get("Node Type"))
    for child in plan.get("Plans") or ():
        yield from _nodes(child)


async def explain(conn: asyncpg.Connection, statement: str, params: Sequence[Any]) -> dict:
    """Run ``statement`` under EXPLAIN ANALYZE and summarise the plan it used.

    Returns:
        ``{"node_types", "shared_hit", "shared_read", "execution_ms", "plan"}``; node types
        in pre-order (outer before inner), buffers of the top node (which include its
        children's).
    """
    raw = await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {statement}", *params)
    document = json.loads(raw) if isinstance(raw, str) else raw
    top = document[0]
    plan = top["Plan"]
    return {
        "node_types": list(_nodes(plan)),
        "shared_hit": int(plan.get("Shared Hit Blocks", 0)),
        "shared_read": int(plan.get("Shared Read Blocks", 0)),
        "execution_ms": float(top.get("Execution Time", 0.0)),
        "plan": document,
    }


def write_plan(
    folder: RunFolder,
    variant: str,
    query: str,
    summary: dict[str, Any],
    conditions: dict[str, Any],
) -> Path:
    """Write ``bench/plans/<variant>/<query>.json`` in the results layout."""
    document = {"variant": variant, "query": query, **summary}
    return write_json(folder.plan_file(variant, query), document, conditions)


async def table_sizes(conn: asyncpg.Connection) -> dict[str, dict[str, Any]]:
    """``{table: {"table_bytes", "index_bytes", "indexes": {name: bytes}}}`` for our tables."""
    rows = await conn.fetch(SIZES_SQL, list(TABLES))
    return {
        row["table_name"]: {
            "table_bytes": int(row["table_bytes"]),
            "index_bytes": int(row["index_bytes"]),
            "indexes": {k: int(v) for k, v in json.loads(row["indexes"]).items()},
        }
        for row in rows
    }


def write_sizes(
    folder: RunFolder, sizes: dict[str, dict[str, Any]], conditions: dict[str, Any]
) -> Path:
    """(Re)write ``bench/sizes.json`` with every variant measured so far."""
    return folder.write_json(RunFolder.SIZES_FILE, {"variants": sizes}, conditions)
