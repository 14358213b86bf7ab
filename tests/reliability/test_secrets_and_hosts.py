"""Security review as tests: DSN passwords never printed; load tools talk only to --host.

* The CLI (``migrate``, ``serve``, ``loadtest``) is pointed at a DSN with a password that
  cannot connect; the password must not appear in anything it prints, though the masked
  DSN may.
* No hard-coded network address in the load-test code (string constants other than
  docstrings), and a short real Locust run against 127.0.0.1 under a Python audit hook
  (``socket.connect`` / ``socket.getaddrinfo`` events) contacts nothing else.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import pytest

from chatkit_pg.harness.provision import PostgresServer
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import DSN_ENV, PROVIDER_ENV
from chatkit_pg.loadtest.orchestration.config import local_scenario
from chatkit_pg.loadtest.orchestration.run import (
    LOOPBACK,
    LoadTestConfig,
    free_port,
    locust_command,
    running_server,
)
from chatkit_pg.loadtest.server.settings import ServerSettings

from ..conftest import fresh_database

ROOT: Final = Path(__file__).resolve().parents[2]
PASSWORD: Final = "Sup3rS3cretPassw0rd"
# Port 1 on loopback: nothing listens, so every connection attempt fails at once.
DSNS: Final = (
    f"postgresql://chatkit:{PASSWORD}@127.0.0.1:1/chatkit",
    f"postgresql+asyncpg://chatkit:{PASSWORD}@127.0.0.1:1/chatkit",
    f"postgresql://chatkit@127.0.0.1:1/chatkit?password={PASSWORD}",
)
LOAD_CODE: Final = ("loadtest", "cli/commands")  # folders, from the repository root
ALLOWED_ADDRESSES: Final = {LOOPBACK, "127.0.0.1"}
# A URL's host (empty when an f-string fills it in), a bare IPv4 address, or a host name.
_ADDRESSES: Final = (
    re.compile(r"[a-z][a-z0-9+.-]*://(?:[^@/\s]*@)?([^/:?\s]*)"),
    re.compile(r"\b((?:\d{1,3}\.){3}\d{1,3})\b"),
    re.compile(r"\b(localhost|[\w-]+\.(?:com|org|net|io|dev|ai))\b"),
)


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in (DSN_ENV, PROVIDER_ENV)}
    return subprocess.run(
        [sys.executable, "-m", "chatkit_pg.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


@pytest.mark.parametrize("dsn", DSNS, ids=["userinfo", "asyncpg-scheme", "query"])
def test_migrate_never_prints_the_password(dsn: str) -> None:
    done = _cli("migrate", "--dsn", dsn)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert PASSWORD not in output, output[-2000:]


def test_serve_never_prints_the_password(tmp_path: Path) -> None:
    done = _cli("serve", "--dsn", DSNS[0], "--port", str(free_port()), "--log-level", "info")
    output = done.stdout + done.stderr
    assert done.returncode != 0, output  # the app cannot start without its database
    assert PASSWORD not in output, output[-2000:]
    assert "chatkit:***@127.0.0.1:1" in output  # the masked form is what gets printed


def test_loadtest_never_prints_or_saves_the_password(tmp_path: Path) -> None:
    done = _cli("loadtest", "--dsn", DSNS[2], "--run-time", "1s", "--results", str(tmp_path))
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert PASSWORD not in output, output[-2000:]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert PASSWORD not in path.read_text(errors="replace"), path


def _string_constants(path: Path) -> list[tuple[int, str]]:
    """String literals of a module except docstrings (usage examples may name hosts)."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and id(node) not in docstrings
    ]  # fmt: skip


def test_no_hard_coded_hosts_in_load_code() -> None:
    found = []
    for folder in LOAD_CODE:
        # A moved folder would otherwise leave nothing to scan, and the test passing.
        assert (ROOT / folder).is_dir(), f"{folder} is not a folder of the repository"
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line, text in _string_constants(path):
                hosts = {m.group(1) for pattern in _ADDRESSES for m in pattern.finditer(text)}
                if hosts - ALLOWED_ADDRESSES - {""}:
                    found.append(f"{path.relative_to(ROOT)}:{line}: {text!r}")
    conf = (ROOT / "loadtest" / "scenarios" / "locust.conf").read_text()
    assert not re.search(r"^\s*host\s*=", conf, re.MULTILINE), "locust.conf sets a host"
    assert not found, "\n".join(found)


AUDIT_WRAPPER: Final = """
import json, sys
log = open(sys.argv.pop(1), "w", buffering=1)
def hook(event, args):
    if event == "socket.connect":
        address = args[1]
        address = list(address) if isinstance(address, tuple) else str(address)
        log.write(json.dumps(["connect", address]) + "\\n")
    elif event == "socket.getaddrinfo":
        log.write(json.dumps(["getaddrinfo", str(args[0]), str(args[1])]) + "\\n")
sys.addaudithook(hook)
import runpy
sys.argv[0] = "locust"
runpy.run_module("locust", run_name="__main__", alter_sys=True)
"""


@pytest.fixture(scope="module")
async def hosts_dsn(pg_server: PostgresServer) -> AsyncIterator[str]:
    async with fresh_database(pg_server, "chatkit_hosts") as dsn:
        yield dsn


def test_locust_contacts_only_the_given_host(hosts_dsn: str, tmp_path: Path) -> None:
    config = LoadTestConfig(
        users=3,
        spawn_rate=3,
        run_time="4s",
        scenario=local_scenario(
            seed_threads=1, seed_thread_length=20, hot_threads=1, think_min=0.1, think_max=0.3
        ),
        stop_timeout=3,
        server=ServerSettings(delta_delay_ms=0, deltas=2),
    )
    events = tmp_path / "socket_events.jsonl"
    server = config.server.with_database(hosts_dsn)
    with running_server(server, tmp_path / "server.log") as (host, _):
        command = locust_command(host, RunFolder(tmp_path), config, [])
        assert command[1:3] == ["-m", "locust"]
        command = [sys.executable, "-c", AUDIT_WRAPPER, str(events), *command[3:]]
        done = subprocess.run(command, capture_output=True, text=True, timeout=90, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    port = int(host.rsplit(":", 1)[1])
    records = [json.loads(line) for line in events.read_text().splitlines()]
    connects = [r[1] for r in records if r[0] == "connect"]
    lookups = {r[1] for r in records if r[0] == "getaddrinfo"}
    print(f"{len(connects)} connects, lookups {sorted(lookups)}")
    assert len(connects) >= 3  # the hook saw the load itself
    others = [c for c in connects if not (isinstance(c, list) and c[:2] == [LOOPBACK, port])]
    assert not others, f"Locust connected elsewhere: {others[:10]}"
    assert lookups <= {LOOPBACK, "None"}, f"Locust resolved other names: {lookups}"


def test_a_local_load_tests_run_json_keeps_no_target_secret(tmp_path: Path) -> None:
    from chatkit_pg.loadtest.orchestration import run

    config = run.LoadTestConfig(
        scenario=local_scenario(
            auth_token="tok-s3cret", header=["X-Api-Key: hdr-s3cret"], cookie=["sid=ck-s3cret"]
        )
    )
    folder = RunFolder(tmp_path)
    run.write_results(
        folder, {}, config, run.Seeded({}, 0.0), run.LoadRun(0, 0.0), [], {"passed": True}, None
    )
    written = (tmp_path / RunFolder.LOADTEST_RUN_FILE).read_text()
    assert "s3cret" not in written
    assert "X-Api-Key" in written and "sid" in written  # the names stay
