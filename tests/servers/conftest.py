"""Fixtures of the server tests: Debian's PostgreSQL and PgBouncer, started by the tests.

Both come from :mod:`chatkit_pg.harness.provision`, the one module that starts servers. CI
installs Debian's ``postgresql-15`` and ``pgbouncer``; where they are missing, the tests that
need them are skipped with a message that says what to install (in CI, where both are
installed, a missing one fails: :mod:`tests.requirements`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chatkit_pg.harness.provision import (
    PgBouncer,
    PostgresServer,
    pgbouncer_program,
    start_pgbouncer,
    system_bin_dir,
)

from ..requirements import need


def require_system_postgres() -> Path:
    """The Debian PostgreSQL bin dir, or skip (in CI: fail) saying what to install."""
    return need(system_bin_dir)


@pytest.fixture(scope="module")
def bouncer(pg_server: PostgresServer) -> Iterator[PgBouncer]:
    """PgBouncer (transaction mode) in front of the session's server.

    The session's own when ``CHATKIT_PG_PGBOUNCER=true`` put one there, else one for this
    module (not attached to ``pg_server``, so the other tests keep connecting directly).
    """
    if pg_server.pooler is not None:
        yield pg_server.pooler
        return
    need(pgbouncer_program)
    with start_pgbouncer(pg_server) as pooler:
        yield pooler
