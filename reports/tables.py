"""Tables: saved results (and the verdict) in, :class:`~chatkit_pg.reports.document.Table` out.

One function per table. Each returns ``None`` when its data are missing, so the caller can
say so with a note instead of printing an empty table.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Final, Literal

from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import (
    FAILURE_KINDS,
    FLOOR_GOALS,
    ITEMS_PAGE,
    LIMIT,
    LIMIT_METHODS,
    LOCUST_TOTAL_NAME,
    OTHER_FAILURE,
    PERCENTILES,
    SORT_KEY,
    SSE_TYPE,
    STORE,
    STREAMING_REQUESTS,
    SUMMARY_GOALS,
    THREADS_PAGE,
    TIMING_PREFIXES,
    TIMING_TITLES,
    TOKENS_PREFIX,
    limit_label,
    locust_percentile_column,
    summary_goal,
    summary_value,
)

from .document import Better, Column, Table
from .load import GUARANTEES, Benchmark, LoadTest, Results, csv_number
from .mask import redact_setting
from .verdict import IndexVerdict, StrategyVerdict, cells_text


def _latency_columns(better: bool = True) -> list[Column]:
    return [Column(f"p{p} (ms)", "ms", better="lower" if better else None) for p in PERCENTILES]


def _latencies(b: Benchmark) -> list[float | None]:
    return [b.latency_ms(p) for p in PERCENTILES]


def verdict_table(sv: StrategyVerdict, iv: IndexVerdict) -> Table:
    """The recommendation in two rows, each with the numbers that decide it."""
    rows: list[list[Any]] = []
    s = sv.chosen
    if s is not None:
        parts = []
        if s.geo_mean_ops is not None:
            parts.append(f"{s.geo_mean_ops:,.0f} ops/s geometric mean over {cells_text(sv.cells)}")
        if s.hot_max:
            conc, ops, p95 = s.hot_max
            p95_text = f", p95 {p95:.1f} ms" if p95 is not None else ""
            parts.append(f"one hot thread x{conc}: {ops:,.0f} ops/s{p95_text}")
        parts.append(
            f"{s.counters['duplicates']} duplicates, {s.counters['failed_adds']} failed adds, "
            f"{s.counters['retries']:,} retries"
        )
        runner_up = next((r for r in sv.scores if r is not s and r.excluded is None), None)
        if runner_up is not None and runner_up.geo_mean_ops and s.geo_mean_ops:
            parts.append(
                f"next: {runner_up.name} {runner_up.geo_mean_ops:,.0f} ops/s "
                f"({runner_up.geo_mean_ops / s.geo_mean_ops - 1:+.0%})"
            )
        best = s.geo_mean_ops or 0.0
        faster = [r for r in sv.scores if r.excluded and (r.geo_mean_ops or 0.0) > best]
        if faster:
            parts.append(
                "faster but excluded: " + ", ".join(f"{r.name} ({r.excluded})" for r in faster)
            )
        rows.append(["sort-key strategy", s.name, "; ".join(parts)])
    else:
        rows.append(["sort-key strategy", "none", "no race-free, commit-ordered strategy measured"])
    i = iv.chosen
    if i is not None:
        parts = []
        if i.read_geo_ms is not None:
            parts.append(
                f"reads {i.read_geo_ms:.2f} ms geometric-mean p50 over {len(iv.queries)} queries"
            )
        fastest = iv.scores[0] if iv.scores else None
        if fastest is not None and fastest is not i and fastest.read_geo_ms:
            parts.append(f"best {fastest.variant} {fastest.read_geo_ms:.2f} ms")
        if i.write_ops is not None:
            parts.append(f"writes {i.write_ops:,.0f} ops/s")
        if i.index_bytes is not None:
            parts.append(f"indexes {i.index_bytes / 2**20:,.1f} MiB")
        if i.seq_scans:
            parts.append(f"seq scan in {', '.join(i.seq_scans)}")
        rows.append(["index variant", i.variant, "; ".join(parts)])
    else:
        rows.append(["index variant", "none", "no index variant measured"])
    return Table(
        id="verdict",
        title="Verdict",
        columns=[
            Column("Decision", key=True),
            Column("Recommendation"),
            Column("Deciding numbers"),
        ],
        rows=rows,
    )


def strategy_ranking_table(sv: StrategyVerdict) -> Table | None:
    if not sv.scores:
        return None
    rows = []
    for s in sv.scores:
        hot = s.hot_max
        status = (
            "recommended" if s is sv.chosen else ("eligible" if s.excluded is None else s.excluded)
        )
        rows.append(
            [
                s.name,
                s.race_free,
                s.commit_order,
                s.geo_mean_ops,
                hot[0] if hot else None,
                hot[1] if hot else None,
                hot[2] if hot else None,
                s.counters["duplicates"],
                s.counters["failed_adds"],
                s.counters["retries"],
                status,
            ]
        )
    return Table(
        id="strategy_ranking",
        title="Sort-key strategies ranked",
        columns=[
            Column("Strategy", key=True),
            Column("Race-free", "bool"),
            Column("Commit order", "bool"),
            Column("Geo-mean (ops/s)", "ops", better="higher"),
            Column("Hot-thread writers", "int"),
            Column("Hot thread (ops/s)", "ops", better="higher"),
            Column("Hot thread p95 (ms)", "ms", better="lower"),
            Column("Duplicates", "int", better="lower"),
            Column("Failed adds", "int", better="lower"),
            Column("Retries", "int"),
            Column("Verdict"),
        ],
        rows=rows,
        caption=f"Guarantees as this run recorded them ({RunFolder.STRATEGIES_FILE}); counters "
        "summed over bench and race matrix.",
    )


def strategy_catalog_table(results: Results) -> Table | None:
    """Every strategy the run recorded: what it is and what it promises."""
    if not results.strategies:
        return None
    rows = [
        [
            name,
            name == results.default_strategy,
            *(record.guarantees.get(g) for g in GUARANTEES),
            record.description,
        ]
        for name, record in results.strategies.items()
    ]
    return Table(
        id="strategy_catalog",
        title="Sort-key strategies as recorded",
        columns=[
            Column("Strategy", key=True),
            Column("Default", "bool"),
            *(Column(g.replace("_", " ").capitalize(), "bool") for g in GUARANTEES),
            Column("How it allocates"),
        ],
        rows=rows,
        caption=f"From {RunFolder.STRATEGIES_FILE}, written by the producers of this run.",
    )


def strategy_cells_table(results: Results) -> Table | None:
    rows = [
        [
            b.get("strategy"),
            b.get("scenario"),
            b.get("concurrency"),
            b.ops_per_s,
            *_latencies(b),
            b.get("duplicates"),
            b.get("failed_adds"),
            b.get("retries"),
        ]
        for b in results.of_kind(SORT_KEY)
        if b.get("method") in (None, STORE)
    ]
    if not rows:
        return None
    rows.sort(key=lambda r: (str(r[0]), str(r[1]), r[2] or 0))
    return Table(
        id="strategy_cells",
        title="add_thread_item per strategy, scenario and concurrency",
        columns=[
            Column("Strategy", key=True),
            Column("Scenario", key=True),
            Column("Writers", "int", key=True),
            Column("Throughput (ops/s)", "ops", better="higher"),
            *_latency_columns(),
            Column("Duplicates", "int", better="lower"),
            Column("Failed adds", "int", better="lower"),
            Column("Retries", "int"),
        ],
        rows=rows,
    )


def race_matrix_table(results: Results) -> Table | None:
    if not results.races:
        return None
    fields = ("rounds", "adds", "duplicates", "failed_adds", "retries", "gaps", "ops_per_s")
    rows = [
        [r.get("strategy"), r.get("scenario"), r.get("concurrency"), *(r.get(f) for f in fields)]
        for r in results.races
    ]
    rows.sort(key=lambda r: (str(r[0]), str(r[1]), r[2] or 0))
    return Table(
        id="race_matrix",
        title="Race matrix (chatkit-pg races)",
        columns=[
            Column("Strategy", key=True),
            Column("Scenario", key=True),
            Column("Writers", "int", key=True),
            Column("Rounds", "int"),
            Column("Adds", "int"),
            Column("Duplicates", "int", better="lower"),
            Column("Failed adds", "int", better="lower"),
            Column("Retries", "int"),
            Column("Gaps", "int"),
            Column("Throughput (ops/s)", "ops", better="higher"),
        ],
        rows=rows,
    )


def pagination_table(results: Results) -> Table | None:
    rows = [
        [
            b.kind.replace("_", " ") if b.kind else "",
            b.get("method"),
            b.get("page_size"),
            b.get("order"),
            b.get("depth"),
            *_latencies(b),
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
            *_latency_columns(),
        ],
        rows=rows,
    )


def index_summary_table(iv: IndexVerdict) -> Table | None:
    if not iv.scores:
        return None
    rows = []
    for s in iv.scores:
        status = "recommended" if s is iv.chosen else ("qualifies" if s.eligible else "too slow")
        if iv.shipped is not None and s is not iv.chosen:  # decided by the intervals
            status = "shipped" if s.variant == iv.shipped else "not measurably better"
        if s.read_geo_ms is None:
            status = "no reads measured"
        rows.append(
            [
                s.variant,
                s.read_geo_ms,
                s.write_ops,
                s.table_bytes,
                s.index_bytes,
                ", ".join(s.seq_scans) or "none",
                s.sort_key_unique,
                status,
            ]
        )
    return Table(
        id="index_summary",
        title="Index variants: read, write and size",
        columns=[
            Column("Variant", key=True),
            Column("Read geo-mean p50 (ms)", "ms", better="lower"),
            Column("add_thread_item (ops/s)", "ops", better="higher"),
            Column("Tables", "bytes", better="lower"),
            Column("Indexes", "bytes", better="lower"),
            Column("Seq Scan in"),
            Column("UNIQUE (thread_id, sort_key)", "bool"),
            Column("Verdict"),
        ],
        rows=rows,
        caption=f"Geometric mean over the queries every variant ran: {', '.join(iv.queries)}.",
    )


def variant_definitions_table(results: Results) -> Table | None:
    """Each index variant as the run applied it: description and DDL."""
    if not results.variants:
        return None
    rows = [
        [v.name, v.description, v.sort_key_unique, "; ".join(v.ddl) or "(the migration as is)"]
        for v in results.variants.values()
    ]
    return Table(
        id="variant_definitions",
        title="Index variants as defined in this run",
        columns=[
            Column("Variant", key=True),
            Column("Layout"),
            Column("UNIQUE (thread_id, sort_key)", "bool"),
            Column("DDL on top of the migrated schema"),
        ],
        rows=rows,
        caption=f"From {RunFolder.VARIANTS_FILE}, written by the bench of this run.",
    )


def index_read_table(iv: IndexVerdict) -> Table | None:
    queries = sorted({q for s in iv.scores for q in s.read_ms})
    if not queries:
        return None
    rows = [[s.variant, *(s.read_ms.get(q) for q in queries)] for s in iv.scores]
    return Table(
        id="index_reads",
        title="Read latency p50 per query and index variant (ms)",
        columns=[Column("Variant", key=True)] + [Column(q, "ms", better="lower") for q in queries],
        rows=rows,
    )


def index_comparison_table(iv: IndexVerdict) -> Table | None:
    """Each variant's read ratio to the shipped layout, with its 95% interval and the call."""
    compared = [s for s in iv.scores if s.ratios]
    queries = sorted({q for s in compared for q in s.ratios})
    if not compared or iv.shipped is None:
        return None

    def cell(score: Any, query: str) -> str | None:
        ratio = score.ratios.get(query)
        if ratio is None:
            return None
        call = score.calls.get(query, "")
        return f"{ratio['value']:.2f}x [{ratio['low']:.2f}, {ratio['high']:.2f}] {call}"

    return Table(
        id="index_comparison",
        title=f"Relative to the shipped layout ({iv.shipped}), interleaved rounds",
        columns=[Column("Variant", key=True)] + [Column(q) for q in queries],
        rows=[[s.variant, *(cell(s, q) for q in queries)] for s in compared],
        caption="Median ratio to the shipped layout with its paired bootstrap 95% interval "
        "(latencies: below 1 is faster; appends/s: above 1 is faster). A call is made only "
        "when the interval excludes 1.",
    )


def plans_table(results: Results) -> Table | None:
    if not results.plans:
        return None
    rows = [
        [
            p.get("variant"),
            p.get("query"),
            " > ".join(str(n) for n in p.get("node_types") or ()),
            p.get("shared_hit"),
            p.get("shared_read"),
            p.get("execution_ms"),
        ]
        for p in results.plans
    ]
    return Table(
        id="plans",
        title="Plans used (EXPLAIN ANALYZE, BUFFERS)",
        columns=[
            Column("Variant", key=True),
            Column("Query", key=True),
            Column("Node types (plan order)"),
            Column("Shared hit (blocks)", "int", better="lower"),
            Column("Shared read (blocks)", "int"),
            Column("Execution (ms)", "ms", better="lower"),
        ],
        rows=rows,
        caption="Seq Scan or Sort nodes in a page query mean the index did not serve it.",
    )


def sizes_table(results: Results) -> Table | None:
    if not results.sizes:
        return None
    rows = []
    for variant, tables in sorted(results.sizes.items()):
        for table, info in sorted((tables or {}).items()):
            indexes = info.get("indexes") or {}
            listed = ", ".join(f"{n} {b / 2**20:.1f} MiB" for n, b in sorted(indexes.items()))
            rows.append([variant, table, info.get("table_bytes"), info.get("index_bytes"), listed])
    return Table(
        id="sizes",
        title="Table and index sizes per variant",
        columns=[
            Column("Variant", key=True),
            Column("Table", key=True),
            Column("Table size", "bytes", better="lower"),
            Column("Index size", "bytes", better="lower"),
            Column("Indexes"),
        ],
        rows=rows,
    )


def summary_goals_table(results: Results) -> Table | None:
    summary = results.summary
    if not summary:
        return None
    rows: list[list[Any]] = []
    row_better: dict[int, Better] = {}
    for path, (_, _, label) in SUMMARY_GOALS.items():
        value = summary_value(summary, path)
        if value is None:
            continue
        goal = summary_goal(summary, path)
        met: bool | None = None
        goal_text = ""
        if goal is not None and isinstance(value, int | float):
            op, target = goal
            met = value >= target if op == ">=" else value <= target
            goal_text = f"{op} {target:.2f}"
        if SUMMARY_GOALS[path][0] == "<=":
            row_better[len(rows)] = "lower"
        rows.append([label, value, goal_text, met])
    if not rows:
        return None
    return Table(
        id="limit_ratios",
        title="Ratios against the limit (bench/summary.json)",
        columns=[
            Column("Measure", key=True),
            Column("Ratio", "ratio", better="higher"),
            Column("Goal"),
            Column("Met", "bool"),
        ],
        rows=rows,
        row_better=row_better,
        caption="The goals this project holds the store to, as ratios measured in this run.",
    )


def floors_table(results: Results) -> Table | None:
    """The store against its floor, interleaved: ratio, 95% interval, goal, and whether the
    whole interval meets it (met), misses it (missed) or straddles it (undecided)."""
    section = (results.comparisons or {}).get("floors")
    if not section:
        return None
    rows: list[list[Any]] = []
    for group, contenders in section["groups"].items():
        store = next((e for name, e in contenders.items() if "ratio_to_baseline" in e), None)
        if store is None:
            continue
        ratio = store["ratio_to_baseline"]
        goal = FLOOR_GOALS.get(group)
        verdict, goal_text = None, ""
        if goal is not None:
            op, target = goal
            goal_text = f"{op} {target:.2f}"
            inside = [
                bound >= target if op == ">=" else bound <= target
                for bound in (ratio["low"], ratio["high"])
            ]
            verdict = "met" if all(inside) else ("missed" if not any(inside) else "undecided")
        floor = (section.get("floors") or {}).get(group, "")
        rows.append(
            [group, ratio["value"], f"[{ratio['low']:.3f}, {ratio['high']:.3f}]", goal_text,
             verdict, floor]
        )  # fmt: skip
    if not rows:
        return None
    return Table(
        id="floor_ratios",
        title="The store against its floor (interleaved rounds, 95% intervals)",
        columns=[
            Column("Path", key=True),
            Column("Store / floor", "ratio"),
            Column("95% interval"),
            Column("Goal"),
            Column("Goal met"),
            Column("Floor"),
        ],
        rows=rows,
        caption="Appends as throughput (higher is better), pages as latency (lower is better); "
        "a goal is met only when the whole interval meets it.",
    )


def limit_paths_table(results: Results) -> Table | None:
    rows: list[list[Any]] = []
    order = {m: n for n, m in enumerate(LIMIT_METHODS)}
    limits = sorted(
        results.of_kind(LIMIT),
        key=lambda b: (
            order.get(b.get("method"), 99),
            str(b.get("query")),
            b.get("concurrency") or 1,
        ),
    )
    for b in limits:
        rows.append(
            [
                limit_label(b.get("method"), b.get("query")),
                b.get("concurrency") or 1,
                b.ops_per_s,
                b.latency_ms(50),
            ]
        )
    for run in results.pgbench or ():
        rows.append(
            [
                f"pgbench {run.get('script')}",
                run.get("clients"),
                run.get("tps"),
                run.get("latency_avg_ms"),
            ]
        )
    if not rows:
        return None
    return Table(
        id="limit_paths",
        title="Insert paths: Python layers against the database's own limit",
        columns=[
            Column("Path", key=True),
            Column("Clients", "int", key=True),
            Column("Throughput (ops/s)", "ops", better="higher"),
            Column("Latency p50 / avg (ms)", "ms", better="lower"),
        ],
        rows=rows,
        caption="pgbench rows report average latency (its own -M prepared runs, same database).",
    )


def _request_rows(lt: LoadTest, sse: bool) -> list[list[Any]]:
    rows = []
    for row in lt.stats or ():
        if row.get("Name") == LOCUST_TOTAL_NAME or (row.get("Type") == SSE_TYPE) != sse:
            continue
        rows.append(
            [
                row.get("Type"),
                row.get("Name"),
                csv_number(row, "Request Count"),
                csv_number(row, "Failure Count"),
                csv_number(row, "Requests/s"),
                *(csv_number(row, locust_percentile_column(p)) for p in PERCENTILES),
                csv_number(row, "Max Response Time"),
            ]
        )
    return rows


def _request_columns(first: str) -> list[Column]:
    return [
        Column("Type", key=True),
        Column(first, key=True),
        Column("Requests", "int"),
        Column("Failures", "int", better="lower"),
        Column("Requests/s", "float", better="higher"),
        *_latency_columns(),
        Column("Max (ms)", "ms"),
    ]


def load_requests_table(lt: LoadTest) -> Table | None:
    rows = _request_rows(lt, sse=False)
    if not rows:
        return None
    total = next((r for r in lt.stats or () if r.get("Name") == LOCUST_TOTAL_NAME), None)
    if total is not None:
        rows.append(
            [
                "all",
                LOCUST_TOTAL_NAME,
                csv_number(total, "Request Count"),
                csv_number(total, "Failure Count"),
                csv_number(total, "Requests/s"),
                *(csv_number(total, locust_percentile_column(p)) for p in PERCENTILES),
                csv_number(total, "Max Response Time"),
            ]
        )
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


def load_timings_table(lt: LoadTest) -> Table | None:
    """Per streamed request type: the timings users care about, p50 / p95."""
    found = {r.get("Name"): r for r in lt.stats or () if r.get("Type") == SSE_TYPE}
    rows = []
    for kind in STREAMING_REQUESTS:
        cells: list[Any] = [kind]
        for prefix in (*TIMING_PREFIXES, TOKENS_PREFIX):
            row = found.get(f"{prefix}{kind}")
            for p in (50, 95):
                cells.append(csv_number(row, locust_percentile_column(p)) if row else None)
        if any(c is not None for c in cells[1:]):
            rows.append(cells)
    if not rows:
        return None
    columns = [Column("Request type", key=True)]
    for prefix in (*TIMING_PREFIXES, TOKENS_PREFIX):
        title = TIMING_TITLES[prefix]
        fmt: Literal["float", "ms"] = "float" if prefix == TOKENS_PREFIX else "ms"
        better: Better = "higher" if prefix == TOKENS_PREFIX else "lower"
        unit = "" if prefix == TOKENS_PREFIX else " (ms)"
        columns += [
            Column(f"{title} p50{unit}", fmt, better=better),
            Column(f"{title} p95{unit}", fmt, better=better),
        ]
    return Table(
        id="load_timings",
        title="Timings users care about: first event, first assistant token, stream end",
        columns=columns,
        rows=rows,
        caption="First assistant token: the first text delta, or the assistant message when "
        "it arrives whole; turns without assistant text have none. Empty: not measured.",
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
