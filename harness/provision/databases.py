"""Database admin: the one place that creates and drops databases.

Every room (tests, bench, races, load test, CLI) makes its databases through
:meth:`PostgresServer.create_database` or the helpers here, which all end in
:meth:`DatabaseLedger.create` and :meth:`DatabaseLedger.drop`. The ledger remembers what this
process created on a server and drops nothing else, so a server of the user's own
(``CHATKIT_PG_DSN``) loses only databases the run made. Admin work always uses the server's
direct DSN, never PgBouncer.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from chatkit_pg.dsn import redact

if TYPE_CHECKING:
    from .pgbouncer import PgBouncer
    from .server import PostgresServer

_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def to_libpq_url(dsn: str) -> str:
    """Normalise ``postgresql+asyncpg://`` and ``postgres://`` to ``postgresql://``."""
    scheme, sep, rest = dsn.partition("://")
    if not sep or scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise ValueError(
            f"not a PostgreSQL URL: {redact(dsn)!r} (expected postgresql://user:pass@host/db)"
        )
    return f"postgresql://{rest}"


def with_database(dsn: str, database: str) -> str:
    """Return ``dsn`` pointing at ``database`` on the same server, other options kept."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


def database_name(dsn: str) -> str:
    """The database a DSN points at."""
    return urlsplit(dsn).path.lstrip("/")


def check_database_name(name: str) -> str:
    """``name`` if it is a plain lower-case identifier, else ValueError."""
    # Database names go into CREATE/DROP DATABASE, which cannot take bind parameters,
    # so only plain lower-case identifiers are accepted (and quoted anyway).
    if not _DATABASE_NAME.match(name):
        raise ValueError(
            f"database name {name!r} must match {_DATABASE_NAME.pattern} "
            "(lower-case letters, digits and underscores, at most 63 characters)"
        )
    return name


@dataclass
class DatabaseLedger:
    """The databases this process created on one server, oldest first.

    Only these can be dropped through it: a name it did not create is refused.
    """

    names: list[str] = field(default_factory=list)

    async def create(
        self,
        admin_dsn: str,
        name: str | None = None,
        *,
        template: str | None = None,
        prefix: str = "chatkit",
    ) -> str:
        """``CREATE DATABASE`` (a unique ``{prefix}_<hex>`` unless named); returns the name."""
        name = check_database_name(name or f"{prefix}_{uuid.uuid4().hex[:16]}")
        statement = f'CREATE DATABASE "{name}"'
        if template is not None:
            statement += f' TEMPLATE "{check_database_name(template)}"'
        await _execute(admin_dsn, statement)
        self.names.append(name)
        return name

    async def drop(self, admin_dsn: str, name: str, *, pooler: PgBouncer | None = None) -> None:
        """Drop a database this ledger created, disconnecting its sessions first."""
        check_database_name(name)
        if name not in self.names:
            raise ValueError(f"database {name!r} was not created by this process: not dropped")
        if pooler is not None:
            # Else DROP ... FORCE terminates PgBouncer's idle server connections and polls
            # for their exit in 100 ms steps: a tenth of a second per test database.
            await pooler.disconnect(name)
        await _execute(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.names.remove(name)


async def _execute(admin_dsn: str, statement: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@asynccontextmanager
async def temporary_database(
    server: PostgresServer, prefix: str, *, template: str | None = None
) -> AsyncIterator[str]:
    """A new database ``{prefix}_<hex>`` on ``server``: yields its DSN, drops it afterwards."""
    dsn = await server.create_database(prefix=prefix, template=template)
    try:
        yield dsn
    finally:
        await server.drop_database(database_name(dsn))


@dataclass
class DatabaseGroup:
    """Databases made for one owner (a bench run), dropped together newest first."""

    server: PostgresServer
    names: list[str] = field(default_factory=list)

    async def create(self, prefix: str, template: str | None = None) -> str:
        """Create a database in this group; returns its DSN."""
        dsn = await self.server.create_database(prefix=prefix, template=template)
        self.names.append(database_name(dsn))
        return dsn

    async def drop_all(self) -> None:
        """Drop every database of this group, newest first (copies before their templates)."""
        while self.names:
            await self.server.drop_database(self.names.pop())
