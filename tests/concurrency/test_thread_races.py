"""Races on threads and on the store itself: two users creating one thread id at once, and
many coroutines making first use of a fresh store."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Any

import asyncpg
import pytest

from chatkit_pg import NotFoundError, PostgresStore
from chatkit_pg.harness.races import page_ids, warm
from chatkit_pg.sql import UPSERT_THREAD_SQL

from ..conftest import StoreFactory
from ..items import thread, user_message
from .harness import wait_done_or_blocked

pytestmark = pytest.mark.race

USERS = ("alice", "bob", "carol", "dave")
THREAD_IDS = 20


class _SessionCounter:
    """Server sessions open at once, counted exactly at asyncpg.connect.

    A session counts from the moment its connect starts (the server may have it before the
    call returns) until the connect fails or asyncpg reports the connection closed.
    """

    def __init__(self) -> None:
        self.open = 0
        self.peak = 0

    def wrap(self, connect: Callable[..., Awaitable[asyncpg.Connection]]) -> Any:
        async def counted(*args: Any, **kwargs: Any) -> asyncpg.Connection:
            self.open += 1
            self.peak = max(self.peak, self.open)
            try:
                conn = await connect(*args, **kwargs)
            except BaseException:
                self.open -= 1
                raise
            conn.add_termination_listener(self._closed)
            return conn

        return counted

    def _closed(self, _conn: object) -> None:
        self.open -= 1


async def test_users_creating_one_thread_id_at_once_one_wins(make_store: StoreFactory) -> None:
    stores = {user: await make_store(pool_size=1, max_overflow=0) for user in USERS}
    for store in stores.values():
        await warm(store, 1)

    for n in range(THREAD_IDS):
        thread_id = f"thr_race_{n:02d}"
        outcomes = await asyncio.gather(
            *(
                stores[user].save_thread(thread(thread_id, title=f"{user}'s"), {"user_id": user})
                for user in USERS
            ),
            return_exceptions=True,
        )
        winners = [u for u, o in zip(USERS, outcomes, strict=True) if o is None]
        assert len(winners) == 1, f"{thread_id}: {dict(zip(USERS, outcomes, strict=True))}"
        winner = winners[0]
        losers = [u for u in USERS if u != winner]
        assert all(isinstance(o, NotFoundError) for o in outcomes if o is not None)

        # The winner owns it and keeps writing; every loser still cannot touch it.
        await stores[winner].add_thread_item(
            thread_id, user_message("mine", thread_id), {"user_id": winner}
        )
        for loser in losers:
            with pytest.raises(NotFoundError):
                await stores[loser].save_thread(thread(thread_id, title="take"), {"user_id": loser})
            with pytest.raises(NotFoundError):
                await stores[loser].load_thread(thread_id, {"user_id": loser})
        loaded = await stores[winner].load_thread(thread_id, {"user_id": winner})
        assert loaded.title == f"{winner}'s"
        items = await stores[winner].load_thread_items(
            thread_id, None, 10, "asc", {"user_id": winner}
        )
        assert [i.id for i in items.data] == ["mine"]


async def test_second_creator_waits_for_the_first_and_is_refused(
    make_store: StoreFactory, monitor: asyncpg.Connection
) -> None:
    # Forced overlap: alice's insert of the thread is held open; bob's save_thread of the same
    # id must wait on it and, once alice commits, be refused without touching her row.
    store = await make_store(pool_size=2, max_overflow=0)
    async with store.connection() as conn:
        first = conn.transaction()
        await first.start()
        created = thread("thr_same", title="alice's").created_at.replace(tzinfo=UTC)
        document = thread("thr_same", title="alice's").model_dump_json()
        try:
            assert await conn.fetchval(UPSERT_THREAD_SQL, "thr_same", "alice", created, document)
            second = asyncio.create_task(
                store.save_thread(thread("thr_same", title="bob's"), {"user_id": "bob"})
            )
            assert await wait_done_or_blocked(second, monitor) == "blocked"
        except BaseException:
            await first.rollback()
            raise
        await first.commit()
    with pytest.raises(NotFoundError):
        await second
    assert (await store.load_thread("thr_same", {"user_id": "alice"})).title == "alice's"
    owners = await monitor.fetch("SELECT user_id FROM chatkit_threads WHERE id = 'thr_same'")
    assert [r["user_id"] for r in owners] == ["alice"]


@pytest.mark.no_pgbouncer(
    "counts the store's sessions in pg_stat_activity by application_name: behind PgBouncer "
    "the server sees PgBouncer's connections, and pgbouncer=True sends no application_name"
)
async def test_first_use_by_many_coroutines_opens_one_bounded_pool(
    make_store: StoreFactory, monitor: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = await make_store(pool_size=1, max_overflow=0)
    await setup.save_thread(thread("t"), {"user_id": "alice"})
    await setup.close()

    pool_size, callers = 5, 200
    app = f"race_first_use_{uuid.uuid4().hex[:8]}"
    store: PostgresStore[Any] = await make_store(
        pool_size=pool_size, max_overflow=0, pool_timeout=60, application_name=app
    )
    engines: set[int] = set()
    sessions = _SessionCounter()
    # Counted where the store opens them: the store's engine calls asyncpg.connect at connect
    # time, so every server session it opens passes here, however briefly it lives.
    monkeypatch.setattr(asyncpg, "connect", sessions.wrap(asyncpg.connect))

    async def count_connections() -> int:
        return int(
            await monitor.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app
            )
        )

    async def first_call(n: int) -> None:
        engines.add(id(store.engine))
        if n % 2:
            await store.load_thread("t", {"user_id": "alice"})
        else:
            await store.add_thread_item("t", user_message(f"m{n:03d}", "t"), {"user_id": "alice"})

    results = await asyncio.gather(*(first_call(n) for n in range(callers)), return_exceptions=True)

    assert [r for r in results if r is not None] == []
    assert len(engines) == 1, "concurrent first users created more than one engine"
    assert store.connections_in_use() == 0
    peak = sessions.peak
    assert 1 <= peak <= pool_size, f"{peak} server connections at once for a pool of {pool_size}"
    assert await count_connections() == sessions.open  # the server sees the same sessions
    assert len(await page_ids(store, "t", "asc")) == callers // 2


async def test_concurrent_create_schema_on_an_empty_database(empty_database_dsn: str) -> None:
    # Several server processes start at once and each migrates: one schema, no errors.
    stores = [PostgresStore(empty_database_dsn, pool_size=1, max_overflow=0) for _ in range(4)]
    try:
        await asyncio.gather(*(s.create_schema() for s in stores))
        await stores[0].save_thread(thread("t"), {"user_id": "alice"})
        await stores[1].add_thread_item("t", user_message("m", "t"), {"user_id": "alice"})
        assert await page_ids(stores[2], "t", "asc") == ["m"]
    finally:
        for store in stores:
            await store.close()
