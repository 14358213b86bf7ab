"""Alembic environment for the chatkit-pg schema.

The store runs migrations itself (``PostgresStore.create_schema`` and ``chatkit-pg migrate``)
and hands a connection in through ``config.attributes["connection"]``. Running the
``alembic`` command directly works too: it reads ``sqlalchemy.url`` (or CHATKIT_PG_DSN).
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from chatkit_pg.migrate import VERSION_TABLE

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=None,
        version_table=VERSION_TABLE,
        transactional_ddl=True,
        # Each migration commits with its version row; 0002 needs CONCURRENTLY outside one.
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_standalone() -> None:
    from chatkit_pg.engine import PoolOptions, create_engine

    url = config.get_main_option("sqlalchemy.url") or os.environ.get("CHATKIT_PG_DSN", "")
    engine = create_engine(url, PoolOptions(pool_size=1, max_overflow=0))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        literal_binds=True,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()
elif (connection := config.attributes.get("connection")) is not None:
    _run(connection)
else:
    asyncio.run(_run_standalone())
