"""Alembic migrations run from Python: the same code path for the store, the CLI and tests."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Final

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

# Our own version table, so an application's alembic_version is never touched.
VERSION_TABLE: Final = "chatkit_alembic_version"
# Key of the transaction advisory lock that serialises concurrent migrators
# (several server processes calling create_schema() at start): "chatkit" in ASCII.
MIGRATION_LOCK_KEY: Final = 0x63686174_6B6974
MIGRATIONS_DIR: Final = Path(__file__).parent / "migrations"
LOCK_POLL_SECONDS: Final = 0.1
# One row when the lock was taken: the status tag says so without a result set.
TRY_LOCK_SQL: Final = f"SELECT 1 WHERE pg_try_advisory_xact_lock({MIGRATION_LOCK_KEY})"


def alembic_config() -> Config:
    """Alembic configuration pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest revision shipped with this package."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def _locked(engine: AsyncEngine, action: str, revision: str) -> None:
    """Run alembic's ``action`` while holding the migration lock.

    The lock is a transaction advisory lock held by a second connection of a private
    one-connection pool (so a pool of one still migrates), while alembic commits each
    migration on its own: 0002 builds indexes CONCURRENTLY, which cannot run inside a
    transaction. Transaction-scoped, the lock works through PgBouncer in transaction mode
    too, where a session lock could stay with a server connection that nobody holds.
    """
    lock_pool = engine.sync_engine.pool.recreate()
    holder = await greenlet_spawn(lock_pool.connect)
    try:
        lock_conn: asyncpg.Connection = holder.driver_connection  # type: ignore[assignment]
        # READ COMMITTED whatever the server's default: an idle transaction then holds no
        # snapshot, which CREATE INDEX CONCURRENTLY would otherwise wait for.
        await lock_conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        # Polled, not waited for: a session waiting inside pg_advisory_xact_lock holds a
        # snapshot, and the migrator's CREATE INDEX CONCURRENTLY would wait for it forever.
        # Simple-protocol statements (execute without arguments): an extended-protocol
        # portal would keep its snapshot while the transaction sits idle.
        while True:
            if await lock_conn.execute(TRY_LOCK_SQL) == "SELECT 1":
                break
            await asyncio.sleep(LOCK_POLL_SECONDS)
        async with engine.connect() as conn:

            def run(sync_conn: Connection) -> None:
                config = alembic_config()
                config.attributes["connection"] = sync_conn
                getattr(command, action)(config, revision)

            await conn.run_sync(run)
            await conn.commit()
    finally:
        # Closing the lock's connection ends its transaction and releases the lock.
        await greenlet_spawn(holder.invalidate)
        await greenlet_spawn(lock_pool.dispose)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade to ``revision``; idempotent and safe when several processes call it at once."""
    await _locked(engine, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Downgrade to ``revision`` (``base`` removes every chatkit table)."""
    await _locked(engine, "downgrade", revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or ``None`` before the first migration."""
    async with engine.connect() as conn:

        def read(sync_conn: Connection) -> str | None:
            context = MigrationContext.configure(sync_conn, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision()

        return await conn.run_sync(read)
