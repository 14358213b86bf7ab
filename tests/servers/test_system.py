"""Debian's PostgreSQL as a provider (``CHATKIT_PG_PROVIDER=system``; 15 in CI).

The contract and race suites run on it in CI (see ``tests/conftest.py``); here, what the
provider itself promises: the server version reaches the results' conditions, ``chatkit-pg``
commands pick the provider from the environment, fault tests can stop and start it, PgBouncer
goes in front of it, and ``close()`` leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from chatkit_pg.harness.provision import (
    PostgresServer,
    ProvisioningError,
    database_name,
    pgbouncer_program,
    start_server,
    start_system_server,
    system_bin_dir,
)
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import BINDIR_ENV, DSN_ENV, PROVIDER_ENV, RACE_FULL_ENV

from ..requirements import need
from .conftest import require_system_postgres


@pytest.fixture(scope="module")
def system_server() -> Iterator[PostgresServer]:
    bin_dir = require_system_postgres()
    with start_system_server(bin_dir) as server:
        yield server


def major_version(bin_dir: Path | None) -> str:
    assert bin_dir is not None
    return bin_dir.parent.name  # /usr/lib/postgresql/15/bin


async def test_the_server_version_reaches_the_conditions(
    system_server: PostgresServer, tmp_path: Path
) -> None:
    info = await system_server.server_info()
    assert info["provider"] == "system"
    assert info["server_version"].startswith(f"{major_version(system_server.bin_dir)}.")
    RunFolder(tmp_path).record_conditions("races", {}, postgres=info)
    conditions = RunFolder(tmp_path).conditions()
    assert conditions is not None
    assert conditions["postgres"]["server_version"] == info["server_version"]


def test_commands_take_the_provider_from_the_environment(tmp_path: Path) -> None:
    """``CHATKIT_PG_PROVIDER=system chatkit-pg races``: its own Debian server, named in the
    matrix's conditions."""
    bin_dir = require_system_postgres()
    env = {k: v for k, v in os.environ.items() if k != DSN_ENV}
    env |= {PROVIDER_ENV: "system", BINDIR_ENV: str(bin_dir), RACE_FULL_ENV: "0"}
    command = [
        sys.executable, "-m", "chatkit_pg.cli", "races", "--results", str(tmp_path),
        "--strategies", "counter", "--scenarios", "hot_thread", "--concurrency", "2",
    ]  # fmt: skip
    done = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    matrix = json.loads(RunFolder(tmp_path).file(RunFolder.RACE_MATRIX_FILE).read_text())
    postgres = matrix["conditions"]["postgres"]
    assert postgres["provider"] == "system"
    assert postgres["server_version"].startswith(f"{major_version(bin_dir)}.")


async def test_stop_and_start_for_fault_tests(system_server: PostgresServer) -> None:
    system_server.stop()
    with pytest.raises((OSError, asyncpg.PostgresError)):
        await asyncpg.connect(system_server.dsn)
    system_server.start()
    conn = await asyncpg.connect(system_server.dsn)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()


async def test_pgbouncer_in_front_and_close_leaves_nothing() -> None:
    require_system_postgres()
    need(pgbouncer_program)
    server = start_server("system", pgbouncer=True)
    try:
        assert server.pooler is not None
        info = await server.server_info()
        assert info["pgbouncer"].startswith("PgBouncer ")
        assert info["pgbouncer"].endswith(", transaction pooling")
        dsn = await server.create_database(prefix="chatkit_sys")
        conn = await asyncpg.connect(server.client_dsn(dsn), statement_cache_size=0)
        try:
            assert await conn.fetchval("SELECT current_database()") == database_name(dsn)
        finally:
            await conn.close()
        pooler, data_dir = server.pooler, server.data_dir
        assert data_dir is not None
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
        process = pooler._process
        assert process is not None
    finally:
        server.close()
    assert server.pooler is None and process.poll() is not None
    assert not pooler.socket_dir.exists() and not data_dir.parent.exists()
    assert not running(pid)


def running(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie does not: a container's init may never reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def test_a_wrong_bin_dir_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(BINDIR_ENV, str(tmp_path))
    with pytest.raises(ProvisioningError, match=f"{BINDIR_ENV}=.*no postgres and initdb"):
        system_bin_dir()
