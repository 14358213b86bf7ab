"""Engine construction: URL normalisation and the connection options worth having in production."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .dsn import SECRET_PARAMETERS, redact


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
            f"not a PostgreSQL URL: {redact(url)!r} "
            "(expected postgresql://user:password@host:5432/database or postgresql+asyncpg://...)"
        )
    return f"postgresql+asyncpg://{rest}"


# libpq URL parameters that asyncpg itself understands in a DSN: passed through untouched.
ASYNCPG_URL_PARAMETERS: Final = frozenset(
    {
        "host",
        "port",
        "dbname",
        "user",
        "password",
        "passfile",
        "service",
        "sslmode",
        "sslcert",
        "sslkey",
        "sslrootcert",
        "sslcrl",
        "sslpassword",
        "sslnegotiation",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "target_session_attrs",
        "krbsrvname",
        "gsslib",
    }
)
# libpq URL parameters the store maps itself (asyncpg would send them as server settings).
MAPPED_URL_PARAMETERS: Final = frozenset({"application_name", "connect_timeout", "options"})
# libpq parameters whose libpq default asyncpg also has: accepted with these values only.
DEFAULT_ONLY_PARAMETERS: Final = {
    "channel_binding": ("prefer", "disable"),
    "gssencmode": ("prefer", "disable"),
    "sslsni": ("1",),
}


@dataclass(frozen=True)
class ConnectionTarget:
    """A URL split into what asyncpg parses and what the store sets itself."""

    dsn: str
    application_name: str | None = None
    connect_timeout: float | None = None
    server_settings: tuple[tuple[str, str], ...] = ()


def parse_url(url: str) -> ConnectionTarget:
    """Split a libpq-style URL into asyncpg's DSN and the parameters the store applies.

    Raises:
        ValueError: not a PostgreSQL URL, or a parameter asyncpg cannot honour (named, with
            the supported ones listed); the message never contains the password.
    """
    async_url(url)  # scheme check with a masked message
    parts = urlsplit("postgresql://" + url.partition("://")[2])
    kept: list[tuple[str, str]] = []
    application_name = connect_timeout = None
    settings: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in ASYNCPG_URL_PARAMETERS:
            kept.append((key, value))
        elif key == "application_name":
            application_name = value
        elif key == "connect_timeout":
            connect_timeout = _timeout_seconds(value)
        elif key == "options":
            settings.extend(_options_settings(value))
        elif key in DEFAULT_ONLY_PARAMETERS and value in DEFAULT_ONLY_PARAMETERS[key]:
            continue  # asyncpg behaves this way already
        else:
            supported = sorted(ASYNCPG_URL_PARAMETERS | MAPPED_URL_PARAMETERS)
            shown = "***" if key in SECRET_PARAMETERS else value
            raise ValueError(
                f"unsupported connection URL parameter {key}={shown!r} in {redact(url)!r}: "
                f"asyncpg cannot honour it. Supported: {', '.join(supported)}; also "
                + ", ".join(f"{k}={'|'.join(v)}" for k, v in DEFAULT_ONLY_PARAMETERS.items())
            )
    dsn = urlunsplit(parts._replace(query=urlencode(kept, safe="/,:")))
    return ConnectionTarget(dsn, application_name, connect_timeout, tuple(settings))


def _timeout_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"connect_timeout must be a number of seconds, got {value!r}") from None
    if seconds <= 0:  # libpq: 0 means wait forever; a pool must not hang forever
        raise ValueError(f"connect_timeout must be positive, got {value!r}")
    return seconds


def _options_settings(value: str) -> list[tuple[str, str]]:
    """``options=-c name=value -c other=value`` (libpq) as server settings."""
    words = shlex.split(value)
    settings = []
    index = 0
    while index < len(words):
        word = words[index]
        if word == "-c" and index + 1 < len(words):
            setting, index = words[index + 1], index + 2
        elif word.startswith("-c"):
            setting, index = word[2:], index + 1
        elif word.startswith("--"):
            setting, index = word[2:], index + 1
        else:
            raise ValueError(f"options={value!r}: only '-c name=value' settings are supported")
        name, sep, setting_value = setting.partition("=")
        if not sep or not name:
            raise ValueError(f"options={value!r}: {setting!r} is not name=value")
        settings.append((name.replace("-", "_"), setting_value))
    return settings


def create_engine(url: str, options: PoolOptions) -> AsyncEngine:
    """Create (without connecting) the engine a store uses when given a URL.

    asyncpg opens the connections from the URL itself (TLS modes, several hosts,
    ``target_session_attrs``), through SQLAlchemy's ``creator`` hook: SQLAlchemy's own URL
    handling would forward every query key to ``asyncpg.connect`` as a keyword argument.
    """
    target = parse_url(url)
    server_settings = {"application_name": target.application_name or options.application_name}
    if options.statement_timeout_ms:
        server_settings["statement_timeout"] = str(int(options.statement_timeout_ms))
    server_settings.update(target.server_settings)
    if options.pgbouncer:
        # Transaction pooling hands each transaction a different server connection: no
        # session-level settings (set them on the PgBouncer side; PgBouncer refuses unknown
        # startup parameters) but application_name, which PgBouncer passes on; and neither
        # asyncpg's nor SQLAlchemy's prepared statements may outlive a statement.
        server_settings = {"application_name": server_settings["application_name"]}
    statement_cache_size = 0 if options.pgbouncer else 100
    timeout = target.connect_timeout or options.connect_timeout

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(
            target.dsn,
            timeout=timeout,
            server_settings=server_settings,
            statement_cache_size=statement_cache_size,
        )

    def creator() -> Any:
        dbapi = engine.sync_engine.dialect.loaded_dbapi
        return dbapi.connect(
            async_creator_fn=connect, prepared_statement_cache_size=statement_cache_size
        )

    engine = create_async_engine(
        "postgresql+asyncpg://",
        creator=creator,
        pool_size=options.pool_size,
        max_overflow=options.max_overflow,
        pool_timeout=options.pool_timeout,
        pool_recycle=options.pool_recycle,
        pool_pre_ping=options.pool_pre_ping,
    )
    return engine
