"""Regression tests for defects adversarial probing found: each failed on the old store.

What cannot be read back is refused on write; nothing is changed silently; bad values are
``ValueError`` naming what was wrong, never a driver error; managed-database URLs work.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import asyncpg
import pytest
from chatkit.types import ClientToolCallItem

from chatkit_pg import NotFoundError, PostgresStore, StoreUnavailableError

from .conftest import StoreFactory
from .items import at, thread, user_message

ALICE = {"user_id": "alice"}


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


async def _count(dsn: str, table: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608 (constant)
    finally:
        await conn.close()


def _tool_call(item_id: str, thread_id: str, arguments: dict[str, Any]) -> ClientToolCallItem:
    return ClientToolCallItem(
        id=item_id,
        thread_id=thread_id,
        created_at=at(1),
        name="lookup",
        arguments=arguments,
        call_id="call_1",
        status="pending",
    )


@pytest.mark.parametrize("depth", [200, 230, 253])
async def test_a_document_too_deep_to_read_back_is_refused(
    store: PostgresStore[Any], database_dsn: str, depth: int
) -> None:
    await store.save_thread(thread("thr_ok"), ALICE)
    with pytest.raises(ValueError, match=r"thread 'thr_deep'.* nothing was written"):
        await store.save_thread(thread("thr_deep", metadata={"x": _nested(depth)}), ALICE)
    deep_call = _tool_call("tc_deep", "thr_ok", {"x": _nested(depth)})
    with pytest.raises(ValueError, match="item 'tc_deep'"):
        await store.add_thread_item("thr_ok", deep_call, ALICE)
    # Nothing unreadable was written: the user's pages still load.
    page = await store.load_threads(50, None, "asc", ALICE)
    assert [t.id for t in page.data] == ["thr_ok"]
    assert await _count(database_dsn, "chatkit_thread_items") == 0


async def test_deep_but_readable_documents_still_round_trip(store: PostgresStore[Any]) -> None:
    saved = thread("thr_deep", metadata={"x": _nested(150)})
    await store.save_thread(saved, ALICE)
    assert (await store.load_thread("thr_deep", ALICE)).metadata == saved.metadata


@pytest.mark.parametrize("number", [float("inf"), float("-inf"), float("nan")])
async def test_non_finite_numbers_are_refused_not_nulled(
    store: PostgresStore[Any], database_dsn: str, number: float
) -> None:
    with pytest.raises(ValueError, match=r"non-finite number at metadata\.scores\[1\]"):
        await store.save_thread(thread("thr_inf", metadata={"scores": [1.0, number]}), ALICE)
    await store.save_thread(thread("thr_ok"), ALICE)
    with pytest.raises(ValueError, match=r"non-finite number at arguments\.limit"):
        call = _tool_call("tc_1", "thr_ok", {"limit": number})
        await store.add_thread_item("thr_ok", call, ALICE)
    assert await _count(database_dsn, "chatkit_threads") == 1
    assert await _count(database_dsn, "chatkit_thread_items") == 0


@pytest.mark.parametrize(
    "created_at",
    [
        datetime(1, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=5))),
        datetime(9999, 12, 31, 22, 0, tzinfo=timezone(timedelta(hours=-5))),
    ],
    ids=["year1_plus5", "year9999_minus5"],
)
async def test_an_aware_time_outside_the_range_is_a_value_error(
    store: PostgresStore[Any], created_at: datetime
) -> None:
    with pytest.raises(ValueError, match="thread 'thr_t': created_at"):
        await store.save_thread(thread("thr_t", created_at=created_at), ALICE)
    await store.save_thread(thread("thr_ok"), ALICE)
    item = user_message("msg_t", "thr_ok", created_at=created_at)
    with pytest.raises(ValueError, match="item 'msg_t': created_at"):
        await store.add_thread_item("thr_ok", item, ALICE)


async def test_an_item_naming_another_thread_lives_where_it_was_given(
    store: PostgresStore[Any],
) -> None:
    """The SDK's contract (its store suite's test_thread_items_isolation_by_user): the item is
    stored under the thread_id argument and read back unchanged; the thread (and user) its
    document names never see it."""
    bob = {"user_id": "bob"}
    await store.save_thread(thread("thr_mine"), ALICE)
    await store.save_thread(thread("thr_bobs"), bob)
    added, saved = user_message("msg_x", "thr_bobs"), user_message("msg_y", "thr_bobs")
    await store.add_thread_item("thr_mine", added, ALICE)
    await store.save_item("thr_mine", saved, ALICE)
    mine = await store.load_thread_items("thr_mine", None, 10, "asc", ALICE)
    assert mine.data == [added, saved]
    assert await store.load_item("thr_mine", "msg_x", ALICE) == added
    assert (await store.load_thread_items("thr_bobs", None, 10, "asc", bob)).data == []
    for reader, thread_id in ((bob, "thr_bobs"), (bob, "thr_mine"), (ALICE, "thr_bobs")):
        with pytest.raises(NotFoundError):
            await store.load_item(thread_id, "msg_x", reader)


async def test_one_attempt_and_an_exhausted_pool_is_unavailable_after_one_wait(
    make_store: StoreFactory,
) -> None:
    store = await make_store(pool_size=1, max_overflow=0, pool_timeout=1.0, transient_retries=1)
    await store.save_thread(thread("thr_1"), ALICE)
    async with store.connection():  # the only connection is busy
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError, match="pool timeout"):
            await store.load_thread("thr_1", ALICE)
        waited = time.monotonic() - started
    # One pool_timeout, not two (a second wait would take at least 2.0 s).
    assert waited < 1.9, waited


def _socket_dir(dsn: str) -> str:
    return dict(parse_qsl(urlsplit(dsn).query))["host"]


async def test_libpq_url_parameters_of_managed_databases_work(database_dsn: str) -> None:
    base, socket_dir = database_dsn.split("?")[0], _socket_dir(database_dsn)
    url = (
        f"{base}?host=/nonexistent,{socket_dir}&target_session_attrs=read-write"
        "&sslmode=disable&application_name=billing-api&connect_timeout=5"
        "&options=-c%20statement_timeout%3D4321"
    )
    async with PostgresStore(url, pool_size=1) as store:
        await store.save_thread(thread("thr_url"), ALICE)
        async with store.connection() as conn:
            row = await conn.fetchrow(
                "SELECT current_setting('application_name') AS app, "
                "current_setting('statement_timeout') AS timeout"
            )
    assert (row["app"], row["timeout"]) == ("billing-api", "4321ms")


@pytest.mark.parametrize(
    ("query", "named"),
    [("keepalives=1", "keepalives"), ("channel_binding=require", "channel_binding")],
)
def test_an_unsupported_url_parameter_fails_at_construction(query: str, named: str) -> None:
    with pytest.raises(ValueError, match=f"unsupported connection URL parameter {named}"):
        PostgresStore(f"postgresql://app:s3cret@db.example.com/chatkit?{query}")


def test_a_key_value_dsn_is_refused_without_echoing_its_password() -> None:
    with pytest.raises(ValueError) as raised:
        PostgresStore("host=db.example.com user=app password=s3cret dbname=chatkit")
    assert "s3cret" not in str(raised.value)
    assert "password=***" in str(raised.value)


async def test_a_sort_key_conflict_never_escapes_as_a_driver_error(
    make_store: StoreFactory,
) -> None:
    """The old counter failed forever on threads another strategy wrote (raw driver error)."""
    writer = await make_store(sort_key_strategy="locked_max")
    counter = await make_store(sort_key_strategy="counter")
    await writer.save_thread(thread("thr_old"), ALICE)
    for n in range(3):
        await writer.add_thread_item("thr_old", user_message(f"msg_{n}", "thr_old"), ALICE)
    await asyncio.wait_for(
        counter.add_thread_item("thr_old", user_message("msg_new", "thr_old"), ALICE), 10
    )
    page = await counter.load_thread_items("thr_old", None, 10, "asc", ALICE)
    assert [i.id for i in page.data] == ["msg_0", "msg_1", "msg_2", "msg_new"]
