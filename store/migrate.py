"""Alembic migrations run from Python: the same code path for the store, the CLI and tests."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

# Our own version table, so an application's alembic_version is never touched.
VERSION_TABLE: Final = "chatkit_alembic_version"
# Key of the transaction advisory lock that serialises concurrent migrators
# (several server processes calling create_schema() at start): "chatkit" in ASCII.
MIGRATION_LOCK_KEY: Final = 0x63686174_6B6974
MIGRATIONS_DIR: Final = Path(__file__).parent / "migrations"


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
    async with engine.connect() as conn:
        # The lock lives until commit, and alembic joins this transaction, so the DDL and
        # the version row become visible together and the next migrator sees "at head".
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})

        def run(sync_conn: Connection) -> None:
            config = alembic_config()
            config.attributes["connection"] = sync_conn
            getattr(command, action)(config, revision)

        await conn.run_sync(run)
        await conn.commit()


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
