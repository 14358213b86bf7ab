"""TLS for real: Debian's PostgreSQL with ``ssl = on`` and a certificate made in the test.

The store hands ``sslmode`` and ``sslrootcert`` to asyncpg (``chatkit_pg.engine.parse_url``),
so these tests check what users get from a URL alone: ``require`` encrypts (the server says so
in ``pg_stat_ssl``), ``verify-full`` accepts the right CA and the right name, and refuses a
wrong CA or a wrong name with a :class:`StoreUnavailableError` that names the certificate
problem.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from chatkit_pg import PostgresStore, StoreUnavailableError
from chatkit_pg.harness.provision import (
    PostgresServer,
    ServerTls,
    database_name,
    start_system_server,
)

from ..conftest import fresh_database
from ..items import thread
from .certificates import Certificates, make_certificates
from .conftest import require_system_postgres

ALICE = {"user_id": "alice"}
SSL_STATE = "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"), host="localhost")


@pytest.fixture(scope="module")
def tls_server(certificates: Certificates) -> Iterator[PostgresServer]:
    """PostgreSQL with ssl = on, listening on 127.0.0.1 (trust authentication)."""
    bin_dir = require_system_postgres()
    tls = ServerTls(cert_file=certificates.server_cert, key_file=certificates.server_key)
    with start_system_server(bin_dir, tcp=True, tls=tls) as server:
        yield server


@pytest.fixture(scope="module")
async def tls_database(tls_server: PostgresServer) -> AsyncIterator[str]:
    """A migrated database on the TLS server; its name."""
    async with fresh_database(tls_server, "chatkit_tls", migrate=True) as dsn:
        yield database_name(dsn)


def url(server: PostgresServer, database: str, host: str, **params: str | Path) -> str:
    port = urlsplit(server.dsn).port
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"postgresql://postgres@{host}:{port}/{database}?{query}"


async def ssl_state(store: PostgresStore[Any]) -> tuple[bool, str | None]:
    async with store.connection() as conn:
        row = await conn.fetchrow(SSL_STATE)
    assert row is not None
    return bool(row["ssl"]), row["version"]


async def test_require_connects_encrypted(tls_server: PostgresServer, tls_database: str) -> None:
    dsn = url(tls_server, tls_database, "127.0.0.1", sslmode="require")
    async with PostgresStore(dsn, pool_size=1) as store:
        encrypted, version = await ssl_state(store)
        await store.save_thread(thread("thr_tls_require"), ALICE)
        assert (await store.load_thread("thr_tls_require", ALICE)).id == "thr_tls_require"
    assert encrypted
    assert version is not None and version.startswith("TLS")


async def test_disable_connects_in_the_clear(tls_server: PostgresServer, tls_database: str) -> None:
    """The control: pg_stat_ssl tells the two apart (trust allows both on this server)."""
    dsn = url(tls_server, tls_database, "127.0.0.1", sslmode="disable")
    async with PostgresStore(dsn, pool_size=1) as store:
        assert await ssl_state(store) == (False, None)


async def test_verify_full_with_the_right_ca(
    tls_server: PostgresServer, tls_database: str, certificates: Certificates
) -> None:
    dsn = url(
        tls_server, tls_database, certificates.host,
        sslmode="verify-full", sslrootcert=certificates.ca,
    )  # fmt: skip
    async with PostgresStore(dsn, pool_size=2) as store:
        encrypted, _ = await ssl_state(store)
        await store.save_thread(thread("thr_tls_verified"), ALICE)
        assert (await store.load_thread("thr_tls_verified", ALICE)).id == "thr_tls_verified"
    assert encrypted


async def test_verify_full_with_a_wrong_ca_fails_clearly(
    tls_server: PostgresServer, tls_database: str, certificates: Certificates
) -> None:
    dsn = url(
        tls_server, tls_database, certificates.host,
        sslmode="verify-full", sslrootcert=certificates.wrong_ca,
    )  # fmt: skip
    async with PostgresStore(dsn, pool_size=1, connect_timeout=5) as store:
        with pytest.raises(StoreUnavailableError) as caught:
            await store.load_thread("thr_any", ALICE)
    message = str(caught.value)
    assert message.startswith("cannot connect to the database")
    assert "certificate verify failed" in message
    assert "unable to get local issuer certificate" in message


async def test_verify_full_checks_the_server_name(
    tls_server: PostgresServer, tls_database: str, certificates: Certificates
) -> None:
    """The certificate names localhost only: by address, verify-ca passes, verify-full not."""
    by_address = {"sslrootcert": certificates.ca}
    dsn = url(tls_server, tls_database, "127.0.0.1", sslmode="verify-ca", **by_address)
    async with PostgresStore(dsn, pool_size=1) as store:
        assert (await ssl_state(store))[0]
    dsn = url(tls_server, tls_database, "127.0.0.1", sslmode="verify-full", **by_address)
    async with PostgresStore(dsn, pool_size=1, connect_timeout=5) as store:
        with pytest.raises(StoreUnavailableError, match="certificate verify failed") as caught:
            await store.load_thread("thr_any", ALICE)
    assert "127.0.0.1" in str(caught.value)
