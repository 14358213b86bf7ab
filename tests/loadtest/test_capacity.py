"""Capacity: the stepped ramp's arithmetic, then ``chatkit-pg loadtest --find-capacity``
end to end -- locally (its own database and server) and with ``--host`` (a running server).

The end-to-end cases pick SLOs that decide the outcome whatever the machine: a generous one
the ramp holds to its top step, and one no stream can meet, which the first step breaks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from chatkit_pg.harness.provision import PostgresServer
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import CAPACITY_DEFAULT_REQUEST, capacity_sentence
from chatkit_pg.loadtest.orchestration.run import CapacityOptions
from chatkit_pg.loadtest.scenarios.capacity_steps import (
    Snapshot,
    close_step,
    percentile,
    verdict,
)

REQUEST = CAPACITY_DEFAULT_REQUEST


def snap(at: float, times: dict[int, int], requests: int, failures: int = 0) -> Snapshot:
    return Snapshot(at, Counter(times), sum(times.values()), requests, failures)


def test_a_step_is_the_difference_of_two_snapshots() -> None:
    before = snap(10.0, {100: 50, 2000: 5}, requests=400)
    # during the step: 90 fast, 10 slow streams; 300 requests in 10 s
    after = snap(20.0, {100: 140, 300: 10, 2000: 5}, requests=700)
    step = close_step(1, 20, before, after, 1000.0, 0.0, REQUEST)
    assert step["request_count"] == 100 and step["requests"] == 300
    assert step["rps"] == 30.0 and step["request_rps"] == 10.0
    assert step["p50_ms"] == 100 and step["p95_ms"] == 300  # the 2000s were before the step
    assert step["within_slo"] and step["reason"] is None


@pytest.mark.parametrize(
    ("after", "reason"),
    [
        (snap(10, {100: 90, 1500: 10}, 200), "p95 of 'stream threads.add_user_message' 1500 ms"),
        (snap(10, {100: 100}, 200, failures=1), "1 of 200 requests failed"),
        (snap(10, {}, 200), "no 'stream threads.add_user_message' completed"),
    ],
)
def test_a_step_breaks_on_p95_failures_or_no_samples(after: Snapshot, reason: str) -> None:
    step = close_step(0, 10, snap(0, {}, 0), after, 1000.0, 0.0, REQUEST)
    assert not step["within_slo"]
    assert reason in step["reason"]


def test_failures_within_the_allowed_ratio_hold() -> None:
    step = close_step(0, 10, snap(0, {}, 0), snap(10, {100: 100}, 200, 1), 1000.0, 0.01, REQUEST)
    assert step["within_slo"]


def test_percentile_is_locusts() -> None:
    """The values ``locust.stats.calculate_response_time_percentile`` gives (not imported
    here: Locust's import monkey-patches the test process for gevent)."""
    times = Counter({10: 3, 20: 50, 110: 7, 1200: 2})
    assert [percentile(times, 62, q) for q in (0.5, 0.95, 0.99)] == [20, 110, 1200]


def steps_of(*p95s: float) -> list[dict[str, Any]]:
    steps, before = [], snap(0, {}, 0)
    for index, p95 in enumerate(p95s):
        after = snap(before.at + 10, {**before.times, int(p95): 100}, before.requests + 100)
        after.times = before.times + Counter({int(p95): 100})
        after.completed = before.completed + 100
        steps.append(close_step(index, 10 * (index + 1), before, after, 1000.0, 0.0, REQUEST))
        before = after
    return steps


def test_verdict_is_the_last_step_before_the_break() -> None:
    result = verdict(steps_of(100, 400, 900, 1800), REQUEST, 1000.0, 0.0, 100, complete=True)
    assert result["sustained"]["users"] == 30 and result["broken"]["users"] == 40
    assert "step 3 (40 users) broke the SLO" in result["why"]
    assert capacity_sentence(result).startswith(
        f"sustained capacity: 30 users, 10.0 req/s at p95 <= 1000 ms of {REQUEST!r}"
    )


def test_verdict_when_the_top_holds_or_the_first_step_breaks() -> None:
    top = verdict(steps_of(100, 200), REQUEST, 1000.0, 0.0, 20, complete=True)
    assert top["reached_top"] and top["broken"] is None
    assert capacity_sentence(top).startswith("sustained capacity: at least 20 users")
    first = verdict(steps_of(5000), REQUEST, 1000.0, 0.0, 20, complete=True)
    assert first["sustained"] is None
    assert capacity_sentence(first).startswith("sustained capacity: below 10 users")


def test_capacity_options_are_checked() -> None:
    assert CapacityOptions(start_users=10, step_users=30, max_users=250).steps == 9
    with pytest.raises(ValueError, match="max-users"):
        CapacityOptions(start_users=10, max_users=5)
    with pytest.raises(ValueError, match="fail-ratio"):
        CapacityOptions(max_fail_ratio=2)


# -- end to end ---------------------------------------------------------------------------------


def loadtest(results: Path, *extra: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "chatkit_pg.cli", "loadtest", "--results", str(results),
        "--find-capacity", "--capacity-start-users", "2", "--capacity-step-users", "2",
        "--capacity-step-duration", "4s", "--capacity-max-users", "6", "--spawn-rate", "20",
        "--think-min", "0.1", "--think-max", "0.3", "--seed-thread-length", "100",
        *extra,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def read_capacity(results: Path) -> dict[str, Any]:
    return json.loads((results / RunFolder.CAPACITY_FILE).read_text())


@pytest.mark.slow
def test_find_capacity_locally_holds_a_generous_slo(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    done = loadtest(
        tmp_path, "--dsn", pg_server.dsn, "--delta-delay-ms", "2",
        "--capacity-slo-p95-ms", "20000",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    capacity = read_capacity(tmp_path)
    assert [s["users"] for s in capacity["steps"]] == [2, 4, 6]
    assert capacity["reached_top"] and capacity["broken"] is None and capacity["complete"]
    assert all(s["within_slo"] and s["request_count"] > 0 for s in capacity["steps"])
    assert capacity["conditions"]["capacity"]["max_users"] == 6
    assert "sustained capacity: at least 6 users" in done.stdout
    run = json.loads((tmp_path / RunFolder.LOADTEST_RUN_FILE).read_text())
    assert run["capacity"]["summary"] == capacity["summary"] and run["integrity_passed"]


@pytest.mark.slow
def test_find_capacity_against_a_host_stops_at_the_first_broken_step(
    server_url: str, tmp_path: Path
) -> None:
    """``--host``: an SLO of 1 ms breaks at the first step, and the ramp stops there."""
    done = loadtest(
        tmp_path, "--host", server_url, "--auth-header", "X-User-Id",
        "--auth-template", "{user}", "--capacity-slo-p95-ms", "1",
        "--capacity-request", "ttft threads.create", "--tags", "new",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    capacity = read_capacity(tmp_path)
    assert len(capacity["steps"]) == 1 and capacity["sustained"] is None
    assert capacity["broken"]["users"] == 2
    assert capacity["request"] == "ttft threads.create"
    assert "sustained capacity: below 2 users" in capacity["summary"]
    run = json.loads((tmp_path / RunFolder.LOADTEST_RUN_FILE).read_text())
    assert run["mode"] == "remote" and run["settings"]["capacity"]["slo_p95_ms"] == 1.0
