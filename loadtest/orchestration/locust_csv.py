"""The one reader of Locust's CSV files (``--csv PREFIX``): stats, history, failures.

Dependency-free on purpose (the standard library and the vocabulary only), so the reports,
which import no store, chatkit or database driver, read Locust's files through it too.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Final

from chatkit_pg.harness.vocabulary import (
    HTTP_5XX,
    LOCUST_TOTAL_NAME,
    PERCENTILES,
    SSE_TYPE,
    STREAM_PERCENTILES,
    STREAMING_REQUESTS,
    TIMING_PREFIXES,
    TOKENS_PREFIX,
    bench_percentile_key,
    locust_percentile_column,
)


class NotLocustCsv(ValueError):
    """A file that cannot be read as the Locust CSV it should be."""


def read_rows(path: Path, required: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """The rows of one Locust CSV; :class:`NotLocustCsv` when unreadable or a column of
    ``required`` is missing."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            absent = [c for c in required if c not in header]
            if absent:
                raise NotLocustCsv(
                    f"{path}: not a Locust CSV: missing column(s) {', '.join(absent)} "
                    f"(header: {', '.join(header) or 'empty'})"
                )
            return list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise NotLocustCsv(f"{path}: cannot read as CSV: {exc}") from exc


ROW_PERCENTILES: Final = tuple(sorted({*PERCENTILES, *STREAM_PERCENTILES}))


def summarize_stats(stats_csv: Path) -> list[dict[str, Any]]:
    """Per request type: count, failures, requests/s and the percentiles (ms) of
    :data:`ROW_PERCENTILES` from the stats CSV."""
    if not stats_csv.exists():
        return []
    return [
        {
            "type": row["Type"],
            "name": row["Name"],
            "requests": int(row["Request Count"]),
            "failures": int(row["Failure Count"]),
            "rps": float(row["Requests/s"]),
            **{
                bench_percentile_key(p): float(row[locust_percentile_column(p)] or 0)
                for p in ROW_PERCENTILES
            },
        }
        for row in read_rows(stats_csv)
    ]


def total(rows: list[dict[str, Any]], column: str) -> int:
    """``column`` (``requests`` or ``failures``) over the HTTP requests: Locust's total row
    also counts the ``SSE`` timing samples (seven inter-token gaps a reply of eight deltas),
    which are measurements of a request, not requests."""
    return sum(r[column] for r in rows if r["type"] != SSE_TYPE and r["name"] != LOCUST_TOTAL_NAME)


def timings(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per streamed request type: count and the :data:`STREAM_PERCENTILES` of each timing
    (ms) and of tokens/s (``{"count": n, "p50": .., "p90": .., ...}``, None when absent).

    Computed once here, recorded in ``run.json``; the report reads that record."""
    found = {r["name"]: r for r in rows if r["type"] == SSE_TYPE}
    table = []
    for kind in STREAMING_REQUESTS:
        entry: dict[str, Any] = {"request": kind}
        for prefix in (*TIMING_PREFIXES, TOKENS_PREFIX):
            row = found.get(f"{prefix}{kind}")
            key = prefix.strip().replace("/", "_per_")
            entry[key] = (
                {
                    "count": row["requests"],
                    **{f"p{p}": row[bench_percentile_key(p)] for p in STREAM_PERCENTILES},
                }
                if row
                else None
            )
        table.append(entry)
    return table


def aggregated(rows: list[dict[str, Any]], column: str) -> int:
    """``column`` of Locust's own total row, SSE samples included: what its history's
    aggregated rows count, for placing the last requests after the history."""
    return sum(r[column] for r in rows if r["name"] == LOCUST_TOTAL_NAME)


def total_history(history_csv: Path) -> list[tuple[float, int, int]]:
    """(timestamp, total requests, total failures) of the aggregated history rows, in order."""
    if not history_csv.exists():
        return []
    return sorted(
        (
            float(row["Timestamp"]),
            int(row["Total Request Count"]),
            int(row["Total Failure Count"]),
        )
        for row in read_rows(history_csv)
        if row.get("Name") == LOCUST_TOTAL_NAME
    )


def internal_errors(failures_csv: Path) -> int:
    """Failures that were HTTP 500s (a database restart should give 503s, never 500s)."""
    if not failures_csv.exists():
        return 0
    return sum(
        int(row["Occurrences"])
        for row in read_rows(failures_csv)
        if f"{HTTP_5XX}: 500" in row["Error"]
    )
