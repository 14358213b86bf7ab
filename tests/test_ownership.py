"""User isolation: another user's data is never readable or writable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel

from chatkit_pg import NotFoundError, PostgresStore

from .items import file_attachment, thread, user_message

ALICE = {"user_id": "alice"}
MALLORY = {"user_id": "mallory"}


@pytest.fixture
async def alices_world(store: PostgresStore[Any]) -> PostgresStore[Any]:
    await store.save_thread(thread("thr_a", title="alice's"), ALICE)
    await store.add_thread_item("thr_a", user_message("msg_a", "thr_a", text="secret"), ALICE)
    await store.save_attachment(file_attachment("atc_a", "thr_a"), ALICE)
    return store


async def _snapshot(store: PostgresStore[Any]) -> list[Any]:
    async with store.connection() as conn:
        rows = []
        for table in ("chatkit_threads", "chatkit_thread_items", "chatkit_attachments"):
            rows += [tuple(r) for r in await conn.fetch(f"SELECT * FROM {table} ORDER BY 1, 2")]  # noqa: S608
        return rows


async def test_another_user_cannot_read(alices_world: PostgresStore[Any]) -> None:
    store = alices_world
    with pytest.raises(NotFoundError):
        await store.load_thread("thr_a", MALLORY)
    with pytest.raises(NotFoundError):
        await store.load_item("thr_a", "msg_a", MALLORY)
    with pytest.raises(NotFoundError):
        await store.load_attachment("atc_a", MALLORY)
    page = await store.load_thread_items("thr_a", None, 10, "asc", MALLORY)
    assert page.data == [] and not page.has_more
    with pytest.raises(NotFoundError):  # alice's item id is no cursor for mallory
        await store.load_thread_items("thr_a", "msg_a", 10, "asc", MALLORY)
    assert (await store.load_threads(10, None, "desc", MALLORY)).data == []
    with pytest.raises(NotFoundError):  # nor is alice's thread id a thread cursor
        await store.load_threads(10, "thr_a", "desc", MALLORY)


async def test_another_user_cannot_write_or_delete(alices_world: PostgresStore[Any]) -> None:
    store = alices_world
    before = await _snapshot(store)
    attempts = [
        store.save_thread(thread("thr_a", title="pwned"), MALLORY),
        store.add_thread_item("thr_a", user_message("msg_m", "thr_a"), MALLORY),
        store.save_item("thr_a", user_message("msg_a", "thr_a", text="pwned"), MALLORY),
        store.save_item("thr_a", user_message("msg_new", "thr_a"), MALLORY),
        store.save_attachment(file_attachment("atc_a"), MALLORY),
        store.save_attachment(file_attachment("atc_m", "thr_a"), MALLORY),
        store.delete_thread("thr_a", MALLORY),
        store.delete_thread_item("thr_a", "msg_a", MALLORY),
    ]
    for attempt in attempts:
        with pytest.raises(NotFoundError):
            await attempt
    # A foreign attachment's delete is a no-op that reveals nothing (as a missing one's is).
    await store.delete_attachment("atc_a", MALLORY)
    assert await _snapshot(store) == before
    assert (await store.load_thread("thr_a", ALICE)).title == "alice's"


async def test_user_ids_are_compared_exactly(alices_world: PostgresStore[Any]) -> None:
    for lookalike in ("Alice", "alice ", " alice", "alice\u200b", "%", "alice' OR '1'='1"):
        with pytest.raises(NotFoundError):
            await alices_world.load_thread("thr_a", {"user_id": lookalike})


async def test_context_without_user_is_a_clear_error(store: PostgresStore[Any]) -> None:
    for context in ({}, {"user_id": None}, {"user_id": ""}, object(), None):
        with pytest.raises(ValueError, match="user_id"):
            await store.load_threads(10, None, "desc", context)


class PydanticContext(BaseModel):
    user_id: str


@dataclass
class Request:
    tenant: str
    user: str


async def test_context_objects_and_custom_owner_function(make_store: Any) -> None:
    store = await make_store()
    await store.save_thread(thread("thr_obj"), PydanticContext(user_id="bob"))
    assert (await store.load_thread("thr_obj", {"user_id": "bob"})).id == "thr_obj"

    custom = await make_store(user_id=lambda req: f"{req.tenant}:{req.user}")
    await custom.save_thread(thread("thr_custom"), Request("acme", "bob"))
    assert (await custom.load_thread("thr_custom", Request("acme", "bob"))).id == "thr_custom"
    with pytest.raises(NotFoundError):
        await custom.load_thread("thr_custom", Request("other", "bob"))
