"""``chatkit-pg races`` end to end, as a user runs it: a child process, a results folder.

Two strategies, two writer counts, the quick profile's rounds: a few seconds on the
session's PostgreSQL (embedded unless ``CHATKIT_PG_DSN`` names one), whose DSN reaches the
child through the environment, never on its command line. Everything lands in ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from chatkit_pg.harness.provision import PostgresServer
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import DSN_ENV, RACE_FULL_ENV, SCENARIOS

pytestmark = pytest.mark.race

STRATEGIES = ("counter", "naive_max")  # one race-free, one racy: both must keep their word
CONCURRENCY = (2, 4)


def test_races_command_writes_the_matrix_into_the_given_folder(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    env = {**os.environ, DSN_ENV: pg_server.dsn, RACE_FULL_ENV: "0"}
    command = [
        sys.executable, "-m", "chatkit_pg.cli", "races",
        "--results", str(tmp_path),
        "--strategies", ",".join(STRATEGIES),
        "--concurrency", ",".join(map(str, CONCURRENCY)),
    ]  # fmt: skip
    done = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    password = urlsplit(pg_server.dsn).password
    assert not password or password not in done.stdout + done.stderr

    folder = RunFolder(tmp_path)
    matrix = json.loads(folder.file(RunFolder.RACE_MATRIX_FILE).read_text())
    cells = {(r["strategy"], r["scenario"], r["concurrency"]) for r in matrix["rows"]}
    assert cells == {(s, sc, n) for s in STRATEGIES for sc in SCENARIOS for n in CONCURRENCY}
    assert all(r["adds"] > 0 for r in matrix["rows"])
    assert matrix["problems"] == {}
    assert matrix["conditions"]["stage"] == "races"
    assert matrix["conditions"]["profile"] == "quick"
    assert "postgres" in matrix["conditions"]

    conditions = folder.conditions()
    assert conditions is not None
    assert conditions["stages"]["races"]["strategies"] == list(STRATEGIES)
    assert conditions["stages"]["races"]["concurrency"] == list(CONCURRENCY)
    catalog = json.loads((tmp_path / RunFolder.STRATEGIES_FILE).read_text())
    assert set(catalog["strategies"]) >= set(STRATEGIES)
    assert not (tmp_path / "results").exists()  # nothing beside the folder it was given
