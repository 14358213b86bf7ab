"""Tables of the verdict and the sort-key strategies section: the recommendation, the ranking,
the strategies as recorded, each measured cell and the race matrix."""

from __future__ import annotations

from typing import Any, Final

from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import (
    SORT_KEY,
    STORE,
)

from .document import Column, Table
from .load import GUARANTEES, Results
from .table_columns import latencies, latency_columns
from .verdict import IndexVerdict, StrategyVerdict, cells_text


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


# A measured cell is one strategy, scenario and writer count, in the bench and the races alike;
# the correctness counters follow under the same names.
CELL_COLUMNS: Final = (
    Column("Strategy", key=True),
    Column("Scenario", key=True),
    Column("Writers", "int", key=True),
)
COUNTER_COLUMNS: Final = (
    Column("Duplicates", "int", better="lower"),
    Column("Failed adds", "int", better="lower"),
    Column("Retries", "int"),
)


def _cell_order(row: list[Any]) -> tuple[str, str, int]:
    return str(row[0]), str(row[1]), row[2] or 0


def strategy_cells_table(results: Results) -> Table | None:
    rows = [
        [
            b.get("strategy"),
            b.get("scenario"),
            b.get("concurrency"),
            b.ops_per_s,
            *latencies(b),
            b.get("duplicates"),
            b.get("failed_adds"),
            b.get("retries"),
        ]
        for b in results.of_kind(SORT_KEY)
        if b.get("method") in (None, STORE)
    ]
    if not rows:
        return None
    return Table(
        id="strategy_cells",
        title="add_thread_item per strategy, scenario and concurrency",
        columns=[
            *CELL_COLUMNS,
            Column("Throughput (ops/s)", "ops", better="higher"),
            *latency_columns(),
            *COUNTER_COLUMNS,
        ],
        rows=sorted(rows, key=_cell_order),
    )


def race_matrix_table(results: Results) -> Table | None:
    if not results.races:
        return None
    fields = ("rounds", "adds", "duplicates", "failed_adds", "retries", "gaps", "ops_per_s")
    rows = [
        [r.get("strategy"), r.get("scenario"), r.get("concurrency"), *(r.get(f) for f in fields)]
        for r in results.races
    ]
    return Table(
        id="race_matrix",
        title="Race matrix (chatkit-pg races)",
        columns=[
            *CELL_COLUMNS,
            Column("Rounds", "int"),
            Column("Adds", "int"),
            *COUNTER_COLUMNS,
            Column("Gaps", "int"),
            Column("Throughput (ops/s)", "ops", better="higher"),
        ],
        rows=sorted(rows, key=_cell_order),
    )
