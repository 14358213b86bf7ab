"""``CHATKIT_PG_PROVIDER=testcontainers``: PostgreSQL in a Docker container."""

from __future__ import annotations

import os

from ..vocabulary import DSN_ENV, IMAGE_ENV, PROVIDER_ENV
from .databases import to_libpq_url
from .errors import ProvisioningError
from .server import PostgresServer

DEFAULT_IMAGE = "postgres:18"


def start_container(image: str | None = None) -> PostgresServer:
    """Start ``image`` (default ``CHATKIT_PG_IMAGE``, else postgres:18); ``close()`` stops it."""
    image = image or os.environ.get(IMAGE_ENV, DEFAULT_IMAGE)
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
