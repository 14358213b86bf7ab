"""Tables of the index section: the variants compared, defined, read, planned and sized."""

from __future__ import annotations

from typing import Any

from chatkit_pg.harness.results import RunFolder

from .document import Column, Table
from .load import Results
from .verdict import IndexVerdict


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
