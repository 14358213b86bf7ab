"""``chatkit-pg loadtest``: database, server, Locust, integrity check -- one command.

:func:`run_loadtest` makes a fresh database (on the embedded PostgreSQL, or on ``--dsn``)
and hands it to :func:`run_steps`, one function per step:

1. :func:`record_conditions`: the run's ``conditions.json`` gets its ``loadtest`` section;
2. :func:`seed`: the database migrated and seeded with the long and hot threads, straight
   through the store;
3. :func:`serve_and_load`: the server (``chatkit-pg serve``, the DSN in its environment) on
   127.0.0.1 and a free port, Locust headless against it (one process, or a master and
   ``--locust-workers`` workers) writing its CSVs and HTML report while every process logs
   its acknowledged writes; with ``chaos_restart_at`` the embedded database is restarted
   meanwhile (:mod:`.chaos`). The server's ``/metrics`` are saved before it stops;
4. :func:`check`: the integrity check against the database, the server stopped;
5. :func:`write_results`: ``integrity.json`` and ``run.json``;
6. :func:`verdict`: the exit status.

Every file name comes from :class:`~chatkit_pg.harness.results.RunFolder`. With chaos,
failures are expected, but only inside the restart window, and ``run.json`` gets a ``chaos``
section with the times and the verdict.

The local and the remote flow write one :class:`RunRecord` as ``run.json`` and take the
exit status from one ladder, :func:`exit_status`: 0 only when Locust recorded no failure
(with chaos: none outside the restart window, and requests succeeded after it) and the
integrity check passed; 1 for Locust failures, 2 for a failed integrity check.

With ``host`` (``chatkit-pg loadtest --host URL``), :func:`run_remote` runs the same load
against a server that is already running somewhere: no database and no server are started,
the results folder has the same layout (Locust's CSVs with full history and HTML report,
``run.json`` with the host without credentials, the redacted settings and the SDK and Locust
versions), Locust's own preflight, seeding (``--seed``) and exit checks apply, and ``--verify``
re-reads every acknowledged thread over HTTP afterwards (:mod:`.verify_http`). Secrets (auth
token and template, ``--header``/``--cookie`` values) reach Locust through its environment
(``CHATKIT_LT_*``), never its command line, and are written nowhere.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

from chatkit_pg.dsn import redact
from chatkit_pg.harness.provision import PostgresServer, database_name, start_server
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import capacity_sentence
from chatkit_pg.loadtest.scenarios.acks import read_records
from chatkit_pg.loadtest.server.settings import ServerSettings

from .chaos import Restart, RestartTimer, judge, require_restartable
from .config import CapacityOptions, LoadTestConfig
from .console import (
    load_text,
    print_capacity,
    print_checks,
    print_load_generator,
    print_open_loop,
    print_summary,
)
from .goodput import goodput, turn_latencies
from .integrity import check_integrity
from .locust_command import LOCUST_CONF, LOCUSTFILE, locust_command, run_locust
from .locust_csv import aggregated, summarize_stats, timings, total
from .logs import arrivals_brief, clear_logs, records_brief
from .processes import LOOPBACK, fetch_server_metrics, free_port, running_server, serve_command
from .seed import seed_database

__all__ = [
    "LOCUSTFILE",
    "LOCUST_CONF",
    "LOOPBACK",
    "CapacityOptions",
    "LoadTestConfig",
    "RunRecord",
    "free_port",
    "locust_command",
    "run_loadtest",
    "run_remote",
    "running_server",
    "serve_command",
    "summarize_stats",
    "write_results",
]

STAGE: Final = "loadtest"
VERSIONED: Final = ("openai-chatkit", "locust")


@dataclass
class Seeded:
    """What :func:`seed` put into the database, and how long it took."""

    threads: dict[str, Any]
    seconds: float


@dataclass
class LoadRun:
    """What :func:`serve_and_load` saw: Locust's exit status, when it ended, the restart."""

    locust_status: int
    ended_at: float
    restart: Restart | None = None
    load_generator: dict[str, Any] | None = None  # the Locust processes' CPU (loadgen_cpu)


# -- processes --------------------------------------------------------------------------------


@dataclass
class RunRecord:
    """``run.json``, one shape for both flows (``mode``). The local flow alone seeds and
    checks integrity; the remote flow alone verifies over HTTP; what a flow does not do
    stays None."""

    mode: Literal["local", "remote"]
    host: str  # without credentials
    settings: dict[str, Any]
    versions: dict[str, Any]
    locust_exit_status: int
    locust_requests: int
    locust_failures: int
    timings: list[dict[str, Any]]  # the streamed-request timings; the report reads these
    capacity: dict[str, Any] | None = None  # what run.json repeats of capacity.json
    seconds: float | None = None  # remote: the load's wall time
    seeded: dict[str, Any] | None = None
    seeding_s: float | None = None
    integrity_passed: bool | None = None
    chaos: dict[str, Any] | None = None
    verify: dict[str, Any] | None = None
    load_generator: dict[str, Any] | None = None  # each Locust process's CPU, and a warning
    records: dict[str, Any] | None = None  # where the per-request records are, and counts
    arrivals: dict[str, Any] | None = None  # open loop: target, cap, achieved rate
    goodput: dict[str, Any] | None = None  # --goodput: the share that met every SLO
    turns: dict[str, Any] | None = None  # measured turns' ttft/itl/e2e percentiles (records)

    def write(self, folder: RunFolder, conditions: dict[str, Any]) -> None:
        folder.write_json(RunFolder.LOADTEST_RUN_FILE, asdict(self), conditions)


def from_records(folder: RunFolder, config: LoadTestConfig) -> dict[str, Any]:
    """What ``run.json`` computes from the per-request records and arrivals."""
    records = list(read_records(folder.path / RunFolder.RECORDS_DIR))
    return {
        "records": records_brief(folder, records),
        "arrivals": arrivals_brief(folder, config.scenario),
        "goodput": goodput(records, config.goodput) if config.goodput else None,
        "turns": turn_latencies(records),
    }


def exit_status(record: RunRecord, capacity: dict[str, Any] | None, folder: RunFolder) -> int:
    """The one exit-code ladder: 1 when the load failed (Locust, the chaos verdict, a
    capacity ramp that measured no step), 2 when the data failed (integrity or ``--verify``),
    else 0. With a ramp, failures are part of the measurement: they end the ramp and
    ``capacity.json`` records them. Remotely, Locust's exit status (its ``--fail-ratio`` and
    SLO checks) judges failures."""
    status = record.locust_exit_status
    if capacity is not None:
        if status != 0 or not capacity.get("steps"):
            print(f"capacity: no step measured (Locust exit status {status}); see "
                  f"{folder.file(RunFolder.LOCUST_LOG_FILE)}")  # fmt: skip
            return 1
    elif record.chaos is not None:
        print(f"chaos: {'PASSED' if record.chaos['passed'] else 'FAILED'}: "
              f"{record.chaos['detail']}")  # fmt: skip
        if status != 0 or not record.chaos["passed"]:
            return 1
    elif status != 0 or (record.mode == "local" and record.locust_failures):
        print(f"Locust reported failures (exit status {status}); see "
              f"{folder.file(RunFolder.LOCUST_LOG_FILE)}, "
              f"{folder.path / RunFolder.LOCUST_FAILURES_FILE}")  # fmt: skip
        return 1
    failed = record.integrity_passed is False or (
        record.verify is not None and not record.verify["passed"]
    )
    return 2 if failed else 0


def finish_capacity(
    folder: RunFolder, conditions: dict[str, Any], capacity: CapacityOptions | None
) -> dict[str, Any] | None:
    """``capacity.json``: the steps and verdict the ramp wrote (``scenarios/capacity.py``),
    with the run's conditions, the ramp's settings and the sentence; None without a ramp."""
    if capacity is None:
        return None
    path = folder.file(RunFolder.CAPACITY_FILE)
    try:
        found = json.loads(path.read_text())
        if not isinstance(found, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        found = {
            "request": capacity.request,
            "slo_p95_ms": capacity.slo_p95_ms,
            "max_fail_ratio": capacity.max_fail_ratio,
            "complete": False,
            "steps": [],
            "sustained": None,
            "broken": None,
            "reached_top": False,
            "why": f"the ramp wrote no steps ({type(exc).__name__}: {exc})",
        }
    found.pop("conditions", None)
    found["settings"] = asdict(capacity)
    found["summary"] = capacity_sentence(found)
    folder.write_json(RunFolder.CAPACITY_FILE, found, conditions)
    return found


def capacity_brief(capacity: dict[str, Any] | None) -> dict[str, Any] | None:
    """What ``run.json`` repeats of ``capacity.json``."""
    if capacity is None:
        return None
    keys = ("summary", "request", "slo_p95_ms", "sustained", "broken", "why")
    return {k: capacity.get(k) for k in keys}


def run_loadtest(config: LoadTestConfig, folder: RunFolder) -> int:
    """Run everything on a fresh database; write into ``folder``; return the exit status."""
    # Acks of an earlier run in this folder belong to another database.
    clear_logs(folder)
    with start_server(dsn=config.dsn) as pg:
        if config.chaos_restart_at is not None:
            require_restartable(pg)
        dsn = asyncio.run(pg.create_database(prefix="chatkit_loadtest"))
        try:
            return run_steps(pg, dsn, config, folder)
        finally:
            if not config.keep_database:
                asyncio.run(pg.drop_database(database_name(dsn)))


def public_host(url: str) -> str:
    """``url`` without credentials, query or fragment (what ``run.json`` records)."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def run_remote(config: LoadTestConfig, folder: RunFolder) -> int:
    """The load against ``config.host`` (already running); write into ``folder``; the exit
    status from :func:`exit_status`."""
    assert config.host
    settings = config.scenario
    clear_logs(folder)
    host = public_host(config.host)
    load = {
        "users": config.users,
        "spawn_rate": config.spawn_rate,
        "run_time": config.run_time,
        "locust_workers": config.locust_workers,
        "tags": config.tags,
        "exclude_tags": config.exclude_tags,
        "capacity": asdict(config.capacity) if config.capacity else None,
    }
    conditions = folder.record_conditions(STAGE, {"mode": "remote", "host": host, **load})
    print(f"load test against {host}{settings.chatkit_path} ({load_text(config)}); "
          f"results in {folder.path}", flush=True)  # fmt: skip
    started = time.time()
    status, load_generator = run_locust(config.host, folder, config)
    capacity = finish_capacity(folder, conditions, config.capacity)
    rows = summarize_stats(folder.file(RunFolder.LOCUST_STATS_FILE))
    verified = None
    if config.verify and status in (0, 1) and total(rows, "requests"):
        from .verify_http import verify_over_http

        verified = verify_over_http(config.host, settings, folder.path / RunFolder.ACKS_DIR)
        folder.write_json(RunFolder.VERIFY_FILE, verified, conditions)
    record = RunRecord(
        mode="remote",
        host=host,
        settings={**load, "scenario": settings.redacted()},
        versions=_versions(conditions),
        seconds=round(time.time() - started, 1),
        locust_exit_status=status,
        locust_requests=total(rows, "requests"),
        locust_failures=total(rows, "failures"),
        timings=timings(rows),
        capacity=capacity_brief(capacity),
        verify=verified,
        load_generator=load_generator,
        **from_records(folder, config),
    )
    record.write(folder, conditions)
    print_summary(rows, None, folder.directory(RunFolder.LOADTEST_DIR))
    print_capacity(capacity)
    print_open_loop(record.arrivals, record.goodput)
    print_load_generator(record.load_generator)
    print_checks("verify", verified)
    return exit_status(record, capacity, folder)


def run_steps(pg: PostgresServer, dsn: str, config: LoadTestConfig, folder: RunFolder) -> int:
    """The steps of one load test on the database ``dsn`` of ``pg``; the exit status."""
    conditions = record_conditions(folder, config, dsn, asyncio.run(pg.server_info()))
    seeded = seed(dsn, config)
    load = serve_and_load(pg, config.server.with_database(dsn), config, folder, conditions)
    capacity = finish_capacity(folder, conditions, config.capacity)
    integrity = check(dsn, folder, config.server.strategy)
    rows = summarize_stats(folder.file(RunFolder.LOCUST_STATS_FILE))
    chaos = judge_chaos(load, folder, rows, config.chaos_grace_s)
    record = write_results(
        folder, conditions, config, seeded, load, rows, integrity, chaos, capacity
    )
    print_summary(rows, integrity, folder.directory(RunFolder.LOADTEST_DIR))
    print_capacity(capacity)
    print_open_loop(record.arrivals, record.goodput)
    print_load_generator(record.load_generator)
    return exit_status(record, capacity, folder)


def write_results(
    folder: RunFolder,
    conditions: dict[str, Any],
    config: LoadTestConfig,
    seeded: Seeded,
    load: LoadRun,
    rows: list[dict[str, Any]],
    integrity: dict[str, Any],
    chaos: dict[str, Any] | None,
    capacity: dict[str, Any] | None = None,
) -> RunRecord:
    """``integrity.json`` and the local flow's ``run.json``, each with the run's conditions."""
    folder.write_json(RunFolder.INTEGRITY_FILE, integrity, conditions)
    record = RunRecord(
        mode="local",
        host=f"http://{LOOPBACK}:<free port>",
        settings=local_settings(config),
        versions=_versions(conditions),
        locust_exit_status=load.locust_status,
        locust_requests=total(rows, "requests"),
        locust_failures=total(rows, "failures"),
        timings=timings(rows),
        capacity=capacity_brief(capacity),
        seeded={k: (len(v) if isinstance(v, list) else v) for k, v in seeded.threads.items()},
        seeding_s=round(seeded.seconds, 2),
        integrity_passed=integrity["passed"],
        chaos=chaos,
        load_generator=load.load_generator,
        **from_records(folder, config),
    )
    record.write(folder, conditions)
    return record


def local_settings(config: LoadTestConfig) -> dict[str, Any]:
    """The run's settings as ``run.json`` records them: no DSN password, no secret."""
    settings = asdict(config)
    settings["dsn"] = redact(config.dsn) if config.dsn else None
    del settings["server"]["dsn"]  # unused: the run serves its fresh database (conditions)
    settings["scenario"] = config.scenario.redacted()  # no token, header or cookie value
    return settings


def _versions(conditions: dict[str, Any]) -> dict[str, Any]:
    return {k: conditions.get("packages", {}).get(k) for k in VERSIONED}


def record_conditions(
    folder: RunFolder, config: LoadTestConfig, dsn: str, postgres: dict[str, Any]
) -> dict[str, Any]:
    """Write the ``loadtest`` section of ``conditions.json``; return the conditions that
    every file of the load test carries."""
    server = {f.name: getattr(config.server, f.name) for f in ServerSettings.option_fields()}
    facts = {
        "database": redact(dsn),
        "strategy": config.server.strategy,
        "users": config.users,
        "spawn_rate": config.spawn_rate,
        "run_time": config.run_time,
        "server_workers": config.workers,
        "locust_workers": config.locust_workers,
        "server": server,
        "chaos_restart_at": config.chaos_restart_at,
        "capacity": asdict(config.capacity) if config.capacity else None,
    }
    return folder.record_conditions(STAGE, facts, postgres=postgres)


def seed(dsn: str, config: LoadTestConfig) -> Seeded:
    """Migrate ``dsn`` and seed the long and hot threads through the store."""
    started = time.time()
    threads = asyncio.run(
        seed_database(
            dsn,
            strategy=config.server.strategy,
            prefix=config.scenario.user_prefix,
            seed_threads=config.scenario.seed_threads,
            seed_thread_length=config.scenario.seed_thread_length,
            hot_threads=config.scenario.hot_threads,
        )
    )
    seeded = Seeded(threads, time.time() - started)
    print(f"seeded {threads['items']} items in {seeded.seconds:.1f} s", flush=True)
    return seeded


def serve_and_load(
    pg: PostgresServer,
    server: ServerSettings,
    config: LoadTestConfig,
    folder: RunFolder,
    conditions: dict[str, Any],
) -> LoadRun:
    """Start the server, run Locust against it (restarting ``pg`` for chaos), save the
    server's ``/metrics`` and stop it."""
    log = folder.file(RunFolder.SERVER_LOG_FILE)
    with running_server(server, log, config.workers) as (host, _):
        print(f"server up at {host}; running Locust ({load_text(config)})", flush=True)
        chaos = None
        if config.chaos_restart_at is not None:
            chaos = RestartTimer(pg, config.chaos_restart_at)
            chaos.start()
            print(f"chaos: restarting PostgreSQL {config.chaos_restart_at:g} s into the run")
        try:
            status, load_generator = run_locust(host, folder, config)
        finally:
            if chaos is not None:
                chaos.stop()
        ended_at = time.time()
        metrics = {"server_workers": config.workers, **fetch_server_metrics(host)}
        if config.workers > 1:
            metrics["note"] = "one worker process's timings (each worker keeps its own)"
        folder.write_json(RunFolder.SERVER_METRICS_FILE, metrics, conditions)
    restart = chaos.restart if chaos is not None else None
    return LoadRun(status, ended_at, restart, load_generator)


def check(dsn: str, folder: RunFolder, strategy: str) -> dict[str, Any]:
    """The integrity check: the ack logs of every Locust process against the database."""
    return asyncio.run(check_integrity(dsn, folder.directory(RunFolder.ACKS_DIR), strategy))


def judge_chaos(
    load: LoadRun, folder: RunFolder, rows: list[dict[str, Any]], grace_s: float
) -> dict[str, Any] | None:
    """The ``chaos`` section of ``run.json`` (None without a restart)."""
    if load.restart is None:
        return None
    return judge(
        load.restart,
        folder.file(RunFolder.LOCUST_HISTORY_FILE),
        folder.file(RunFolder.LOCUST_FAILURES_FILE),
        aggregated(rows, "requests"),  # the history's own totals, SSE samples included
        aggregated(rows, "failures"),
        load.ended_at,
        grace_s,
    )
