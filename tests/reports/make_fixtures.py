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
:data:`~fixture_common.PLANTED`.

Deterministic: the machine facts are fixed, the jitter seeded. Rerun after a producer
changes its format and commit the result.

The producers live beside this entry point, one module per kind of result:
``fixture_common`` (the fixed machine, the profile, pytest-benchmark replayed),
``fixture_bench`` (sort keys, pages, limits, pgbench, the race matrix), ``fixture_index``
(index variants: reads, plans, sizes, the interleaved comparison) and ``fixture_loadtest``
(Locust's files, integrity, the capacity ramp, ``run.json``).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Final
from unittest import mock

if not __package__:  # run as a script: import the fixture modules as this package's
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    __package__ = "tests.reports"

from chatkit_pg.bench.explain import write_sizes
from chatkit_pg.bench.summary import summarize
from chatkit_pg.bench.variants import write_variant_catalog
from chatkit_pg.dsn import redact
from chatkit_pg.harness import results as results_module
from chatkit_pg.harness.catalog import write_strategy_catalog
from chatkit_pg.harness.results import RunFolder

from .fixture_bench import (
    benchmark_json,
    limit_benchmarks,
    page_benchmarks,
    pgbench_runs,
    race_rows,
    sort_key_benchmarks,
)
from .fixture_common import BENCH_DSN, MACHINE, PACKAGES, PASSWORD, POSTGRES, PROFILE, Jitter
from .fixture_index import index_benchmarks, index_comparison, sizes
from .fixture_loadtest import write_loadtest

__all__ = ["HERE", "PASSWORD", "main", "make_run"]

HERE: Final = Path(__file__).resolve().parent / "fixtures"


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
