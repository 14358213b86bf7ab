"""``CHATKIT_PG_PROVIDER=system``: Debian's PostgreSQL, made with initdb in a temporary dir."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..vocabulary import BINDIR_ENV
from .errors import MissingProgramError, ProvisioningError
from .processes import give_to, run_as, unprivileged_user
from .server import PostgresServer
from .settings import free_port

SYSTEM_BIN_ROOT: Final = Path("/usr/lib/postgresql")
"""Where Debian's postgresql-NN packages install their programs (``NN/bin``)."""


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
    user = unprivileged_user()
    root = Path(tempfile.mkdtemp(prefix="chatkit-pg-system-"))
    data_dir = root / "pgdata"
    server = PostgresServer(
        dsn="",
        provider="system",
        bin_dir=bin_dir,
        data_dir=data_dir,
        _os_user=user,
        _start_options=(),  # its listen settings are in its postgresql.conf
    )
    server._close_callbacks.append(lambda: shutil.rmtree(root, ignore_errors=True))
    try:
        give_to(root, user)
        run_as(
            user,
            [
                str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres",
                "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
            ],
            cwd=root,
        )  # fmt: skip
        port = free_port() if tcp else 5432
        conf: dict[str, str | int] = {
            "listen_addresses": "127.0.0.1" if tcp else "",
            "port": port,
            "unix_socket_directories": str(root),
        }
        if tls is not None:
            shutil.copyfile(tls.cert_file, data_dir / "server.crt")
            shutil.copyfile(tls.key_file, data_dir / "server.key")
            (data_dir / "server.key").chmod(0o600)
            give_to(data_dir, user)
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
