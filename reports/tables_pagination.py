"""The pagination section's table: one page by query, method, size, order and depth."""

from __future__ import annotations

from chatkit_pg.harness.vocabulary import (
    ITEMS_PAGE,
    THREADS_PAGE,
)

from .document import Column, Table
from .load import Results
from .table_columns import latencies, latency_columns


def pagination_table(results: Results) -> Table | None:
    rows = [
        [
            b.kind.replace("_", " ") if b.kind else "",
            b.get("method"),
            b.get("page_size"),
            b.get("order"),
            b.get("depth"),
            *latencies(b),
        ]
        for b in results.of_kind(ITEMS_PAGE) + results.of_kind(THREADS_PAGE)
    ]
    if not rows:
        return None
    rows.sort(key=lambda r: (str(r[0]), str(r[1]), r[2] or 0, str(r[3]), r[4] or 0))
    return Table(
        id="pagination",
        title="One page of load_thread_items / load_threads by depth",
        columns=[
            Column("Query", key=True),
            Column("Method", key=True),
            Column("Page size", "int", key=True),
            Column("Order", key=True),
            Column("Depth (rows skipped)", "int", key=True),
            *latency_columns(),
        ],
        rows=rows,
    )
