"""PgBouncer for real: Debian's pgbouncer in transaction mode between the store and the server.

The store contract and the race tests run through it too (``CHATKIT_PG_PGBOUNCER=true``, see
``tests/conftest.py``). Here: what happens without ``pgbouncer=True`` -- the two ways a store
fails through transaction pooling, each with a message that says why -- and a short load of
real HTTP requests on ``chatkit-pg serve --pgbouncer true`` through PgBouncer.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from chatkit_pg import PostgresStore, StoreUnavailableError
from chatkit_pg.harness.provision import PgBouncer, PostgresServer, database_name
from chatkit_pg.loadtest.scenarios.sse import SSEParser, parse_event

from ..conftest import fresh_database, serving
from ..items import thread, user_message

ALICE = {"user_id": "alice"}


@pytest.fixture
async def bounced_dsn(
    pg_server: PostgresServer, template_database: str, bouncer: PgBouncer
) -> AsyncIterator[str]:
    """A fresh migrated database, as reached through PgBouncer."""
    async with fresh_database(pg_server, "chatkit_pgb", template=template_database) as dsn:
        try:
            yield bouncer.route(dsn)
        finally:
            await bouncer.disconnect(database_name(dsn))


async def add_many(store: PostgresStore[Any], threads: int, adds: int) -> list[BaseException]:
    """``adds`` concurrent appends over ``threads`` threads (and a read beside each)."""
    for n in range(threads):
        await store.save_thread(thread(f"thr_{n}"), ALICE)

    async def one(i: int) -> None:
        thread_id = f"thr_{i % threads}"
        await store.add_thread_item(thread_id, user_message(f"msg_{i:04d}", thread_id), ALICE)
        await store.load_thread_items(thread_id, None, 5, "desc", ALICE)

    results = await asyncio.gather(*(one(i) for i in range(adds)), return_exceptions=True)
    return [r for r in results if isinstance(r, BaseException)]


async def test_pgbouncer_true_works_through_transaction_pooling(bounced_dsn: str) -> None:
    async with PostgresStore(bounced_dsn, pgbouncer=True, pool_size=6, max_overflow=0) as store:
        assert await add_many(store, threads=4, adds=300) == []
        page = await store.load_thread_items("thr_0", None, 1000, "asc", ALICE)
        keys = [item.id for item in page.data]
    assert len(keys) == 75 and len(set(keys)) == 75


async def test_without_pgbouncer_true_prepared_statements_fail_clearly(bounced_dsn: str) -> None:
    """asyncpg's statement cache names statements per connection; PgBouncer hands the next
    transaction another server connection, where that statement does not exist. The store
    says what to do about it: pgbouncer=True (asyncpg's own hint names a setting the store's
    user cannot reach)."""
    failures: list[BaseException] = []
    async with PostgresStore(bounced_dsn, pool_size=6, max_overflow=0) as store:
        for _ in range(10):  # a collision needs two transactions to swap servers: soon, not now
            failures += await add_many(store, threads=4, adds=200)
            if failures:
                break
    print(f"{len(failures)} failures, first: {failures[:1]!r}")
    assert failures, "200 x 10 concurrent calls never met a prepared statement of another server"
    for failure in failures:
        assert isinstance(failure, StoreUnavailableError), repr(failure)
        assert isinstance(
            failure.__cause__,
            asyncpg.InvalidSQLStatementNameError | asyncpg.DuplicatePreparedStatementError,
        ), repr(failure.__cause__)
        assert "create the store with pgbouncer=True" in str(failure)


async def test_without_pgbouncer_true_session_settings_are_refused(bounced_dsn: str) -> None:
    """A session setting at connect (statement_timeout) is one PgBouncer cannot carry; with
    pgbouncer=True the store sends none and connects."""
    async with PostgresStore(bounced_dsn, statement_timeout_ms=5000, pool_size=1) as store:
        with pytest.raises(StoreUnavailableError) as caught:
            await store.load_thread("thr_any", ALICE)
    assert "unsupported startup parameter: statement_timeout" in str(caught.value)

    options: dict[str, Any] = {"statement_timeout_ms": 5000, "pgbouncer": True, "pool_size": 1}
    async with PostgresStore(bounced_dsn, **options) as store:
        await store.save_thread(thread("thr_ok"), ALICE)


# -- a short load of real HTTP requests through PgBouncer -----------------------------------

USERS = 12
LOAD_SECONDS = 6.0


@pytest.fixture(scope="module")
async def served_database(pg_server: PostgresServer) -> AsyncIterator[str]:
    """A database for the server below (it migrates it at start, through PgBouncer)."""
    async with fresh_database(pg_server, "chatkit_pgb_http") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def served(
    bouncer: PgBouncer, served_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``chatkit-pg serve --pgbouncer true`` on the PgBouncer DSN; its base URL."""
    log = tmp_path_factory.mktemp("pgbouncer-serve") / "server.log"
    dsn = bouncer.route(served_database)
    with serving(dsn, log, pgbouncer=True, deltas=4, pool_size=4, max_overflow=2) as url:
        yield url


def user_input(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


async def post(client: httpx.AsyncClient, user: str, kind: str, params: dict[str, Any]) -> Any:
    body = json.dumps({"type": kind, "params": params})
    response = await client.post("/chatkit", content=body, headers={"X-User-Id": user})
    assert response.status_code == 200, response.text[:500]
    return response.json()


async def stream(
    client: httpx.AsyncClient, user: str, kind: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    body = json.dumps({"type": kind, "params": params})
    parser, events = SSEParser(), []
    async with client.stream(
        "POST", "/chatkit", content=body, headers={"X-User-Id": user}
    ) as response:
        assert response.status_code == 200, (await response.aread())[:500]
        async for chunk in response.aiter_bytes():
            events += [parse_event(payload) for payload in parser.feed(chunk)]
    assert not [e for e in events if e.get("type") == "error"], events
    return events


def done_items(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["item"] for e in events if e.get("type") == "thread.item.done"]


async def test_http_load_through_pgbouncer(
    served: str, served_database: str, pg_server: PostgresServer
) -> None:
    """USERS users talk for LOAD_SECONDS: every answer arrives, and the database holds what
    the streams announced, read back over HTTP and directly."""
    announced: dict[str, set[str]] = {}
    requests = 0

    async def user(number: int, client: httpx.AsyncClient) -> None:
        nonlocal requests
        name = f"user{number}"
        deadline = time.monotonic() + LOAD_SECONDS
        while time.monotonic() < deadline:
            events = await stream(client, name, "threads.create", {"input": user_input("hi")})
            created = [e for e in events if e.get("type") == "thread.created"]
            thread_id = created[0]["thread"]["id"]
            ids = {item["id"] for item in done_items(events)}
            params = {"thread_id": thread_id, "input": user_input("again")}
            events = await stream(client, name, "threads.add_user_message", params)
            ids |= {item["id"] for item in done_items(events)}
            listed = await post(client, name, "items.list", {"thread_id": thread_id, "limit": 50})
            assert ids <= {item["id"] for item in listed["data"]}
            announced[thread_id] = ids
            requests += 3

    async with httpx.AsyncClient(base_url=served, timeout=30) as client:
        await asyncio.gather(*(user(n, client) for n in range(USERS)))

    print(f"{requests} requests by {USERS} users in {LOAD_SECONDS} s through PgBouncer")
    assert requests >= USERS * 3
    conn = await asyncpg.connect(served_database)  # directly, not through PgBouncer
    try:
        rows = await conn.fetch(
            "SELECT thread_id, count(*) AS items FROM chatkit_thread_items GROUP BY thread_id"
        )
    finally:
        await conn.close()
    stored = {row["thread_id"]: row["items"] for row in rows}
    assert set(stored) == set(announced)
    assert all(stored[t] >= len(ids) >= 4 for t, ids in announced.items())


async def test_pgbouncer_true_keeps_the_application_name(bounced_dsn: str) -> None:
    """PgBouncer passes application_name on, so pg_stat_activity still names the app."""
    async with PostgresStore(bounced_dsn, pgbouncer=True, application_name="billing-api") as store:
        async with store.connection() as conn:
            assert await conn.fetchval("SELECT current_setting('application_name')") == (
                "billing-api"
            )
