"""``chatkit-pg loadtest --chaos-restart-at``: PostgreSQL restarted under load.

End to end (slow): a small run (6 users, 20 s, restart 8 s in) through the real CLI, on an
embedded server of its own (restarting the session's shared server would break other
tests). Checks what the issue demands: the integrity check passes (no acknowledged write
lost or doubled), failures only inside the restart window, none of them a 500, and requests
succeed after it. The window is rebuilt here from the restart times the run recorded, and
Locust's history is read again here, so the verdict is not taken on the run's word.

Unit (fast): :func:`judge` on hand-written Locust files, so a failure planted outside the
window must fail the check, and one inside must not.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import DSN_ENV, HTTP_5XX, LOCUST_TOTAL_NAME, PROVIDER_ENV
from chatkit_pg.loadtest.orchestration.chaos import RESOLUTION_S, Restart, judge

COMMAND = [
    "loadtest",
    "--chaos-restart-at", "8s",
    "--chaos-grace", "6s",
    "--users", "6",
    "--spawn-rate", "6",
    "--run-time", "20s",
    "--seed-threads", "1",
    "--seed-thread-length", "50",
    "--hot-threads", "1",
    "--think-min", "0.2",
    "--think-max", "0.6",
    "--deltas", "4",
    "--delta-delay-ms", "2",
]  # fmt: skip


def _data(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text())
    return document.get("data", document)


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (DSN_ENV, PROVIDER_ENV)}
    return {**env, "PYTHONUNBUFFERED": "1"}


def _history(path: Path) -> list[tuple[float, int, int]]:
    """(timestamp, total requests, total failures) of Locust's total rows, in time order."""
    with path.open(newline="") as handle:
        return sorted(
            (float(r["Timestamp"]), int(r["Total Request Count"]), int(r["Total Failure Count"]))
            for r in csv.DictReader(handle)
            if r["Name"] == LOCUST_TOTAL_NAME
        )


@pytest.fixture(scope="module")
def chaos_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunFolder, str]:
    if os.environ.get(DSN_ENV) or os.environ.get(PROVIDER_ENV, "embedded") != "embedded":
        pytest.skip("the chaos run restarts its database: it needs the embedded provider")
    results = tmp_path_factory.mktemp("chaos")
    done = subprocess.run(
        [sys.executable, "-m", "chatkit_pg.cli", *COMMAND, "--results", str(results)],
        capture_output=True,
        text=True,
        timeout=150,
        env=_environment(),
    )
    output = done.stdout + done.stderr
    print(output[-3000:])
    assert done.returncode == 0, output[-3000:]
    return RunFolder(results), output


@pytest.mark.slow
def test_restart_happened_and_failures_stay_in_its_window(
    chaos_run: tuple[RunFolder, str],
) -> None:
    folder, output = chaos_run
    chaos = _data(folder.path / RunFolder.LOADTEST_RUN_FILE)["chaos"]
    print(json.dumps(chaos, indent=1))
    assert chaos["error"] is None and chaos["scheduled_after_s"] == 8
    started, finished = chaos["started_at"], chaos["finished_at"]
    assert started and finished and started <= finished

    # The window, from the recorded restart times alone.
    low, high = started - RESOLUTION_S, finished + chaos["grace_s"]
    assert chaos["window"] == [round(low, 3), round(high, 3)]

    # Locust's own history, read again: the restart fell inside the load, and every second
    # in which the failure count rose overlaps the window.
    history = _history(folder.path / RunFolder.LOCUST_HISTORY_FILE)
    assert history[0][0] < started < history[-1][0]
    outside = [
        (before[0], after[0], after[2] - before[2])
        for before, after in itertools.pairwise(history)
        if after[2] > before[2] and not (after[0] >= low and before[0] < high)
    ]
    assert not outside, f"failures outside [{low}, {high}]: {outside}"
    assert history[0][2] == 0  # nothing failed before the first second
    served_after = history[-1][1] - max(r for t, r, _ in history if t < high)
    assert served_after > 20 and history[-1][2] == max(f for t, _, f in history if t < high)

    assert chaos["failures_outside_window"] == 0
    assert chaos["internal_errors"] == 0
    assert chaos["requests_after_window"] > 20 and chaos["failures_after_window"] == 0
    assert chaos["passed"] is True and "chaos: PASSED" in output


@pytest.mark.slow
def test_integrity_holds_after_the_restart(chaos_run: tuple[RunFolder, str]) -> None:
    folder, _ = chaos_run
    integrity = _data(folder.path / RunFolder.INTEGRITY_FILE)
    print(json.dumps(integrity["acknowledged"]))
    assert integrity["passed"], integrity["checks"]
    acknowledged = integrity["acknowledged"]
    assert acknowledged["writes"] > 20
    assert acknowledged["writes_found_intact"] == acknowledged["writes"]


@pytest.mark.slow
def test_chaos_refuses_a_server_it_cannot_restart(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "chatkit_pg.cli", *COMMAND[:3],
            "--dsn", "postgresql://u:pw@127.0.0.1:1/x", "--results", str(tmp_path),
        ],
        capture_output=True, text=True, timeout=60, env=_environment(),
    )  # fmt: skip
    assert done.returncode != 0
    assert "embedded" in done.stderr and "Traceback" not in done.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "chatkit_pg.cli", "loadtest", "--chaos-restart-at", "soon"],
        capture_output=True, text=True, timeout=60, env=_environment(),
    )  # fmt: skip
    assert bad.returncode != 0 and "'soon'" in bad.stderr


# -- judge() on hand-written Locust files -------------------------------------------------------

START: float = 1000.0  # first history row (epoch s)
RESTART = Restart(scheduled_after_s=10, started_at=1010.2, finished_at=1011.5)
GRACE_S = 3.0  # window: [1009.2, 1014.5]
SECONDS = 30  # history rows at 1001 .. 1030, 10 requests each
ENDED_AT = START + SECONDS + 0.5


def _write_history(path: Path, failed_at: dict[int, int]) -> tuple[int, int]:
    """One total row per second; ``failed_at``: second -> failures in the second before it.

    Returns:
        The final (requests, failures).
    """
    requests = failures = 0
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Timestamp", "Type", "Name", "Total Request Count", "Total Failure Count"])
        for second in range(1, SECONDS + 1):
            requests += 10
            failures += failed_at.get(second, 0)
            writer.writerow([int(START) + second, "", LOCUST_TOTAL_NAME, requests, failures])
            writer.writerow([int(START) + second, "POST", "threads.list", requests // 2, 0])
    return requests, failures


def _write_failures(path: Path, errors: dict[str, int]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Method", "Name", "Error", "Occurrences"])
        for error, count in errors.items():
            writer.writerow(["POST", "threads.add_user_message", error, count])


def _judge(
    tmp_path: Path,
    failed_at: dict[int, int],
    errors: dict[str, int] | None = None,
    late: tuple[int, int] = (5, 0),
    restart: Restart = RESTART,
) -> dict[str, Any]:
    """judge() on files with failures at ``failed_at``; ``late``: (requests, failures) made
    after the last history row."""
    history, failures = tmp_path / "history.csv", tmp_path / "failures.csv"
    requests, failed = _write_history(history, failed_at)
    _write_failures(failures, errors or {})
    return judge(
        restart, history, failures, requests + late[0], failed + late[1], ENDED_AT, GRACE_S
    )


def test_judge_passes_failures_inside_the_window(tmp_path: Path) -> None:
    # Seconds 1011 and 1015 (intervals 1010-1011, 1014-1015) both touch [1009.2, 1014.5].
    verdict = _judge(tmp_path, {11: 3, 15: 1}, {f"{HTTP_5XX}: 503 database down": 4})
    assert verdict["window"] == [1009.2, 1014.5]
    assert verdict["failures_inside_window"] == 4 and verdict["failures_outside_window"] == 0
    assert verdict["requests_after_window"] > 0 and verdict["failures_after_window"] == 0
    assert verdict["passed"] is True, verdict["detail"]


@pytest.mark.parametrize(
    "failed_at", [{20: 1}, {5: 1}, {16: 1}, {11: 3, 25: 1}], ids=["after", "before", "edge", "both"]
)
def test_judge_fails_a_failure_outside_the_window(
    tmp_path: Path, failed_at: dict[int, int]
) -> None:
    verdict = _judge(tmp_path, failed_at)
    outside = sum(n for second, n in failed_at.items() if second not in (11,))
    assert verdict["failures_outside_window"] == outside
    assert verdict["passed"] is False, verdict


def test_judge_fails_a_failure_after_the_last_history_row(tmp_path: Path) -> None:
    verdict = _judge(tmp_path, {}, late=(5, 1))
    assert verdict["failures_outside_window"] == 1 and verdict["failures_after_window"] == 1
    assert verdict["passed"] is False


def test_judge_fails_a_500_even_inside_the_window(tmp_path: Path) -> None:
    verdict = _judge(tmp_path, {11: 1}, {f"{HTTP_5XX}: 500 internal error": 1})
    assert verdict["failures_outside_window"] == 0 and verdict["internal_errors"] == 1
    assert verdict["passed"] is False


def test_judge_fails_when_nothing_was_served_after_the_window(tmp_path: Path) -> None:
    restart = Restart(scheduled_after_s=10, started_at=1010.2, finished_at=START + SECONDS)
    verdict = _judge(tmp_path, {}, late=(0, 0), restart=restart)
    assert verdict["requests_after_window"] == 0 and verdict["passed"] is False


@pytest.mark.parametrize(
    "restart",
    [
        Restart(scheduled_after_s=10),
        Restart(scheduled_after_s=10, started_at=1010.2, finished_at=1011.5, error="boom"),
    ],
    ids=["never ran", "failed"],
)
def test_judge_fails_a_restart_that_did_not_happen(tmp_path: Path, restart: Restart) -> None:
    verdict = _judge(tmp_path, {}, restart=restart)
    assert verdict["passed"] is False and verdict["detail"]
