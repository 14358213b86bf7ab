"""Engine construction: URL normalisation and the connection options worth having in production."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .dsn import mask_dsn


@dataclass(frozen=True)
class PoolOptions:
    """Connection and pool settings of an engine the store creates.

    Attributes:
        pool_size: connections kept open.
        max_overflow: extra connections opened under load, closed when returned.
        pool_timeout: seconds a caller waits for a free connection before
            :class:`~store.errors.StoreUnavailableError`.
        pool_recycle: seconds after which a connection is replaced (server-side idle limits).
        pool_pre_ping: test each connection on checkout with a round trip. Off by default:
            the store already discards connections whose socket the server closed (a restart),
            at no cost; turn it on behind proxies that drop idle connections silently.
        statement_timeout_ms: server-side ``statement_timeout`` for every statement (0 = none).
        connect_timeout: seconds to establish a connection.
        pgbouncer: PgBouncer in transaction mode: no prepared-statement caches, no
            session-level settings at connect (set them on the PgBouncer side instead).
        application_name: shown in ``pg_stat_activity``.
    """

    pool_size: int = 10
    max_overflow: int = 10
    pool_timeout: float = 30.0
    pool_recycle: int = 1800
    pool_pre_ping: bool = False
    statement_timeout_ms: int = 0
    connect_timeout: float = 10.0
    pgbouncer: bool = False
    application_name: str = "chatkit-pg"

    @classmethod
    def from_kwargs(cls, options: dict[str, Any]) -> PoolOptions:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(
                f"unknown pool option(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}"
            )
        return cls(**options)


def async_url(url: str) -> str:
    """Return ``url`` with the ``postgresql+asyncpg`` driver, accepting the common spellings.

    ``postgresql://user@/db?host=/socket/dir`` (the embedded server's unix-socket form) is
    kept as is apart from the scheme.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
        raise ValueError(
            f"not a PostgreSQL URL: {mask_dsn(url)!r} "
            "(expected postgresql://user:password@host:5432/database or postgresql+asyncpg://...)"
        )
    return f"postgresql+asyncpg://{rest}"


def create_engine(url: str, options: PoolOptions) -> AsyncEngine:
    """Create (without connecting) the engine a store uses when given a URL."""
    server_settings = {"application_name": options.application_name}
    if options.statement_timeout_ms and not options.pgbouncer:
        server_settings["statement_timeout"] = str(int(options.statement_timeout_ms))
    connect_args: dict[str, Any] = {
        "timeout": options.connect_timeout,
        "server_settings": server_settings,
    }
    if options.pgbouncer:
        # Transaction pooling hands each transaction a different server connection, so
        # neither asyncpg's nor SQLAlchemy's prepared statements may outlive a statement.
        connect_args["statement_cache_size"] = 0
        connect_args["prepared_statement_cache_size"] = 0
        connect_args["server_settings"] = {}
    return create_async_engine(
        async_url(url),
        pool_size=options.pool_size,
        max_overflow=options.max_overflow,
        pool_timeout=options.pool_timeout,
        pool_recycle=options.pool_recycle,
        pool_pre_ping=options.pool_pre_ping,
        connect_args=connect_args,
    )
