"""Seeding straight into the database with the store (``chatkit-pg loadtest``).

Thousands of items over HTTP would take minutes; through ``PostgresStore`` they take
seconds and still go through the same sort-key strategy. Owners and titles match
:class:`chatkit_pg.loadtest.scenarios.settings.ScenarioSettings`, so the Locust side finds
these threads and seeds nothing more over HTTP.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from chatkit.types import AssistantMessageItem, ThreadMetadata, UserMessageItem

from chatkit_pg import PostgresStore
from chatkit_pg.harness.items import assistant_message, user_message


async def seed_long_thread(store: PostgresStore[Any], owner: str, title: str, length: int) -> str:
    """Create a thread of ``length`` alternating user/assistant messages; return its id."""
    context = {"user_id": owner}
    thread = ThreadMetadata(
        id=store.generate_thread_id(context), created_at=datetime.now(), title=title
    )
    await store.save_thread(thread, context)
    for n in range(length):
        item_id = store.generate_item_id("message", thread, context)
        item: UserMessageItem | AssistantMessageItem
        if n % 2 == 0:
            item = user_message(item_id, thread.id, f"seeded question {n}")
        else:
            item = assistant_message(item_id, thread.id, f"seeded answer {n} " * 8)
        await store.add_thread_item(thread.id, item, context)
    return thread.id


async def seed_database(
    dsn: str,
    *,
    strategy: str,
    prefix: str,
    seed_threads: int,
    seed_thread_length: int,
    hot_threads: int,
) -> dict[str, Any]:
    """Migrate ``dsn`` and create the long threads and the (empty) hot threads.

    Returns:
        ``{"long_threads": [...], "hot_threads": [...], "items": n}``.
    """
    store: PostgresStore[Any] = PostgresStore(
        dsn, sort_key_strategy=strategy, pool_size=max(2, seed_threads), max_overflow=0
    )
    try:
        await store.create_schema()
        reader, title = f"{prefix}-longreader", f"{prefix}-long-{seed_thread_length}"
        long_threads = await asyncio.gather(
            *(
                seed_long_thread(store, reader, title, seed_thread_length)
                for _ in range(seed_threads)
            )
        )
        hot_context = {"user_id": f"{prefix}-hot"}
        hot = []
        for index in range(hot_threads):
            thread = ThreadMetadata(
                id=store.generate_thread_id(hot_context),
                created_at=datetime.now(),
                title=f"{prefix}-hot-{index}",
            )
            await store.save_thread(thread, hot_context)
            hot.append(thread.id)
    finally:
        await store.close()
    return {
        "long_threads": list(long_threads),
        "hot_threads": hot,
        "items": seed_threads * seed_thread_length,
    }
