"""The bench's index-variant results: each read per variant with its plan, the writes, the
sizes and the interleaved comparison (pk_only clearly slower, plain_keys within the noise)."""

from __future__ import annotations

import random
from typing import Any, Final

from chatkit_pg.bench.explain import write_plan
from chatkit_pg.bench.statistics import compare, write_comparison
from chatkit_pg.bench.variants import (
    ATTACHMENTS,
    ITEMS,
    SHIPPED,
    THREADS,
    VARIANTS,
)
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import (
    ADD_THREAD_ITEM,
    INDEX_READ,
    INDEX_READ_QUERIES,
    INDEX_WRITE,
    ITEMS_PAGE_DEEP,
    ITEMS_PAGE_FIRST,
    ITEMS_PAGE_SPREAD,
    LOAD_ITEM,
    LOAD_ITEM_SPREAD,
    STORE,
    THREADS_PAGE_DEEP,
    THREADS_PAGE_FIRST,
)

from .fixture_common import (
    PLANTED,
    PROFILE,
    Jitter,
    timed,
    writes,
)

READ_MS: Final = {  # p50 per variant, per query in INDEX_READ_QUERIES order
    "recommended": (0.30, 0.33, 0.21, 0.40, 0.44, 0.52, 0.24),
    "sketch": (0.31, 0.34, 0.22, 0.45, 0.52, 0.53, 0.25),
    "pk_only": (5.90, 6.10, 0.21, 12.5, 13.1, 0.55, 0.24),
    "plain_keys": (0.28, 0.31, 0.21, 0.38, 0.41, 0.51, 0.24),
}


WRITE_OPS: Final = {"recommended": 1480, "sketch": 1350, "pk_only": 1600, "plain_keys": 1300}


def read_shape(query: str) -> dict[str, Any]:
    """depth, page size and order of one index read, as bench_index_variants sets them."""
    depth = {
        ITEMS_PAGE_FIRST: 0,
        ITEMS_PAGE_DEEP: PROFILE.deepest,
        LOAD_ITEM: None,
        THREADS_PAGE_FIRST: 0,
        THREADS_PAGE_DEEP: max(PROFILE.thread_page_depths),
        ITEMS_PAGE_SPREAD: 0,
        LOAD_ITEM_SPREAD: None,
    }[query]
    paged = query not in (LOAD_ITEM, LOAD_ITEM_SPREAD)
    return {"depth": depth, "page_size": 20 if paged else None, "order": "desc" if paged else None}


def plan_nodes(variant: str, query: str) -> list[str]:
    """The plan shape each variant gets: pk_only sorts, plain_keys reads the index only."""
    if query in (LOAD_ITEM, LOAD_ITEM_SPREAD):
        return ["Index Scan"]
    if variant == "pk_only":
        if query in (THREADS_PAGE_FIRST, THREADS_PAGE_DEEP):
            return ["Limit", "Sort", "Seq Scan"]
        return ["Limit", "Sort", "Index Scan"]
    if variant == "sketch" and query in (THREADS_PAGE_FIRST, THREADS_PAGE_DEEP):
        return ["Limit", "Incremental Sort", "Index Scan"]
    return ["Limit", "Index Only Scan" if variant == "plain_keys" else "Index Scan"]


def explained(variant: str, query: str, ms: float) -> dict[str, Any]:
    """What explain.explain() returns for that plan shape."""
    nodes = plan_nodes(variant, query)
    hit = 2_310 if "Seq Scan" in nodes else 4 + (2 if query.endswith("deep") else 0)
    read = 3 if query.endswith("spread") else 0  # another thread's pages, not yet in memory

    def node(depth: int) -> dict[str, Any]:
        inner = {"Node Type": nodes[depth]}
        if depth + 1 < len(nodes):
            inner["Plans"] = [node(depth + 1)]
        return inner

    top = {**node(0), "Shared Hit Blocks": hit, "Shared Read Blocks": read}
    return {
        "node_types": nodes,
        "shared_hit": hit,
        "shared_read": read,
        "execution_ms": round(ms * 0.4, 3),
        "plan": [{"Plan": top, "Execution Time": round(ms * 0.4, 3)}],
    }


def index_benchmarks(
    folder: RunFolder, conditions: dict[str, Any], jitter: Jitter, baseline: bool
) -> list[dict[str, Any]]:
    """bench_index_variants: each read per variant (with its plan) and add_thread_item."""
    out = []
    for variant in READ_MS:  # the variants this fixture measured (a subset of VARIANTS)
        for query, ms in zip(INDEX_READ_QUERIES, READ_MS[variant], strict=True):
            p50 = jitter(ms)
            if baseline:
                p50 = PLANTED.get((INDEX_READ, (variant, query)), p50)
            entry = timed(
                "bench_index_variants",
                "test_index_read",
                {"query": query, "variant": variant},
                f"index_read {query}",
                p50,
                PROFILE.read_rounds,
                kind=INDEX_READ,
                method=STORE,
                variant=variant,
                query=query,
                **read_shape(query),
            )
            plan = explained(variant, query, p50)
            entry["extra_info"]["plan_nodes"] = plan["node_types"]
            out.append(entry)
            if not baseline:
                plan_conditions = {
                    **conditions,
                    "variant": variant,
                    "variant_ddl": list(VARIANTS[variant].ddl),
                }
                write_plan(folder, variant, query, plan, plan_conditions)
        entry, _ = writes(
            "bench_index_variants",
            "test_add_thread_item",
            {"variant": variant},
            "index_write add_thread_item",
            jitter(WRITE_OPS[variant]),
            1,
            kind=INDEX_WRITE,
            method=STORE,
            strategy="counter",
            variant=variant,
            concurrency=1,
            query=ADD_THREAD_ITEM,
        )
        out.append(entry)
    return out


MIB: Final = 2**20


INDEX_MIB: Final = {  # per variant and table: index name -> MiB
    "recommended": {
        ITEMS: {"pk_chatkit_thread_items": 7.1, "uq_chatkit_thread_items_thread_id_sort_key": 5.2},
        THREADS: {"pk_chatkit_threads": 1.1, "ix_chatkit_threads_user_id_created_at_id": 1.6},
    },
    "sketch": {
        ITEMS: {
            "pk_chatkit_thread_items": 7.1,
            "ix_sketch_items_thread_id_sort_key": 5.2,
            "ix_sketch_items_thread_id_created_at": 5.6,
        },
        THREADS: {
            "pk_chatkit_threads": 1.1,
            "ix_sketch_threads_user_id": 0.7,
            "ix_sketch_threads_user_id_created_at": 1.3,
        },
    },
    "pk_only": {ITEMS: {"pk_chatkit_thread_items": 7.1}, THREADS: {"pk_chatkit_threads": 1.1}},
    "plain_keys": {
        ITEMS: {"pk_chatkit_thread_items": 8.9, "uq_chatkit_thread_items_thread_id_sort_key": 5.2},
        THREADS: {"pk_chatkit_threads": 3.4, "ix_chatkit_threads_user_id_created_at_id": 1.6},
    },
}


TABLE_MIB: Final = {ITEMS: 61, THREADS: 9, ATTACHMENTS: 0}


def sizes() -> dict[str, Any]:
    """What explain.table_sizes() reads per variant."""
    out: dict[str, Any] = {}
    for variant, tables in INDEX_MIB.items():
        out[variant] = {}
        for table in (THREADS, ITEMS, ATTACHMENTS):
            indexes = {n: int(mb * MIB) for n, mb in tables.get(table, {}).items()}
            if table == ATTACHMENTS:
                indexes = {"pk_chatkit_attachments": 8192}
            out[variant][table] = {
                "table_bytes": TABLE_MIB[table] * MIB or 8192,
                "index_bytes": sum(indexes.values()),
                "indexes": indexes,
            }
    return out


def index_comparison(folder: RunFolder, conditions: dict[str, Any]) -> None:
    """bench_interleaved's index-read section: READ_MS per variant, rounds with a little noise
    (seeded), so plain_keys's small gains are inside the noise and pk_only is clearly slower."""
    rng = random.Random(7)
    groups = {}
    for n, query in enumerate(INDEX_READ_QUERIES):
        samples = {
            variant: [round(READ_MS[variant][n] * rng.uniform(0.9, 1.1), 5) for _ in range(30)]
            for variant in READ_MS
        }
        groups[query] = compare(samples, SHIPPED)
    section = {"baseline": SHIPPED, "unit": "ms", "rounds": 30, "groups": groups}
    write_comparison(folder, "index_reads", section, conditions, PROFILE)
