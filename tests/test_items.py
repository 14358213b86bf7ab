"""Appending, upserting and deleting thread items."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from chatkit_pg import ItemExistsError, NotFoundError, PostgresStore

from .items import thread, user_message

ALICE = {"user_id": "alice"}


async def _sort_keys(store: PostgresStore[Any], thread_id: str) -> dict[str, int]:
    async with store.connection() as conn:
        rows = await conn.fetch(
            "SELECT id, sort_key FROM chatkit_thread_items WHERE thread_id = $1", thread_id
        )
    return {row["id"]: row["sort_key"] for row in rows}


async def test_items_are_ordered_by_database_sort_key_not_client_created_at(
    store: PostgresStore[Any],
) -> None:
    await store.save_thread(thread("t"), ALICE)
    # created_at runs backwards: order must follow insertion, not the client's clock.
    for n in range(5):
        item = user_message(f"m{n}", "t", created_at=thread("x").created_at.replace(year=2030 - n))
        await store.add_thread_item("t", item, ALICE)
    page = await store.load_thread_items("t", None, 10, "asc", ALICE)
    assert [i.id for i in page.data] == ["m0", "m1", "m2", "m3", "m4"]
    keys = await _sort_keys(store, "t")
    assert sorted(keys.values()) == [keys[f"m{n}"] for n in range(5)]


async def test_adding_an_existing_item_id_is_a_clear_error_and_changes_nothing(
    store: PostgresStore[Any],
) -> None:
    await store.save_thread(thread("t"), ALICE)
    original = user_message("m1", "t", text="original")
    await store.add_thread_item("t", original, ALICE)
    before = await _sort_keys(store, "t")
    with pytest.raises(ItemExistsError, match="m1"):
        await store.add_thread_item("t", user_message("m1", "t", text="impostor"), ALICE)
    assert await store.load_item("t", "m1", ALICE) == original
    assert await _sort_keys(store, "t") == before
    # The counter was not bumped by the failed add: the next key follows directly.
    await store.add_thread_item("t", user_message("m2", "t"), ALICE)
    after = await _sort_keys(store, "t")
    if store.strategy.guarantees.gapless:
        assert after["m2"] == before["m1"] + 1


async def test_same_item_id_in_two_threads_is_two_items(store: PostgresStore[Any]) -> None:
    for tid in ("a", "b"):
        await store.save_thread(thread(tid), ALICE)
        await store.add_thread_item(tid, user_message("msg_same", tid, text=tid), ALICE)
    for tid in ("a", "b"):
        item = await store.load_item(tid, "msg_same", ALICE)
        assert item.content[0].text == tid  # type: ignore[union-attr]


async def test_save_item_updates_in_place_and_keeps_position(store: PostgresStore[Any]) -> None:
    await store.save_thread(thread("t"), ALICE)
    for n in range(3):
        await store.add_thread_item("t", user_message(f"m{n}", "t"), ALICE)
    keys_before = await _sort_keys(store, "t")
    updated = user_message("m0", "t", text="edited")
    await store.save_item("t", updated, ALICE)
    assert await store.load_item("t", "m0", ALICE) == updated
    assert await _sort_keys(store, "t") == keys_before
    page = await store.load_thread_items("t", None, 10, "asc", ALICE)
    assert [i.id for i in page.data] == ["m0", "m1", "m2"]


async def test_save_item_appends_a_new_item_at_the_end(store: PostgresStore[Any]) -> None:
    await store.save_thread(thread("t"), ALICE)
    await store.add_thread_item("t", user_message("m0", "t"), ALICE)
    await store.save_item("t", user_message("m1", "t"), ALICE)
    page = await store.load_thread_items("t", None, 10, "desc", ALICE)
    assert [i.id for i in page.data] == ["m1", "m0"]


@pytest.mark.parametrize("method", ["add_thread_item", "save_item"])
async def test_writing_to_a_missing_thread_is_not_found_and_writes_nothing(
    store: PostgresStore[Any], method: str
) -> None:
    with pytest.raises(NotFoundError):
        await getattr(store, method)("thr_missing", user_message("m", "thr_missing"), ALICE)
    async with store.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM chatkit_thread_items") == 0


async def test_delete_thread_item(store: PostgresStore[Any]) -> None:
    await store.save_thread(thread("t"), ALICE)
    await store.add_thread_item("t", user_message("m0", "t"), ALICE)
    await store.add_thread_item("t", user_message("m1", "t"), ALICE)
    await store.delete_thread_item("t", "m0", ALICE)
    with pytest.raises(NotFoundError):
        await store.load_item("t", "m0", ALICE)
    # Deleting an item that is not there is a no-op (the SDK deletes items it may never
    # have saved), but the thread must be the caller's.
    await store.delete_thread_item("t", "m0", ALICE)
    with pytest.raises(NotFoundError):
        await store.delete_thread_item("thr_missing", "m1", ALICE)
    assert [i.id for i in (await store.load_thread_items("t", None, 5, "asc", ALICE)).data] == [
        "m1"
    ]


async def test_delete_thread_cascades_to_items_and_attachments(store: PostgresStore[Any]) -> None:
    from .items import file_attachment

    await store.save_thread(thread("t"), ALICE)
    await store.save_thread(thread("keep"), ALICE)
    for tid in ("t", "keep"):
        await store.add_thread_item(tid, user_message(f"m_{tid}", tid), ALICE)
        await store.save_attachment(file_attachment(f"atc_{tid}", tid), ALICE)
    await store.save_attachment(file_attachment("atc_loose"), ALICE)

    await store.delete_thread("t", ALICE)

    with pytest.raises(NotFoundError):
        await store.load_thread("t", ALICE)
    with pytest.raises(NotFoundError):
        await store.load_attachment("atc_t", ALICE)
    assert (await store.load_thread_items("t", None, 10, "asc", ALICE)).data == []
    async with store.connection() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM chatkit_thread_items WHERE thread_id = 't'")
            == 0
        )
    assert (await store.load_item("keep", "m_keep", ALICE)).id == "m_keep"
    assert (await store.load_attachment("atc_keep", ALICE)).id == "atc_keep"
    assert (await store.load_attachment("atc_loose", ALICE)).id == "atc_loose"
    with pytest.raises(NotFoundError):
        await store.delete_thread("t", ALICE)


async def test_attachment_delete_and_missing(store: PostgresStore[Any]) -> None:
    from .items import file_attachment

    await store.save_attachment(file_attachment("atc_1"), ALICE)
    await store.delete_attachment("atc_1", ALICE)
    with pytest.raises(NotFoundError):
        await store.load_attachment("atc_1", ALICE)
    # Deleting again is a silent no-op: ChatKitServer deletes the file first, then the
    # metadata, which an upload flow may never have saved.
    await store.delete_attachment("atc_1", ALICE)
    await store.delete_attachment("atc_never_saved", ALICE)
    with pytest.raises(NotFoundError):
        await store.save_attachment(file_attachment("atc_2", "thr_missing"), ALICE)


async def test_generated_ids_keep_sdk_prefixes_with_at_least_64_random_bits(
    store: PostgresStore[Any],
) -> None:
    meta = thread("t")
    ids = {store.generate_thread_id(ALICE) for _ in range(1000)}
    assert len(ids) == 1000 and all(i.startswith("thr_") for i in ids)
    for kind, prefix in [
        ("message", "msg_"),
        ("tool_call", "tc_"),
        ("workflow", "wf_"),
        ("task", "tsk_"),
        ("sdk_hidden_context", "shcx_"),
    ]:
        generated = store.generate_item_id(kind, meta, ALICE)  # type: ignore[arg-type]
        assert generated.startswith(prefix)
        random_hex = generated[len(prefix) :]
        assert len(random_hex) * 4 >= 64
        int(random_hex, 16)
    assert store.generate_attachment_id("image/png", ALICE).startswith("atc_")


async def test_long_ids_are_stored_and_over_long_ids_rejected_clearly(
    store: PostgresStore[Any],
) -> None:
    long_id = "thr_" + "x" * 1000
    await store.save_thread(thread(long_id), ALICE)
    await store.add_thread_item(long_id, user_message("m" * 1024, long_id), ALICE)
    assert (await store.load_item(long_id, "m" * 1024, ALICE)).id == "m" * 1024
    with pytest.raises(ValueError, match="longer than 1024 bytes"):
        await store.save_thread(thread("t" * 1025), ALICE)


async def test_unique_sort_key_constraint_backs_every_strategy(store: PostgresStore[Any]) -> None:
    await store.save_thread(thread("t"), ALICE)
    await store.add_thread_item("t", user_message("m0", "t"), ALICE)
    async with store.connection() as conn:
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "INSERT INTO chatkit_thread_items (thread_id, id, sort_key, type, created_at, data)"
                " SELECT thread_id, 'dup', sort_key, type, created_at, data"
                " FROM chatkit_thread_items WHERE id = 'm0'"
            )


async def test_default_strategy_appends_and_upserts_in_one_statement(make_store: Any) -> None:
    """The hot paths are one round trip: ownership, key allocation and insert together."""
    import asyncio

    store = await make_store(pool_size=1)  # default strategy
    await store.save_thread(thread("t"), ALICE)
    statements: list[str] = []
    async with store.connection() as conn:
        conn.add_query_logger(lambda record: statements.append(record.query))
    for call in (
        store.add_thread_item("t", user_message("m0", "t"), ALICE),
        store.save_item("t", user_message("m0", "t", text="edit"), ALICE),
        store.save_item("t", user_message("m1", "t"), ALICE),
        store.load_item("t", "m1", ALICE),
        store.load_thread("t", ALICE),
    ):
        statements.clear()
        await call
        await asyncio.sleep(0.01)  # asyncpg calls query loggers with call_soon
        assert len(statements) == 1, statements
