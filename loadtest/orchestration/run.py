"""``chatkit-pg loadtest``: database, server, Locust, integrity check -- one command.

Steps (each a small function below):

1. a fresh database on the embedded PostgreSQL (or on ``--dsn``), migrated and seeded with
   the long threads and hot threads straight through the store;
2. the server (``chatkit-pg serve``) on 127.0.0.1 and a free port, waited for on /healthz;
3. Locust headless against it (one process, or a master and ``--locust-workers`` workers),
   writing ``locust_*.csv`` and ``locust_report.html``, every process logging its
   acknowledged writes;
4. the server stopped, the integrity check run against the database;
5. ``integrity.json`` and ``run.json`` written beside Locust's files in
   ``<run_dir>/loadtest/``.

With ``chaos_restart_at`` the embedded database is restarted that many seconds after Locust
starts (:mod:`loadtest.chaos`); failures are then expected, but only inside the restart
window, and ``run.json`` gets a ``chaos`` section with the times and the verdict.

Exit status 0 only when Locust recorded no failure (with chaos: none outside the restart
window, and requests succeeded after it) and the integrity check passed.
"""

from __future__ import annotations

import asyncio
import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from chatkit_pg.dsn import mask_dsn
from chatkit_pg.harness.provision import PostgresServer, database_name, start_server
from chatkit_pg.harness.results import RunFolder, machine_conditions, write_json

LOADTEST_DIR = RunFolder.LOADTEST_DIR
from chatkit_pg.loadtest import scenarios

from .chaos import RestartTimer, judge, require_restartable
from .integrity import check_integrity
from .seed import seed_database

SCENARIOS_DIR: Final = Path(scenarios.__file__).resolve().parent
LOCUSTFILE: Final = SCENARIOS_DIR / "locustfile.py"
LOCUST_CONF: Final = SCENARIOS_DIR / "locust.conf"
CSV_PREFIX: Final = "locust"
STATS_CSV: Final = "locust_stats.csv"
HISTORY_CSV: Final = "locust_stats_history.csv"
FAILURES_CSV: Final = "locust_failures.csv"
EXCEPTIONS_CSV: Final = "locust_exceptions.csv"
REPORT_HTML: Final = "locust_report.html"
INTEGRITY_FILE: Final = "integrity.json"
RUN_FILE: Final = "run.json"
ACK_DIR: Final = "acks"
LOOPBACK: Final = "127.0.0.1"


@dataclass
class LoadTestConfig:
    """What ``chatkit-pg loadtest`` runs (see its ``--help``)."""

    users: int = 50
    spawn_rate: float = 10.0
    run_time: str = "60s"
    dsn: str | None = None
    workers: int = 1
    locust_workers: int = 0
    strategy: str = "counter"
    server_options: dict[str, Any] = field(default_factory=dict)
    seed_threads: int = 2
    seed_thread_length: int = 2000
    hot_threads: int = 3
    user_prefix: str = "lt"
    think_min: float = 0.5
    think_max: float = 2.0
    tags: list[str] = field(default_factory=list)
    stop_timeout: int = 15
    keep_database: bool = False
    chaos_restart_at: float | None = None  # seconds after Locust starts
    chaos_grace_s: float = 10.0  # failures expected until this long after the restart


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers 200; fail early if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode} at start")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not become healthy within {timeout:.0f} s")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGINT (graceful), then SIGTERM, then SIGKILL."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 5.0)):
        process.send_signal(sig)
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
    process.kill()
    process.wait()


@contextmanager
def running_server(
    dsn: str, config: LoadTestConfig, log_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``chatkit-pg serve`` on 127.0.0.1:<free port>; yields its base URL and process."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "chatkit_pg.cli",
        "serve",
        "--dsn",
        dsn,
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workers",
        str(config.workers),
        "--strategy",
        config.strategy,
    ]
    for option, value in config.server_options.items():
        command += [f"--{option.replace('_', '-')}", str(value)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            base = f"http://{LOOPBACK}:{port}"
            wait_healthy(f"{base}/healthz", process)
            yield base, process
        finally:
            stop_process(process)


def locust_command(host: str, out: Path, config: LoadTestConfig, role: list[str]) -> list[str]:
    """The Locust command line for one process (``role``: [], master or worker options)."""
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--config",
        str(LOCUST_CONF),
        "--host",
        host,
        "--user-prefix",
        config.user_prefix,
        "--seed-threads",
        str(config.seed_threads),
        "--seed-thread-length",
        str(config.seed_thread_length),
        "--hot-threads",
        str(config.hot_threads),
        "--think-min",
        str(config.think_min),
        "--think-max",
        str(config.think_max),
        "--ack-dir",
        str(out / ACK_DIR),
        *role,
    ]
    if "--worker" in role:
        return command
    command += [
        "--headless",
        "--users",
        str(config.users),
        "--spawn-rate",
        str(config.spawn_rate),
        "--run-time",
        config.run_time,
        "--stop-timeout",
        str(config.stop_timeout),
        "--csv",
        str(out / CSV_PREFIX),
        "--csv-full-history",
        "--html",
        str(out / REPORT_HTML),
        "--only-summary",
    ]
    if config.tags:
        command += ["--tags", *config.tags]
    if config.chaos_restart_at is not None:
        # Failures are expected around the restart; run.json's chaos verdict judges them.
        command += ["--exit-code-on-error", "0"]
    return command


def run_locust(host: str, out: Path, config: LoadTestConfig) -> int:
    """Run Locust to completion (one process, or master + workers); its exit status."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if config.locust_workers <= 0:
        with (out / "locust.log").open("wb") as log:
            command = locust_command(host, out, config, [])
            return subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
    port = free_port()
    master_role = [
        "--master",
        "--master-bind-host",
        LOOPBACK,
        "--master-bind-port",
        str(port),
        "--expect-workers",
        str(config.locust_workers),
    ]
    worker_role = ["--worker", "--master-host", LOOPBACK, "--master-port", str(port)]
    workers: list[subprocess.Popen[bytes]] = []
    with (out / "locust.log").open("wb") as log:
        master = subprocess.Popen(
            locust_command(host, out, config, master_role), stdout=log, stderr=log, env=env
        )
        try:
            for n in range(config.locust_workers):
                worker_log = (out / f"locust_worker{n}.log").open("wb")
                workers.append(
                    subprocess.Popen(
                        locust_command(host, out, config, worker_role),
                        stdout=worker_log,
                        stderr=worker_log,
                        env=env,
                    )
                )
            return master.wait()
        finally:
            stop_process(master)
            for worker in workers:
                try:
                    worker.wait(20)
                except subprocess.TimeoutExpired:
                    stop_process(worker)


def summarize_stats(stats_csv: Path) -> list[dict[str, Any]]:
    """Per request type: count, failures, requests/s, p50/p95 (ms) from locust_stats.csv."""
    if not stats_csv.exists():
        return []
    rows = []
    with stats_csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            rows.append(
                {
                    "type": row["Type"],
                    "name": row["Name"],
                    "requests": int(row["Request Count"]),
                    "failures": int(row["Failure Count"]),
                    "rps": float(row["Requests/s"]),
                    "p50_ms": float(row["50%"] or 0),
                    "p95_ms": float(row["95%"] or 0),
                    "p99_ms": float(row["99%"] or 0),
                }
            )
    return rows


def print_summary(rows: list[dict[str, Any]], integrity: dict[str, Any], out: Path) -> None:
    print(f"{'type':6} {'name':34} {'reqs':>7} {'fail':>5} {'req/s':>7} {'p50':>6} {'p95':>6}")
    for r in rows:
        print(
            f"{r['type']:6} {r['name'][:34]:34} {r['requests']:7d} {r['failures']:5d} "
            f"{r['rps']:7.1f} {r['p50_ms']:6.0f} {r['p95_ms']:6.0f}"
        )
    verdict = "PASSED" if integrity.get("passed") else "FAILED"
    print(f"integrity: {verdict}")
    for check in integrity.get("checks", []):
        print(f"  [{'ok' if check['passed'] else 'FAIL'}] {check['name']}: {check['detail']}")
    print(f"results: {out}")


def run_loadtest(config: LoadTestConfig, results: Path) -> int:
    """Run everything; write into ``results/loadtest/``; return the exit status."""
    out = results / LOADTEST_DIR
    out.mkdir(parents=True, exist_ok=True)
    # Acks of an earlier run in this folder belong to another database.
    shutil.rmtree(out / ACK_DIR, ignore_errors=True)
    with start_server(dsn=config.dsn) as pg:
        if config.chaos_restart_at is not None:
            require_restartable(pg)
        dsn = asyncio.run(pg.create_database(prefix="chatkit_loadtest"))
        try:
            return _run_on(pg, dsn, config, out)
        finally:
            if not config.keep_database:
                asyncio.run(pg.drop_database(database_name(dsn)))


def _run_on(pg: PostgresServer, dsn: str, config: LoadTestConfig, out: Path) -> int:
    started = time.time()
    seeded = asyncio.run(
        seed_database(
            dsn,
            strategy=config.strategy,
            prefix=config.user_prefix,
            seed_threads=config.seed_threads,
            seed_thread_length=config.seed_thread_length,
            hot_threads=config.hot_threads,
        )
    )
    seeding_s = time.time() - started
    print(f"seeded {seeded['items']} items in {seeding_s:.1f} s", flush=True)
    with running_server(dsn, config, out / "server.log") as (host, _):
        print(f"server up at {host}; running Locust ({config.users} users, {config.run_time})")
        chaos = None
        if config.chaos_restart_at is not None:
            chaos = RestartTimer(pg, config.chaos_restart_at)
            chaos.start()
            print(f"chaos: restarting PostgreSQL {config.chaos_restart_at:g} s into the run")
        try:
            locust_status = run_locust(host, out, config)
        finally:
            if chaos is not None:
                chaos.stop()
        locust_ended = time.time()
    integrity = asyncio.run(check_integrity(dsn, out / ACK_DIR, config.strategy))
    rows = summarize_stats(out / STATS_CSV)
    failures = sum(r["failures"] for r in rows if r["name"] == "Aggregated")
    chaos_result = None
    if chaos is not None:
        requests = sum(r["requests"] for r in rows if r["name"] == "Aggregated")
        chaos_result = judge(
            chaos.restart,
            out / HISTORY_CSV,
            out / FAILURES_CSV,
            requests,
            failures,
            locust_ended,
            config.chaos_grace_s,
        )
    conditions = {
        **machine_conditions(),
        "postgres": asyncio.run(pg.server_info()),
        "database": mask_dsn(dsn),
        "strategy": config.strategy,
        "users": config.users,
        "spawn_rate": config.spawn_rate,
        "run_time": config.run_time,
        "server_workers": config.workers,
        "locust_workers": config.locust_workers,
    }
    write_json(out / INTEGRITY_FILE, integrity, conditions)
    settings = asdict(config)
    settings["dsn"] = mask_dsn(config.dsn) if config.dsn else None
    write_json(
        out / RUN_FILE,
        {
            "settings": settings,
            "host": "http://127.0.0.1:<free port>",
            "seeded": {k: (len(v) if isinstance(v, list) else v) for k, v in seeded.items()},
            "seeding_s": round(seeding_s, 2),
            "locust_exit_status": locust_status,
            "locust_failures": failures,
            "integrity_passed": integrity["passed"],
            "chaos": chaos_result,
        },
        conditions,
    )
    print_summary(rows, integrity, out)
    if chaos_result is not None:
        verdict = "PASSED" if chaos_result["passed"] else "FAILED"
        print(f"chaos: {verdict}: {chaos_result['detail']}")
        if locust_status != 0 or not chaos_result["passed"]:
            return 1
        return 0 if integrity["passed"] else 2
    if locust_status != 0 or failures:
        print(f"Locust reported failures (exit status {locust_status}); see {FAILURES_CSV}")
        return 1
    return 0 if integrity["passed"] else 2
