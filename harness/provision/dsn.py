"""``CHATKIT_PG_DSN`` (or ``--dsn``): a server of the user's own, found, never started.

Nothing here creates or drops anything; the run touches only databases it creates there
(:mod:`.databases`).
"""

from __future__ import annotations

from ..vocabulary import DSN_ENV
from .databases import to_libpq_url
from .errors import ProvisioningError
from .server import PostgresServer


def use_dsn(dsn: str | None) -> PostgresServer:
    """The server at ``dsn``; ``close()`` leaves it running."""
    if not dsn:
        raise ProvisioningError(f"provider 'dsn' needs a DSN (--dsn or {DSN_ENV})")
    return PostgresServer(dsn=to_libpq_url(dsn), provider="dsn")
