"""``tests/conftest.py`` of the SDK's suites: one migrated PostgreSQL database per SDK test.

The parent test (``tests/test_sdk_suites.py``) passes, in the environment (never on a
command line): the server's admin DSN, the migrated template database, the DSN clients use
(through PgBouncer in that leg) and whether stores need ``pgbouncer=True``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from helpers import mock_store

from chatkit_pg.harness.provision import (
    PostgresServer,
    database_name,
    flag,
    temporary_database,
    with_database,
)

ADMIN_DSN_ENV = "CHATKIT_PG_SDK_ADMIN_DSN"
TEMPLATE_ENV = "CHATKIT_PG_SDK_TEMPLATE"
CLIENT_DSN_ENV = "CHATKIT_PG_SDK_CLIENT_DSN"
PGBOUNCER_ENV = "CHATKIT_PG_SDK_PGBOUNCER"


@pytest.fixture(autouse=True)
async def postgres_database() -> AsyncIterator[None]:
    server = PostgresServer(dsn=os.environ[ADMIN_DSN_ENV], provider="dsn")
    template = os.environ[TEMPLATE_ENV]
    async with temporary_database(server, "chatkit_sdk", template=template) as dsn:
        options = {"pgbouncer": True} if flag(PGBOUNCER_ENV) else {}
        mock_store.current = mock_store.SlotDatabase(
            with_database(os.environ[CLIENT_DSN_ENV], database_name(dsn)), options
        )
        try:
            yield
        finally:
            opened, mock_store.current = mock_store.current, None
            for store in opened.stores:
                await store.close()
