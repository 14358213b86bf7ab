"""Which provider starts or finds the server: a table from name to starter."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Final

from ..vocabulary import DSN_ENV, PROVIDER_ENV
from .container import start_container
from .dsn import use_dsn
from .embedded import start_embedded
from .errors import ProvisioningError
from .server import PostgresServer
from .system import start_system_server

# Each starter gets the DSN chosen by start_server (only the dsn provider uses it).
STARTERS: Final[Mapping[str, Callable[[str | None], PostgresServer]]] = {
    "embedded": lambda _dsn: start_embedded(),
    "system": lambda _dsn: start_system_server(),
    "dsn": use_dsn,
    "testcontainers": lambda _dsn: start_container(),
}
PROVIDERS: Final = tuple(STARTERS)


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
    starter = STARTERS.get(provider)
    if starter is None:
        raise ProvisioningError(f"unknown provider {provider!r}; choose one of {PROVIDERS}")
    server = starter(dsn)
    if pgbouncer:
        try:
            server.start_pgbouncer()
        except BaseException:
            server.close()
            raise
    return server
