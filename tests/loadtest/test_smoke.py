"""Headless Locust against a locally started server, single-process and distributed.

Both run the real ``chatkit-pg loadtest`` command (database on the session's PostgreSQL,
server and Locust as subprocesses on 127.0.0.1) and then read the files it wrote.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from chatkit_pg.harness.provision import PostgresServer
from chatkit_pg.loadtest.scenarios.acks import read_records

pytestmark = pytest.mark.slow

CSV_FILES = (
    "locust_stats.csv",
    "locust_stats_history.csv",
    "locust_failures.csv",
    "locust_exceptions.csv",
)


def run_loadtest(
    pg_server: PostgresServer, results: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "chatkit_pg.cli", "loadtest",
        "--dsn", pg_server.dsn, "--results", str(results),
        "--spawn-rate", "10", "--seed-thread-length", "300",
        "--think-min", "0.1", "--think-max", "0.5", "--delta-delay-ms", "2",
        *extra,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=150)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def check_results(
    out: Path, completed: subprocess.CompletedProcess[str]
) -> dict[str, dict[str, str]]:
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    for name in CSV_FILES:
        assert (out / name).exists(), name
        read_csv(out / name)  # parses
    assert (out / "locust_report.html").stat().st_size > 0
    stats = {f"{r['Type']} {r['Name']}": r for r in read_csv(out / "locust_stats.csv")}
    total = stats[" Aggregated"]
    assert int(total["Request Count"]) > 0 and int(total["Failure Count"]) == 0
    assert read_csv(out / "locust_failures.csv") == []
    integrity = json.loads((out / "integrity.json").read_text())
    assert integrity["passed"], integrity["checks"]
    assert integrity["acknowledged"]["threads.create"] > 0
    assert {c["name"] for c in integrity["checks"]} >= {"acknowledged_items_stored", "no_orphans"}
    run = json.loads((out / "run.json").read_text())
    assert run["integrity_passed"] and "conditions" in run
    return stats


def test_headless_smoke(pg_server: PostgresServer, tmp_path: Path) -> None:
    completed = run_loadtest(pg_server, tmp_path, "--users", "6", "--run-time", "15s")
    stats = check_results(tmp_path / "loadtest", completed)
    for name in (
        "POST threads.create",
        "POST threads.add_user_message",
        "POST items.list",
        "POST threads.list",
        "SSE ttfe threads.create",
        "SSE stream threads.create",
    ):
        assert int(stats[name]["Request Count"]) > 0, name  # fmt: skip
    # time to first event comes before the end of the stream
    ttfe = float(stats["SSE ttfe threads.add_user_message"]["Median Response Time"])
    end = float(stats["SSE stream threads.add_user_message"]["Median Response Time"])
    assert ttfe <= end
    # The server streams 8 deltas a reply (--deltas' default): 7 inter-token gaps a stream,
    # one time-per-output-token sample, each gap at least the 2 ms delay between deltas.
    streams = int(stats["SSE stream threads.add_user_message"]["Request Count"])
    itl = stats["SSE itl threads.add_user_message"]
    assert int(itl["Request Count"]) == 7 * streams
    assert int(stats["SSE tpot threads.add_user_message"]["Request Count"]) == streams
    assert float(itl["Median Response Time"]) >= 2
    run = json.loads((tmp_path / "loadtest" / "run.json").read_text())
    recorded = {t["request"]: t for t in run["timings"]}["threads.add_user_message"]
    assert recorded["itl"]["count"] == 7 * streams
    assert set(recorded["tpot"]) == {"count", "p50", "p90", "p95", "p99"}
    assert "itl threads.add_user_message" in completed.stdout


def test_distributed_smoke(pg_server: PostgresServer, tmp_path: Path) -> None:
    completed = run_loadtest(
        pg_server, tmp_path, "--users", "4", "--run-time", "6s", "--locust-workers", "2"
    )
    out = tmp_path / "loadtest"
    check_results(out, completed)
    log = (out / "locust.log").read_text()
    assert "2 workers connected" in log
    # both workers ran users: each wrote acknowledgements from its own process
    ack_files = sorted((out / "acks").glob("acks-*.jsonl"))
    writers = [f for f in ack_files if '"op":"ack"' in f.read_text()]
    assert len(ack_files) >= 2 and len(writers) >= 2
    # the orchestration sampled each Locust process's CPU: the master and both workers
    cpu = json.loads((out / "run.json").read_text())["load_generator"]
    roles = sorted((p["role"], p["index"]) for p in cpu["processes"])
    assert roles == [("master", 0), ("worker", 0), ("worker", 1)]
    assert all(p["samples"] >= 2 for p in cpu["processes"]), cpu
    assert "load generator CPU" in completed.stdout
    # one record per measured request, from both workers, exact where Locust rounds
    run = json.loads((out / "run.json").read_text())
    records = list(read_records(out / "requests"))
    assert run["records"]["requests"] == len(records) == run["locust_requests"]
    assert run["records"]["files"] == 2
    streamed = [r for r in records if r["type"] == "threads.add_user_message"]
    assert streamed and all(len(r["itl_ms"]) == r["deltas"] - 1 == 7 for r in streamed)
    assert all(r["ttfe_ms"] <= r["ttft_ms"] <= r["e2e_ms"] for r in streamed)
