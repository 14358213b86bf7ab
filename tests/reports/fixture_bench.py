"""The bench's sort-key, pagination, limit and pgbench results and the race matrix, as the
bench modules and tests/concurrency record them, and ``bench/benchmark.json`` around them."""

from __future__ import annotations

import json
import math
from typing import Any, Final

import pytest_benchmark

from chatkit_pg.bench.pgbench_runner import PgbenchRun
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import (
    ADD_THREAD_ITEM,
    HOT_THREAD,
    ITEMS_PAGE,
    KEYSET,
    LIMIT,
    LIMIT_PATHS,
    OFFSET,
    PAGE_METHODS,
    PAGE_QUERIES,
    PGBENCH_COUNTER,
    PGBENCH_INSERT,
    PGBENCH_SCRIPTS,
    SCENARIOS,
    SORT_KEY,
    STORE,
    THREADS_PAGE,
)
from chatkit_pg.strategies import STRATEGIES

from .fixture_common import (
    MACHINE,
    PACKAGES,
    PLANTED,
    POSTGRES,
    PROFILE,
    Jitter,
    timed,
    writes,
)

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


LIMIT_OPS: Final = {  # one client, per insert path of LIMIT_PATHS
    LIMIT_PATHS[0]: 1010,
    LIMIT_PATHS[1]: 1810,
    LIMIT_PATHS[2]: 363,
    LIMIT_PATHS[3]: 540,
    LIMIT_PATHS[4]: 262,
    LIMIT_PATHS[5]: 1450,
}


PGBENCH_TPS: Final = {PGBENCH_INSERT: (3200, 8300, 9600), PGBENCH_COUNTER: (3050, 1800, 1240)}


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


PAGE_TESTS: Final = {ITEMS_PAGE: "test_items_page", THREADS_PAGE: "test_threads_page"}


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
                                PAGE_TESTS[kind],
                                {
                                    "depth": depth,
                                    "page_size": size,
                                    "method": method,
                                    "order": order,
                                },
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


def limit_benchmarks(jitter: Jitter) -> list[dict[str, Any]]:
    """bench_limits: one client through every insert path."""
    out = []
    for (method, query), ops in LIMIT_OPS.items():
        out.append(
            timed(
                "bench_limits",
                "test_insert",
                {"method": method, "query": query},
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
