"""Tables of the load-test section: requests, streamed timings as run.json recorded them,
failures by kind, the capacity ramp and the integrity check."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Final

from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import (
    FAILURE_KINDS,
    LOCUST_TOTAL_NAME,
    OTHER_FAILURE,
    PERCENTILES,
    SSE_TYPE,
    STREAM_PERCENTILES,
    TIMING_PREFIXES,
    TIMING_TITLES,
    TOKENS_PREFIX,
    locust_percentile_column,
)
from chatkit_pg.loadtest.orchestration.locust_csv import timings

from .document import Better, Column, Table
from .load import LoadTest, csv_number
from .table_columns import latency_columns


def _request_row(row: dict[str, str], kind: str | None = None) -> list[Any]:
    """One row of Locust's stats CSV as a table row; ``kind`` overrides its Type."""
    return [
        kind if kind is not None else row.get("Type"),
        row.get("Name"),
        csv_number(row, "Request Count"),
        csv_number(row, "Failure Count"),
        csv_number(row, "Requests/s"),
        *(csv_number(row, locust_percentile_column(p)) for p in PERCENTILES),
        csv_number(row, "Max Response Time"),
    ]


def _request_rows(lt: LoadTest, sse: bool) -> list[list[Any]]:
    return [
        _request_row(row)
        for row in lt.stats or ()
        if row.get("Name") != LOCUST_TOTAL_NAME and (row.get("Type") == SSE_TYPE) == sse
    ]


def _request_columns(first: str) -> list[Column]:
    return [
        Column("Type", key=True),
        Column(first, key=True),
        Column("Requests", "int"),
        Column("Failures", "int", better="lower"),
        Column("Requests/s", "float", better="higher"),
        *latency_columns(),
        Column("Max (ms)", "ms"),
    ]


def load_requests_table(lt: LoadTest) -> Table | None:
    rows = _request_rows(lt, sse=False)
    if not rows:
        return None
    total = next((r for r in lt.stats or () if r.get("Name") == LOCUST_TOTAL_NAME), None)
    if total is not None:
        rows.append(_request_row(total, kind="all"))
    return Table(
        id="load_requests",
        title="Requests per ChatKit request type (Locust)",
        columns=_request_columns("Request type"),
        rows=rows,
        caption="Locust times these until the response headers; streams are timed below.",
    )


def load_sse_table(lt: LoadTest) -> Table | None:
    rows = _request_rows(lt, sse=True)
    if not rows:
        return None
    return Table(
        id="load_sse",
        title="Streaming entries as Locust recorded them",
        columns=_request_columns("Timing"),
        rows=rows,
        caption="ttfe: first event; ttft: first assistant token; stream: stream end. The "
        "tokens/s rows hold text deltas per second in their time columns, not milliseconds.",
    )


TIMED: Final = (*TIMING_PREFIXES, TOKENS_PREFIX)
"""The streamed timings in the order of the table's columns."""


def timing_keys() -> dict[str, str]:
    """Locust name prefix -> the key ``run.json``'s timings hold it under, taken from the
    recorder (:func:`~chatkit_pg.loadtest.orchestration.locust_csv.timings`) itself so the
    two cannot drift apart."""
    blank = next(iter(timings([])), {"request": None})
    keys = [key for key in blank if key != "request"]
    return dict(zip(TIMED, keys, strict=True))


def _percentile(timing: Any, key: str) -> float | None:
    value = timing.get(key) if isinstance(timing, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def load_timings_table(lt: LoadTest) -> Table | None:
    """Per streamed request type and timing: the count and the percentiles of
    :data:`STREAM_PERCENTILES`, as ``run.json`` recorded them (derived from the stats CSV,
    and captioned so, for a run that did not)."""
    keys = timing_keys()
    rows: list[list[Any]] = []
    row_better: dict[int, Better] = {}
    for entry in lt.timings or ():
        for prefix in TIMED:
            timing = entry.get(keys[prefix])
            cells = [_percentile(timing, f"p{p}") for p in STREAM_PERCENTILES]
            if all(c is None for c in cells):
                continue
            unit = "" if prefix == TOKENS_PREFIX else " (ms)"
            if prefix == TOKENS_PREFIX:
                row_better[len(rows)] = "higher"
            count = timing.get("count") if isinstance(timing, dict) else None
            rows.append([entry.get("request"), TIMING_TITLES[prefix] + unit, count, *cells])
    if not rows:
        return None
    columns = [
        Column("Request type", key=True),
        Column("Timing", key=True),
        Column("Samples", "int"),
        *(Column(f"p{p}", "float", better="lower") for p in STREAM_PERCENTILES),
    ]
    source = (
        f"Derived from Locust's stats CSV: this run's {RunFolder.LOADTEST_RUN_FILE} recorded "
        "no timings (an older run)."
        if lt.timings_derived
        else f"As the run recorded them in {RunFolder.LOADTEST_RUN_FILE}."
    )
    return Table(
        id="load_timings",
        title="Timings users care about: first event, first token, inter-token, stream end",
        columns=columns,
        rows=rows,
        row_better=row_better,
        caption=f"{source} First assistant token: the first text delta, or the assistant "
        "message when it arrives whole; turns without assistant text have none. A text delta "
        "stands for a token: inter-token latency has one sample per gap between successive "
        "deltas, time per output token one per stream with two or more deltas ((stream end "
        "- first token) / (deltas - 1)), as vLLM's benchmarks define them. Locust rounds "
        "times below 100 ms to whole milliseconds. tokens/s rows hold text deltas per second.",
    )


# A failure message starts with its kind ("connection_error: no HTTP response"); Locust wraps
# it (CatchResponseError('timeout: ...')), so the kind is the first "<kind>:" in the text.
_FAILURE_KIND: Final = re.compile(r"\b(" + "|".join(map(re.escape, FAILURE_KINDS)) + r"):")


def failure_kind(row: dict[str, str]) -> str:
    """The failure kind a Locust failure row names (:data:`OTHER_FAILURE` when none)."""
    found = _FAILURE_KIND.search((row.get("Error") or "").lower())
    return found.group(1) if found else OTHER_FAILURE


def failures_by_kind(lt: LoadTest) -> Counter[str]:
    counts: Counter[str] = Counter()
    for row in lt.failures or ():
        counts[failure_kind(row)] += int(csv_number(row, "Occurrences") or 0)
    return counts


def load_failures_table(lt: LoadTest) -> Table | None:
    if lt.failures is None:
        return None
    counts: Counter[tuple[str, str]] = Counter()
    example: dict[tuple[str, str], str] = {}
    for row in lt.failures:
        key = (failure_kind(row), f"{row.get('Method', '')} {row.get('Name', '')}".strip())
        counts[key] += int(csv_number(row, "Occurrences") or 0)
        example.setdefault(key, row.get("Error", ""))
    rows = [[kind, name, n, example[(kind, name)]] for (kind, name), n in sorted(counts.items())]
    return Table(
        id="load_failures",
        title="Failures by kind",
        columns=[
            Column("Kind", key=True),
            Column("Request", key=True),
            Column("Occurrences", "int", better="lower"),
            Column("First error message"),
        ],
        rows=rows,
    )


def capacity_table(lt: LoadTest) -> Table | None:
    """The capacity ramp's steps (``loadtest/capacity.json``)."""
    capacity = lt.capacity
    if not capacity or not capacity.get("steps"):
        return None
    sustained = (capacity.get("sustained") or {}).get("step")
    rows = []
    for step in capacity["steps"]:
        if step.get("within_slo"):
            knee = step.get("step") == sustained
            verdict = "within SLO (sustained capacity)" if knee else "within SLO"
        else:
            verdict = f"broke the SLO: {step.get('reason')}"
        rows.append(
            [
                step.get("users"),
                step.get("rps"),
                step.get("request_rps"),
                step.get("p50_ms"),
                step.get("p95_ms"),
                step.get("p99_ms"),
                step.get("failures"),
                verdict,
            ]
        )
    request = capacity.get("request")
    return Table(
        id="capacity",
        title=f"Capacity ramp: p95 of {request!r} against {capacity.get('slo_p95_ms')} ms",
        columns=[
            Column("Users", "int", key=True),
            Column("Requests/s", "float", better="higher"),
            Column(f"{request} /s", "float"),
            Column("p50 (ms)", "ms", better="lower"),
            Column("p95 (ms)", "ms", better="lower"),
            Column("p99 (ms)", "ms", better="lower"),
            Column("Failures", "int", better="lower"),
            Column("Verdict"),
        ],
        rows=rows,
        caption="Each step's own numbers (differences of Locust's cumulative statistics at the "
        "step's start and end); requests/s counts ChatKit requests, not the SSE timing "
        "entries. The ramp stops at the first step that breaks the SLO.",
    )


def integrity_table(lt: LoadTest) -> Table | None:
    integrity = lt.integrity
    if not integrity:
        return None
    rows: list[list[Any]] = [
        [c.get("name"), c.get("passed"), c.get("detail")] for c in integrity.get("checks") or ()
    ]
    for label in ("acknowledged", "found"):
        for key, value in sorted((integrity.get(label) or {}).items()):
            rows.append([f"{label}: {key}", None, value])
    return Table(
        id="integrity",
        title=f"Integrity check: {'PASSED' if integrity.get('passed') else 'FAILED'}",
        columns=[Column("Check", key=True), Column("Passed", "bool"), Column("Detail")],
        rows=rows,
    )


def load_generator_table(lt: LoadTest) -> Table | None:
    """Each Locust process's own CPU as run.json recorded it (``load_generator``): when one
    passes the threshold, Locust, not the server, may be what limits the load."""
    cpu = (lt.run or {}).get("load_generator")
    if not isinstance(cpu, dict) or not cpu.get("processes"):
        return None
    rows = [
        [
            f"{p.get('role')} {p.get('index')}" if p.get("role") == "worker" else p.get("role"),
            p.get("samples"),
            p.get("cpu_mean"),
            p.get("cpu_p95"),
            p.get("cpu_max"),
            p.get("seconds_over_threshold"),
        ]
        for p in cpu["processes"]
        if isinstance(p, dict)
    ]
    threshold = cpu.get("threshold_pct")
    warning = cpu.get("warning")
    return Table(
        id="load_generator",
        title="Load generator CPU per Locust process (% of one core)",
        columns=[
            Column("Process", key=True),
            Column("Samples", "int"),
            Column("Mean %", "float"),
            Column("p95 %", "float"),
            Column("Max %", "float"),
            Column(f"Seconds over {threshold}%", "float"),
        ],
        rows=rows,
        caption=(f"WARNING: {warning}. " if warning else "No process passed the threshold. ")
        + f"Sampled every {cpu.get('interval_s')} s by the orchestration; a Locust process is "
        "one gevent thread, so near 100% it delays its own users and their timings.",
    )
