"""Lossless round trips: what is saved loads back equal, for every SDK type."""

from __future__ import annotations

from typing import Any

import pytest

from chatkit_pg import PostgresStore

from .items import (
    HOSTILE_TEXT,
    every_item_type,
    file_attachment,
    image_attachment,
    thread,
    thread_variants,
    user_message,
)

ALICE = {"user_id": "alice"}


@pytest.mark.parametrize("metadata", thread_variants(), ids=lambda t: t.id)
async def test_thread_metadata_round_trips(store: PostgresStore[Any], metadata: Any) -> None:
    await store.save_thread(metadata, ALICE)
    loaded = await store.load_thread(metadata.id, ALICE)
    assert loaded == metadata
    assert type(loaded.status) is type(metadata.status)


async def test_every_item_type_round_trips_through_every_read(store: PostgresStore[Any]) -> None:
    await store.save_thread(thread("thr_items"), ALICE)
    items = every_item_type("thr_items")
    for item in items:
        await store.add_thread_item("thr_items", item, ALICE)

    for item in items:
        loaded = await store.load_item("thr_items", item.id, ALICE)
        assert loaded == item
        assert type(loaded) is type(item)
    page = await store.load_thread_items("thr_items", None, 100, "asc", ALICE)
    assert page.data == items


@pytest.mark.parametrize("make", [file_attachment, image_attachment])
async def test_attachments_round_trip(store: PostgresStore[Any], make: Any) -> None:
    await store.save_thread(thread("thr_att"), ALICE)
    loose = make("atc_loose")
    bound = make("atc_bound", "thr_att")
    for attachment in (loose, bound):
        await store.save_attachment(attachment, ALICE)
        assert await store.load_attachment(attachment.id, ALICE) == attachment


async def test_saving_a_full_thread_stores_only_its_metadata(store: PostgresStore[Any]) -> None:
    from chatkit.types import Page, Thread, ThreadMetadata

    full = Thread(id="thr_full", created_at=thread("x").created_at, items=Page(), title="t")
    await store.save_thread(full, ALICE)
    loaded = await store.load_thread("thr_full", ALICE)
    assert type(loaded) is ThreadMetadata
    assert loaded == ThreadMetadata(**full.model_dump(exclude={"items"}))


@pytest.mark.parametrize(
    "text",
    [
        "\u0000",
        "a\u0000b\u0000",
        HOSTILE_TEXT,
        "\\u0000 is not a NUL but six characters",
        "🏳️‍🌈" * 1000,
        "x" * (3 * 1024 * 1024),  # a multi-megabyte message
    ],
    ids=["nul", "nuls", "hostile", "escaped", "emoji", "3MiB"],
)
async def test_any_typed_text_survives(store: PostgresStore[Any], text: str) -> None:
    await store.save_thread(thread("thr_text", title=text), ALICE)
    message = user_message("msg_text", "thr_text", text=text)
    await store.add_thread_item("thr_text", message, ALICE)
    assert (await store.load_thread("thr_text", ALICE)).title == text
    loaded = await store.load_item("thr_text", "msg_text", ALICE)
    assert loaded == message
    assert loaded.content[0].text == text  # type: ignore[union-attr]


async def test_timezone_aware_and_naive_timestamps_are_kept_as_given(
    store: PostgresStore[Any],
) -> None:
    variants = thread_variants()  # mixes naive and UTC-aware created_at
    for metadata in variants:
        await store.save_thread(metadata, ALICE)
    for metadata in variants:
        loaded = await store.load_thread(metadata.id, ALICE)
        assert loaded.created_at == metadata.created_at
        assert loaded.created_at.tzinfo == metadata.created_at.tzinfo
