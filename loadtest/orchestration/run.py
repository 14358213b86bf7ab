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

Exit status 0 only when Locust recorded no failure (with chaos: none outside the restart
window, and requests succeeded after it) and the integrity check passed; 1 for Locust
failures, 2 for a failed integrity check.

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
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Final

from chatkit_pg.dsn import mask_dsn
from chatkit_pg.harness.provision import PostgresServer, database_name, start_server
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import (
    CAPACITY_DEFAULT_REQUEST,
    CAPACITY_DEFAULT_SLO_P95_MS,
    DSN_ENV,
    LOCUST_TOTAL_NAME,
    PERCENTILES,
    SSE_TYPE,
    STREAMING_REQUESTS,
    TIMING_PREFIXES,
    TOKENS_PREFIX,
    bench_percentile_key,
    capacity_sentence,
    locust_percentile_column,
)
from chatkit_pg.loadtest import scenarios
from chatkit_pg.loadtest.scenarios.settings import ScenarioSettings, from_values
from chatkit_pg.loadtest.server.settings import ServerSettings

from .chaos import Restart, RestartTimer, judge, require_restartable
from .integrity import check_integrity
from .seed import seed_database

SCENARIOS_DIR: Final = Path(scenarios.__file__).resolve().parent
LOCUSTFILE: Final = SCENARIOS_DIR / "locustfile.py"
CAPACITY_SHAPE: Final = SCENARIOS_DIR / "capacity.py"
LOCUST_CONF: Final = SCENARIOS_DIR / "locust.conf"
# Locust's own logs sit beside its CSVs (RunFolder names no log of Locust's).
LOOPBACK: Final = "127.0.0.1"
STAGE: Final = "loadtest"


@dataclass
class TargetOptions:
    """How Locust talks to the server: the scenario options (``ScenarioSettings`` field
    names) that ``chatkit-pg loadtest`` passes on. ``SECRET`` fields go through Locust's
    environment, never its command line."""

    chatkit_path: str = "/chatkit"
    auth_header: str = "Authorization"
    auth_template: str = ""
    auth_token: str = ""
    auth_tokens_file: str = ""
    header: list[str] = field(default_factory=list)
    cookie: list[str] = field(default_factory=list)
    tls_verify: str = "true"
    request_timeout: float = 30.0
    require_assistant: str = "false"
    seed: str = "false"
    fail_ratio: float = 0.0
    slo_p95: list[str] = field(default_factory=list)

    SECRET: ClassVar[dict[str, str]] = {
        "auth_template": "CHATKIT_LT_AUTH_TEMPLATE",
        "auth_token": "CHATKIT_LT_AUTH_TOKEN",
        "header": "CHATKIT_LT_HEADERS",
        "cookie": "CHATKIT_LT_COOKIES",
    }

    def settings(self, **extra: Any) -> ScenarioSettings:
        """The checked scenario settings (``ValueError`` names a bad option)."""
        return from_values(**asdict(self), **extra)

    def options(self) -> list[str]:
        """The non-secret options, for Locust's command line."""
        command: list[str] = []
        for name, value in asdict(self).items():
            if name in self.SECRET or value in ("", [], None):
                continue
            flag = f"--{name.replace('_', '-')}"
            for one in value if isinstance(value, list) else [value]:
                command += [flag, str(one)]
        return command

    def environment(self) -> dict[str, str]:
        """The secret options, as Locust's ``CHATKIT_LT_*`` environment variables."""
        env = {}
        for name, variable in self.SECRET.items():
            value = getattr(self, name)
            if value:
                env[variable] = json.dumps(value) if isinstance(value, list) else value
        return env


@dataclass
class CapacityOptions:
    """The stepped ramp of ``--find-capacity`` (``scenarios/capacity.py``): users from
    ``start_users`` by ``step_users`` every ``step_duration`` s up to ``max_users``, until
    ``request``'s p95 exceeds ``slo_p95_ms`` or more than ``max_fail_ratio`` of a step's
    requests fail."""

    start_users: int = 10
    step_users: int = 10
    step_duration: float = 30.0
    max_users: int = 200
    request: str = CAPACITY_DEFAULT_REQUEST
    slo_p95_ms: float = CAPACITY_DEFAULT_SLO_P95_MS
    max_fail_ratio: float = 0.0
    spawn_rate: float = 10.0

    def __post_init__(self) -> None:
        if self.start_users < 1 or self.step_users < 1 or self.max_users < self.start_users:
            raise ValueError(
                "need --capacity-start-users >= 1, --capacity-step-users >= 1 and "
                "--capacity-max-users >= --capacity-start-users"
            )
        if self.step_duration <= 0 or self.spawn_rate <= 0 or self.slo_p95_ms <= 0:
            raise ValueError(
                "--capacity-step-duration, --capacity-slo-p95-ms and --spawn-rate must be positive"
            )
        if not 0 <= self.max_fail_ratio <= 1:
            raise ValueError("--capacity-max-fail-ratio must be within 0..1")
        if not self.request.strip():
            raise ValueError("--capacity-request must name a Locust entry")

    @property
    def steps(self) -> int:
        return 1 + -(-(self.max_users - self.start_users) // self.step_users)

    @property
    def longest_s(self) -> float:
        """The ramp's length when no step breaks the SLO."""
        return self.steps * self.step_duration

    def options(self, out: Path) -> list[str]:
        """Locust's options for the ramp, writing its steps to ``out``."""
        return [
            "--step-start", str(self.start_users),
            "--step-users", str(self.step_users),
            "--step-duration", str(self.step_duration),
            "--step-max", str(self.max_users),
            "--step-rate", str(self.spawn_rate),
            "--capacity-request", self.request,
            "--capacity-slo-p95-ms", str(self.slo_p95_ms),
            "--capacity-max-fail-ratio", str(self.max_fail_ratio),
            "--capacity-out", str(out),
        ]  # fmt: skip


@dataclass
class LoadTestConfig:
    """What ``chatkit-pg loadtest`` runs (see its ``--help``).

    ``server`` is the whole server under test; its ``dsn`` stays empty here, because the
    run makes a fresh database on ``dsn`` (the PostgreSQL server; None: the embedded one).
    """

    server: ServerSettings = field(default_factory=ServerSettings)
    users: int = 50
    spawn_rate: float = 10.0
    run_time: str = "60s"
    dsn: str | None = None
    workers: int = 1  # server (uvicorn) processes
    locust_workers: int = 0
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
    exclude_tags: list[str] = field(default_factory=list)
    target: TargetOptions = field(default_factory=TargetOptions)
    host: str | None = None  # a running server: no database, no server started
    verify: bool = False  # remote: re-read acknowledged threads over HTTP afterwards
    capacity: CapacityOptions | None = None  # --find-capacity: the stepped ramp instead


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


# -- processes --------------------------------------------------------------------------------


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


def serve_command(settings: ServerSettings, port: int, workers: int) -> list[str]:
    """``chatkit-pg serve`` on 127.0.0.1:``port`` with ``settings``, without the DSN.

    The DSN goes in the child's environment (:data:`DSN_ENV`): a command line shows in
    ``ps``, and a DSN can hold a password.
    """
    return [
        sys.executable, "-m", "chatkit_pg.cli", "serve",
        "--host", LOOPBACK,
        "--port", str(port),
        "--workers", str(workers),
        *settings.to_options(),
    ]  # fmt: skip


@contextmanager
def running_server(
    settings: ServerSettings, log_path: Path, workers: int = 1
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``chatkit-pg serve`` with ``settings`` on 127.0.0.1:<free port>.

    Args:
        settings: the server under test, its ``dsn`` the database to serve.
        log_path: where the server's output goes.
        workers: uvicorn worker processes.

    Yields:
        The server's base URL and its process; the server is stopped on the way out.
    """
    settings.require_database()
    port = free_port()
    env = {**os.environ, DSN_ENV: settings.dsn}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            serve_command(settings, port, workers), stdout=log, stderr=subprocess.STDOUT, env=env
        )
        try:
            base = f"http://{LOOPBACK}:{port}"
            wait_healthy(f"{base}/healthz", process)
            yield base, process
        finally:
            stop_process(process)


def locust_command(
    host: str, folder: RunFolder, config: LoadTestConfig, role: list[str]
) -> list[str]:
    """The Locust command line for one process (``role``: [], master or worker options)."""
    folder.directory(RunFolder.LOADTEST_DIR)
    files = [LOCUSTFILE] if config.capacity is None else [LOCUSTFILE, CAPACITY_SHAPE]
    command = [
        sys.executable, "-m", "locust",
        "-f", ",".join(str(f) for f in files),
        "--config", str(LOCUST_CONF),
        "--host", host,
        "--user-prefix", config.user_prefix,
        "--seed-threads", str(config.seed_threads),
        "--seed-thread-length", str(config.seed_thread_length),
        "--hot-threads", str(config.hot_threads),
        "--think-min", str(config.think_min),
        "--think-max", str(config.think_max),
        "--ack-dir", str(folder.directory(RunFolder.ACKS_DIR)),
        *config.target.options(),
        *role,
    ]  # fmt: skip
    if "--worker" in role:
        return command
    if config.capacity is None:
        command += [
            "--users", str(config.users),
            "--spawn-rate", str(config.spawn_rate),
            "--run-time", config.run_time,
        ]  # fmt: skip
    else:
        # The shape sets users and ends the run; failures at the step that breaks the SLO
        # are what it measures, so they do not fail Locust (capacity.json judges them).
        command += config.capacity.options(folder.file(RunFolder.CAPACITY_FILE))
        command += ["--exit-code-on-error", "0", "--fail-ratio", "1"]
    command += [
        "--headless",
        "--stop-timeout", str(config.stop_timeout),
        "--csv", str(folder.path / RunFolder.LOCUST_PREFIX),
        "--csv-full-history",
        "--html", str(folder.file(RunFolder.LOCUST_HTML_FILE)),
        "--only-summary",
    ]  # fmt: skip
    if config.tags:
        command += ["--tags", *config.tags]
    if config.exclude_tags:
        command += ["--exclude-tags", *config.exclude_tags]
    if config.chaos_restart_at is not None:
        # Failures are expected around the restart; run.json's chaos verdict judges them.
        command += ["--exit-code-on-error", "0", "--fail-ratio", "1"]
    return command


def _echo(line: bytes) -> None:
    """Locust's lines a person running the command wants to see as they happen."""
    text = line.decode(errors="replace")
    if any(k in text for k in ("/loadtest:", "seed_http:", "chatkit loadtest:", "ERROR")):
        print(text.rstrip(), flush=True)


def run_locust(host: str, folder: RunFolder, config: LoadTestConfig) -> int:
    """Run Locust to completion (one process, or master + workers); its exit status."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **config.target.environment()}
    if config.locust_workers <= 0:
        with folder.file(RunFolder.LOCUST_LOG_FILE).open("wb") as log:
            command = locust_command(host, folder, config, [])
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
            )
            assert process.stdout is not None
            for line in process.stdout:
                log.write(line)
                _echo(line)
            return process.wait()
    port = free_port()
    master_role = [
        "--master",
        "--master-bind-host", LOOPBACK,
        "--master-bind-port", str(port),
        "--expect-workers", str(config.locust_workers),
    ]  # fmt: skip
    worker_role = ["--worker", "--master-host", LOOPBACK, "--master-port", str(port)]
    workers: list[subprocess.Popen[bytes]] = []
    with folder.file(RunFolder.LOCUST_LOG_FILE).open("wb") as log:
        master = subprocess.Popen(
            locust_command(host, folder, config, master_role), stdout=log, stderr=log, env=env
        )
        try:
            for n in range(config.locust_workers):
                worker_log = folder.file(RunFolder.LOCUST_WORKER_LOG_PATTERN.format(n=n)).open("wb")
                workers.append(
                    subprocess.Popen(
                        locust_command(host, folder, config, worker_role),
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


def fetch_server_metrics(host: str, timeout: float = 10.0) -> dict[str, Any]:
    """The server's ``GET /metrics`` (one worker process's view), or the error."""
    try:
        with urllib.request.urlopen(f"{host}/metrics", timeout=timeout) as resp:
            return {"metrics": json.load(resp), "error": None}
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return {"metrics": None, "error": f"{type(exc).__name__}: {exc}"}


# -- reading Locust's files ---------------------------------------------------------------------


def summarize_stats(stats_csv: Path) -> list[dict[str, Any]]:
    """Per request type: count, failures, requests/s, p50/p95/p99 (ms) from the stats CSV."""
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
                    **{
                        bench_percentile_key(p): float(row[locust_percentile_column(p)] or 0)
                        for p in PERCENTILES
                    },
                }
            )
    return rows


def total(rows: list[dict[str, Any]], column: str) -> int:
    """``column`` of Locust's total row (``requests`` or ``failures``)."""
    return sum(r[column] for r in rows if r["name"] == LOCUST_TOTAL_NAME)


def timings(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per streamed request type: count, p50 and p95 of each timing (ms) and of tokens/s."""
    found = {r["name"]: r for r in rows if r["type"] == SSE_TYPE}
    table = []
    for kind in STREAMING_REQUESTS:
        entry: dict[str, Any] = {"request": kind}
        for prefix in (*TIMING_PREFIXES, TOKENS_PREFIX):
            row = found.get(f"{prefix}{kind}")
            key = prefix.strip().replace("/", "_per_")
            entry[key] = (
                {"count": row["requests"], "p50": row["p50_ms"], "p95": row["p95_ms"]}
                if row
                else None
            )
        table.append(entry)
    return table


def print_summary(rows: list[dict[str, Any]], integrity: dict[str, Any] | None, out: Path) -> None:
    print(f"{'type':6} {'name':34} {'reqs':>7} {'fail':>5} {'req/s':>7} {'p50':>6} {'p95':>6}")
    for r in rows:
        print(
            f"{r['type']:6} {r['name'][:34]:34} {r['requests']:7d} {r['failures']:5d} "
            f"{r['rps']:7.1f} {r['p50_ms']:6.0f} {r['p95_ms']:6.0f}"
        )
    print("p50 / p95 (ms): first event | first assistant token | stream end | tokens/s")
    for t in timings(rows):
        cells = [
            f"{t[k]['p50']:.0f} / {t[k]['p95']:.0f}" if t[k] else "-"
            for k in ("ttfe", "ttft", "stream", "tokens_per_s")
        ]
        print(f"  {t['request']:26} " + " | ".join(cells))
    if integrity is None:
        print(f"results: {out}")
        return
    verdict = "PASSED" if integrity.get("passed") else "FAILED"
    print(f"integrity: {verdict}")
    for check in integrity.get("checks", []):
        print(f"  [{'ok' if check['passed'] else 'FAIL'}] {check['name']}: {check['detail']}")
    print(f"results: {out}")


def load_text(config: LoadTestConfig) -> str:
    """The load in words, for the progress lines."""
    cap = config.capacity
    if cap is None:
        return f"{config.users} users, {config.run_time}"
    return (
        f"capacity ramp: {cap.start_users}..{cap.max_users} users by {cap.step_users} every "
        f"{cap.step_duration:g} s, until p95 of {cap.request!r} > {cap.slo_p95_ms:g} ms or "
        "failures"
    )


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


def print_capacity(capacity: dict[str, Any] | None) -> None:
    if capacity is None:
        return
    print(f"capacity steps ({capacity['request']}, SLO p95 <= {capacity['slo_p95_ms']:g} ms):")
    for step in capacity.get("steps") or ():
        p95 = "-" if step["p95_ms"] is None else f"{step['p95_ms']:.0f}"
        mark = "ok" if step["within_slo"] else f"BROKEN: {step['reason']}"
        print(
            f"  {step['users']:5d} users {step['rps']:8.1f} req/s  p95 {p95:>6} ms  "
            f"{step['failures']:4d} failures  {mark}"
        )
    print(capacity["summary"], flush=True)


# -- the run, step by step ----------------------------------------------------------------------


def run_loadtest(config: LoadTestConfig, folder: RunFolder) -> int:
    """Run everything on a fresh database; write into ``folder``; return the exit status."""
    # Acks of an earlier run in this folder belong to another database.
    shutil.rmtree(folder.path / RunFolder.ACKS_DIR, ignore_errors=True)
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
    status: Locust's (1: preflight, no request, failure ratio, SLO), 2 when ``--verify``
    failed."""
    assert config.host
    settings = config.target.settings()  # checked once more; the CLI checked it first
    shutil.rmtree(folder.path / RunFolder.ACKS_DIR, ignore_errors=True)
    host = public_host(config.host)
    facts = {
        "mode": "remote",
        "host": host,
        "users": config.users,
        "spawn_rate": config.spawn_rate,
        "run_time": config.run_time,
        "locust_workers": config.locust_workers,
        "tags": config.tags,
        "exclude_tags": config.exclude_tags,
        "capacity": asdict(config.capacity) if config.capacity else None,
    }
    conditions = folder.record_conditions(STAGE, facts)
    print(f"load test against {host}{settings.chatkit_path} ({load_text(config)}); "
          f"results in {folder.path}", flush=True)  # fmt: skip
    started = time.time()
    status = run_locust(config.host, folder, config)
    capacity = finish_capacity(folder, conditions, config.capacity)
    rows = summarize_stats(folder.file(RunFolder.LOCUST_STATS_FILE))
    verified = None
    if config.verify and status in (0, 1) and total(rows, "requests"):
        from .verify_http import verify_over_http

        verified = verify_over_http(config.host, settings, folder.path / RunFolder.ACKS_DIR)
        folder.write_json(RunFolder.VERIFY_FILE, verified, conditions)
    folder.write_json(
        RunFolder.LOADTEST_RUN_FILE,
        {
            "mode": "remote",
            "host": host,
            "settings": {
                "users": config.users,
                "spawn_rate": config.spawn_rate,
                "run_time": config.run_time,
                "locust_workers": config.locust_workers,
                "tags": config.tags,
                "exclude_tags": config.exclude_tags,
                "think_min": config.think_min,
                "think_max": config.think_max,
                "scenario": settings.redacted(),
                "capacity": asdict(config.capacity) if config.capacity else None,
            },
            "versions": {
                k: conditions.get("packages", {}).get(k) for k in ("openai-chatkit", "locust")
            },
            "seconds": round(time.time() - started, 1),
            "locust_exit_status": status,
            "locust_requests": total(rows, "requests"),
            "locust_failures": total(rows, "failures"),
            "timings": timings(rows),
            "verify": verified,
            "capacity": capacity_brief(capacity),
        },
        conditions,
    )
    print_summary(rows, None, folder.directory(RunFolder.LOADTEST_DIR))
    print_capacity(capacity)
    if capacity is not None and status == 0 and not capacity.get("steps"):
        print("capacity: the ramp measured no step")
        return 1
    if verified is not None:
        print(f"verify: {'PASSED' if verified['passed'] else 'FAILED'}")
        for check in verified["checks"]:
            print(f"  [{'ok' if check['passed'] else 'FAIL'}] {check['name']}: {check['detail']}")
    if status != 0:
        print(f"Locust exit status {status}: see {folder.file(RunFolder.LOCUST_LOG_FILE)}")
        return 1
    return 2 if verified is not None and not verified["passed"] else 0


def run_steps(pg: PostgresServer, dsn: str, config: LoadTestConfig, folder: RunFolder) -> int:
    """The steps of one load test on the database ``dsn`` of ``pg``; the exit status."""
    conditions = record_conditions(folder, config, dsn, asyncio.run(pg.server_info()))
    seeded = seed(dsn, config)
    load = serve_and_load(pg, config.server.with_database(dsn), config, folder, conditions)
    capacity = finish_capacity(folder, conditions, config.capacity)
    integrity = check(dsn, folder, config.server.strategy)
    rows = summarize_stats(folder.file(RunFolder.LOCUST_STATS_FILE))
    chaos = judge_chaos(load, folder, rows, config.chaos_grace_s)
    write_results(folder, conditions, config, seeded, load, rows, integrity, chaos, capacity)
    print_summary(rows, integrity, folder.directory(RunFolder.LOADTEST_DIR))
    print_capacity(capacity)
    return verdict(load.locust_status, total(rows, "failures"), integrity, chaos, folder, capacity)


def record_conditions(
    folder: RunFolder, config: LoadTestConfig, dsn: str, postgres: dict[str, Any]
) -> dict[str, Any]:
    """Write the ``loadtest`` section of ``conditions.json``; return the conditions that
    every file of the load test carries."""
    server = {f.name: getattr(config.server, f.name) for f in ServerSettings.option_fields()}
    facts = {
        "database": mask_dsn(dsn),
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
            prefix=config.user_prefix,
            seed_threads=config.seed_threads,
            seed_thread_length=config.seed_thread_length,
            hot_threads=config.hot_threads,
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
            status = run_locust(host, folder, config)
        finally:
            if chaos is not None:
                chaos.stop()
        ended_at = time.time()
        metrics = {"server_workers": config.workers, **fetch_server_metrics(host)}
        if config.workers > 1:
            metrics["note"] = "one worker process's timings (each worker keeps its own)"
        folder.write_json(RunFolder.SERVER_METRICS_FILE, metrics, conditions)
    return LoadRun(status, ended_at, chaos.restart if chaos is not None else None)


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
        total(rows, "requests"),
        total(rows, "failures"),
        load.ended_at,
        grace_s,
    )


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
) -> None:
    """``integrity.json`` and ``run.json``, each with the run's conditions."""
    folder.write_json(RunFolder.INTEGRITY_FILE, integrity, conditions)
    settings = asdict(config)
    settings["dsn"] = mask_dsn(config.dsn) if config.dsn else None
    del settings["server"]["dsn"]  # unused: the run serves its fresh database (conditions)
    settings["target"] = config.target.settings().redacted()  # no token, header or cookie value
    folder.write_json(
        RunFolder.LOADTEST_RUN_FILE,
        {
            "settings": settings,
            "host": f"http://{LOOPBACK}:<free port>",
            "seeded": {
                k: (len(v) if isinstance(v, list) else v) for k, v in seeded.threads.items()
            },
            "seeding_s": round(seeded.seconds, 2),
            "locust_exit_status": load.locust_status,
            "locust_failures": total(rows, "failures"),
            "integrity_passed": integrity["passed"],
            "timings": timings(rows),
            "chaos": chaos,
            "capacity": capacity_brief(capacity),
        },
        conditions,
    )


def verdict(
    locust_status: int,
    failures: int,
    integrity: dict[str, Any],
    chaos: dict[str, Any] | None,
    folder: RunFolder,
    capacity: dict[str, Any] | None = None,
) -> int:
    """0 when everything held, 1 for Locust failures (or a failed chaos check, or a capacity
    ramp that measured no step), 2 for a failed integrity check. With ``capacity``, failures
    are part of the measurement: they end the ramp and ``capacity.json`` records them."""
    if capacity is not None:
        if locust_status != 0 or not capacity.get("steps"):
            print(f"capacity: no step measured (Locust exit status {locust_status}); see "
                  f"{folder.file(RunFolder.LOCUST_LOG_FILE)}")  # fmt: skip
            return 1
    elif chaos is not None:
        print(f"chaos: {'PASSED' if chaos['passed'] else 'FAILED'}: {chaos['detail']}")
        if locust_status != 0 or not chaos["passed"]:
            return 1
    elif locust_status != 0 or failures:
        failures_csv = folder.path / RunFolder.LOCUST_FAILURES_FILE
        print(f"Locust reported failures (exit status {locust_status}); see {failures_csv}")
        return 1
    return 0 if integrity["passed"] else 2
