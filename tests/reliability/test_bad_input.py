"""Bad input through the store: a clear error naming what was wrong, stored data untouched."""

from __future__ import annotations

from typing import Any

import pytest

from chatkit_pg import NotFoundError, PostgresStore

from ..items import thread, user_message

ALICE = {"user_id": "alice"}
SQL_PAYLOADS = [
    "'; DROP TABLE chatkit_threads; --",
    "x' OR '1'='1",
    "$1",
    "$$; DELETE FROM chatkit_thread_items; $$",
    "\\'; SELECT pg_sleep(10); --",
    'Robert"); DROP TABLE chatkit_attachments;--',
]


async def _dump(store: PostgresStore[Any]) -> list[tuple[Any, ...]]:
    async with store.connection() as conn:
        rows: list[tuple[Any, ...]] = []
        for query in (
            "SELECT id, user_id, data::text FROM chatkit_threads ORDER BY id",
            "SELECT thread_id, id, sort_key, data::text FROM chatkit_thread_items ORDER BY 1, 2",
            "SELECT id, user_id, data::text FROM chatkit_attachments ORDER BY id",
        ):
            rows += [tuple(r) for r in await conn.fetch(query)]
        return rows


@pytest.fixture
async def seeded(store: PostgresStore[Any]) -> PostgresStore[Any]:
    await store.save_thread(thread("thr_keep", title="keep"), ALICE)
    await store.add_thread_item("thr_keep", user_message("msg_keep", "thr_keep"), ALICE)
    return store


@pytest.mark.parametrize("payload", SQL_PAYLOADS)
async def test_sql_in_ids_titles_and_users_is_just_text(
    seeded: PostgresStore[Any], payload: str
) -> None:
    store = seeded
    owner = {"user_id": payload}
    await store.save_thread(thread(payload, title=payload), owner)
    await store.add_thread_item(payload, user_message(payload, payload, text=payload), owner)
    assert (await store.load_thread(payload, owner)).title == payload
    assert (await store.load_item(payload, payload, owner)).id == payload
    page = await store.load_thread_items(payload, payload, 10, "desc", owner)
    assert page.data == []
    with pytest.raises(NotFoundError):
        await store.load_thread("thr_keep", owner)
    assert (await store.load_item("thr_keep", "msg_keep", ALICE)).id == "msg_keep"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: thread("thr_\x00nul"), "NUL"),
        (lambda: thread("thr_\ud800"), "surrogate"),
        (lambda: thread(""), "non-empty"),
        (lambda: thread("t" * 2000), "longer than 1024 bytes"),
    ],
    ids=["nul-id", "surrogate-id", "empty-id", "long-id"],
)
async def test_bad_thread_ids_are_rejected_before_the_database(
    seeded: PostgresStore[Any], make: Any, message: str
) -> None:
    before = await _dump(seeded)
    with pytest.raises(ValueError, match=message):
        await seeded.save_thread(make(), ALICE)
    assert await _dump(seeded) == before


async def test_lone_surrogates_in_text_are_a_clear_error(seeded: PostgresStore[Any]) -> None:
    before = await _dump(seeded)
    with pytest.raises(ValueError, match="cannot be stored as JSON"):
        await seeded.add_thread_item(
            "thr_keep", user_message("msg_bad", "thr_keep", text="half a pair: \ud83d"), ALICE
        )
    with pytest.raises(ValueError, match="cannot be stored as JSON"):
        await seeded.save_thread(thread("thr_keep", title="\udfff"), ALICE)
    assert await _dump(seeded) == before


async def test_documents_above_the_limit_are_rejected_below_it_stored_intact(
    make_store: Any,
) -> None:
    limit = 256 * 1024
    store = await make_store(max_document_bytes=limit)
    await store.save_thread(thread("t"), ALICE)
    fits = user_message("msg_fits", "t", text="y" * (limit - 1024))
    await store.add_thread_item("t", fits, ALICE)
    assert await store.load_item("t", "msg_fits", ALICE) == fits
    before = await _dump(store)
    with pytest.raises(ValueError, match="max_document_bytes"):
        await store.add_thread_item("t", user_message("msg_big", "t", text="z" * limit), ALICE)
    with pytest.raises(ValueError, match="max_document_bytes"):
        await store.save_item("t", user_message("msg_fits", "t", text="z" * limit), ALICE)
    assert await _dump(store) == before


async def test_unknown_cursors_and_bad_paging_arguments(seeded: PostgresStore[Any]) -> None:
    before = await _dump(seeded)
    with pytest.raises(NotFoundError):
        await seeded.load_thread_items("thr_keep", "'; --", 10, "asc", ALICE)
    with pytest.raises(ValueError, match="order"):
        await seeded.load_thread_items("thr_keep", None, 10, "asc, id", ALICE)
    with pytest.raises(ValueError, match="limit"):
        await seeded.load_threads(-5, None, "asc", ALICE)
    with pytest.raises(ValueError, match="user_id"):
        await seeded.load_thread("thr_keep", {"user": "alice"})
    assert await _dump(seeded) == before
