"""Locust as child processes: its command line (one process, or master and workers) and
the run to completion."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from chatkit_pg.harness.results import RunFolder
from chatkit_pg.loadtest import scenarios
from chatkit_pg.loadtest.scenarios.settings import ScenarioSettings

from .config import LoadTestConfig
from .loadgen_cpu import CpuSampler
from .processes import LOOPBACK, free_port, stop_process

SCENARIOS_DIR: Final = Path(scenarios.__file__).resolve().parent
LOCUSTFILE: Final = SCENARIOS_DIR / "locustfile.py"
CAPACITY_SHAPE: Final = SCENARIOS_DIR / "capacity.py"
LOCUST_CONF: Final = SCENARIOS_DIR / "locust.conf"


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
        *scenario_of(folder, config).to_options(),
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


def scenario_of(folder: RunFolder, config: LoadTestConfig) -> ScenarioSettings:
    """The run's scenario settings with its folder's files: the ack logs, the request
    records and the ramp's steps (every setting goes on Locust's command line, so
    locust.conf changes nothing)."""
    files: dict[str, Any] = {
        "ack_dir": str(folder.directory(RunFolder.ACKS_DIR)),
        "records_dir": str(folder.directory(RunFolder.RECORDS_DIR)),
    }
    if config.capacity is not None:
        files.update(config.capacity.scenario_values(folder.file(RunFolder.CAPACITY_FILE)))
    return replace(config.scenario, **files)


def _echo(line: bytes) -> None:
    """Locust's lines a person running the command wants to see as they happen."""
    text = line.decode(errors="replace")
    if any(k in text for k in ("/loadtest:", "seed_http:", "chatkit loadtest:", "ERROR")):
        print(text.rstrip(), flush=True)


def run_locust(host: str, folder: RunFolder, config: LoadTestConfig) -> tuple[int, dict[str, Any]]:
    """Run Locust to completion (one process, or master + workers): its exit status, and
    the CPU every Locust process used meanwhile (:func:`.loadgen_cpu.summarize`)."""
    cpu = CpuSampler()
    try:
        status = _run_locust(host, folder, config, cpu)
    finally:
        load_generator = cpu.stop()
    return status, load_generator


def _run_locust(host: str, folder: RunFolder, config: LoadTestConfig, cpu: CpuSampler) -> int:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **config.scenario.to_env()}
    if config.locust_workers <= 0:
        with folder.file(RunFolder.LOCUST_LOG_FILE).open("wb") as log:
            command = locust_command(host, folder, config, [])
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
            )
            cpu.watch("single", 0, process.pid)
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
        cpu.watch("master", 0, master.pid)
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
                cpu.watch("worker", n, workers[-1].pid)
            return master.wait()
        finally:
            stop_process(master)
            for worker in workers:
                try:
                    worker.wait(20)
                except subprocess.TimeoutExpired:
                    stop_process(worker)
