"""Alembic migrations: up, down, idempotent, concurrent, and the CLI."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import asyncpg

from chatkit_pg import PostgresStore, migrate
from chatkit_pg.harness.provision import PostgresServer

TABLES = {"chatkit_threads", "chatkit_thread_items", "chatkit_attachments"}


async def _tables(dsn: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
    finally:
        await conn.close()
    return {r["tablename"] for r in rows}


async def test_upgrade_downgrade_upgrade(empty_database_dsn: str) -> None:
    store: PostgresStore[Any] = PostgresStore(empty_database_dsn, pool_size=1)
    try:
        assert await migrate.current_revision(store.engine) is None
        await store.create_schema()
        assert await migrate.current_revision(store.engine) == migrate.head_revision()
        assert TABLES <= await _tables(empty_database_dsn)
        # Only our own version table: an application's alembic_version is never touched.
        assert "alembic_version" not in await _tables(empty_database_dsn)

        await migrate.downgrade(store.engine, "base")
        assert await migrate.current_revision(store.engine) is None
        assert not TABLES & await _tables(empty_database_dsn)

        await store.create_schema()
        await store.create_schema()  # idempotent
        assert TABLES <= await _tables(empty_database_dsn)
    finally:
        await store.close()


async def test_concurrent_create_schema_from_many_processes_worth_of_stores(
    empty_database_dsn: str,
) -> None:
    stores: list[PostgresStore[Any]] = [
        PostgresStore(empty_database_dsn, pool_size=1, max_overflow=0) for _ in range(8)
    ]
    try:
        await asyncio.gather(*(s.create_schema() for s in stores))
        assert await migrate.current_revision(stores[0].engine) == migrate.head_revision()
    finally:
        await asyncio.gather(*(s.close() for s in stores))


def test_cli_migrate_up_and_down(pg_server: PostgresServer, empty_database_dsn: str) -> None:
    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "chatkit_pg.cli", "migrate", "--dsn", empty_database_dsn, *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "empty -> 0002" in cli()
    assert "0002 -> 0002" in cli()
    assert "0002 -> 0001" in cli("--downgrade", "--revision", "0001")
    assert "0001 -> 0002" in cli()
    assert "0002 -> base" in cli("--downgrade", "--revision", "base")
