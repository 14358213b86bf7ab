"""``chatkit-pg loadtest --chaos-restart-at``: PostgreSQL restarted under load, end to end.

A small run (6 users, 20 s, restart 8 s in) through the real CLI, on an embedded server of
its own (restarting the session's shared server would break other tests). Checks what the
issue demands: the integrity check passes (no acknowledged write lost or doubled),
failures only inside the restart window, none of them a 500, and requests succeed after it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chatkit_pg.harness.vocabulary import DSN_ENV, PROVIDER_ENV

pytestmark = pytest.mark.slow

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


@pytest.fixture(scope="module")
def chaos_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
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
    return results / "loadtest", output


def test_restart_happened_and_failures_stay_in_its_window(chaos_run: tuple[Path, str]) -> None:
    out, output = chaos_run
    chaos = _data(out / "run.json")["chaos"]
    print(json.dumps(chaos, indent=1))
    assert chaos["error"] is None and chaos["started_at"] and chaos["finished_at"]
    assert chaos["started_at"] >= chaos["window"][0] and chaos["finished_at"] <= chaos["window"][1]
    assert chaos["failures_outside_window"] == 0
    assert chaos["internal_errors"] == 0
    assert chaos["requests_after_window"] > 20 and chaos["failures_after_window"] == 0
    assert chaos["passed"] is True and "chaos: PASSED" in output


def test_integrity_holds_after_the_restart(chaos_run: tuple[Path, str]) -> None:
    out, _ = chaos_run
    integrity = _data(out / "integrity.json")
    print(json.dumps(integrity["acknowledged"]))
    assert integrity["passed"], integrity["checks"]
    acknowledged = integrity["acknowledged"]
    assert acknowledged["writes"] > 20
    assert acknowledged["writes_found_intact"] == acknowledged["writes"]


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
