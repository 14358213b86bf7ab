"""Debian's PgBouncer (transaction mode) in front of a server, on a unix socket.

Applications connect through it (:meth:`PgBouncer.route`); admin work keeps the server's
direct DSN.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from .databases import check_database_name, to_libpq_url
from .errors import MissingProgramError, ProvisioningError
from .processes import give_to, run_as, unprivileged_user

if TYPE_CHECKING:
    from .server import PostgresServer

PGBOUNCER_PORT: Final = 6432
"""Port number of PgBouncer's socket (``.s.PGSQL.6432`` in a directory of its own)."""


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
        name = check_database_name(database)
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
    user = server._os_user or unprivileged_user()
    program = pgbouncer_program()
    version = run_as(None, [str(program), "--version"]).splitlines()[0].strip()
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
    give_to(root, user)
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
