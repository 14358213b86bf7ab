"""The layout the migrations produce is exactly the variant the report calls "shipped".

Every layout variant is applied to a freshly migrated database and read back from the
catalog: the shipped one must equal the migrated database as it is, and no two variants may
be the same layout (a migration that ships a variant makes that variant a duplicate).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from chatkit_pg.bench.variants import SHIPPED, VARIANTS, layout, unsupported_reason
from chatkit_pg.harness.provision import temporary_database

from ..conftest import StoreFactory
from ..items import thread, user_message

ALICE = {"user_id": "alice"}


async def _layout_after(dsn: str, statements: tuple[str, ...]) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await conn.execute(statement)
        return await layout(conn)
    finally:
        await conn.close()


async def test_the_shipped_variant_is_what_the_migrations_create(
    make_store: StoreFactory, database_dsn: str
) -> None:
    assert VARIANTS[SHIPPED].ddl == ()  # nothing on top of the migrations
    store = await make_store()
    await store.save_thread(thread("thr_1"), ALICE)
    await store.add_thread_item("thr_1", user_message("msg_1", "thr_1"), ALICE)
    migrated = await _layout_after(database_dsn, ())
    assert set(migrated) == {"chatkit_threads", "chatkit_thread_items", "chatkit_attachments"}
    item_indexes = migrated["chatkit_thread_items"]["indexes"]
    assert any("(thread_id, sort_key)" in index for index in item_indexes)
    assert await _layout_after(database_dsn, VARIANTS[SHIPPED].ddl) == migrated


async def test_every_variant_is_a_different_layout(pg_server: Any, template_database: str) -> None:
    layouts: dict[str, dict[str, Any]] = {}
    for name, variant in VARIANTS.items():
        async with temporary_database(
            pg_server, "chatkit_layout", template=template_database
        ) as dsn:
            conn = await asyncpg.connect(dsn)
            try:
                reason = await unsupported_reason(conn, variant)
            finally:
                await conn.close()
            if reason is None:
                layouts[name] = await _layout_after(dsn, variant.ddl)
    # Variants that need a build option (lz4) are left out where the server lacks it.
    assert set(layouts) >= {name for name, v in VARIANTS.items() if v.requires is None}
    names = list(layouts)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            assert layouts[first] != layouts[second], (first, second)
