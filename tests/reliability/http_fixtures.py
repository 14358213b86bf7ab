"""The server under attack: ``chatkit-pg serve`` on 127.0.0.1 with a victim's data seeded.

Shared by the hostile-HTTP tests and the property-based test. The victim's rows are written
straight through the store (so every item type is there, including the pending tool call
and the pending structured input that a successful attack would change); the attacker owns
one thread of its own. :func:`snapshot` dumps rows for before/after comparisons.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import asyncpg
from chatkit.types import ClientToolCallItem, StructuredInputFreeform, StructuredInputItem

from chatkit_pg import PostgresStore
from chatkit_pg.harness.provision import to_libpq_url

from ..conftest import serving
from ..items import at, every_item_type, file_attachment, thread, user_message

VICTIM: Final = "victim-user"
ATTACKER: Final = "mallory"
MAX_BODY_BYTES: Final = 64 * 1024  # a small cap, so 413 is cheap to provoke
SECRET: Final = f"VICTIM-SECRET-{uuid.uuid4().hex[:12]}"

DUMP_QUERIES: Final = (
    "SELECT id, user_id, created_at, updated_at, last_sort_key, data::text"
    "  FROM chatkit_threads WHERE user_id = $1 ORDER BY id",
    "SELECT i.thread_id, i.id, i.sort_key, i.type, i.created_at, i.data::text"
    "  FROM chatkit_thread_items i JOIN chatkit_threads t ON t.id = i.thread_id"
    " WHERE t.user_id = $1 ORDER BY 1, 2",
    "SELECT id, user_id, thread_id, data::text FROM chatkit_attachments"
    " WHERE user_id = $1 ORDER BY id",
)
COUNT_ALL_SQL: Final = """
SELECT (SELECT count(*) FROM chatkit_threads) AS threads,
       (SELECT count(*) FROM chatkit_thread_items) AS items,
       (SELECT count(*) FROM chatkit_attachments) AS attachments,
       (SELECT coalesce(max(updated_at)::text, '') FROM chatkit_threads) AS last_update
"""


@dataclass(frozen=True)
class Victim:
    """Ids of the victim's seeded rows (and the attacker's own thread)."""

    chat: str = "thr_victim_chat"  # every item type, a widget, an attachment
    tool: str = "thr_victim_tool"  # ends with a pending client tool call
    form: str = "thr_victim_form"  # holds a pending structured input
    attachment: str = "atc_victim"
    pending_input: str = "si_pending"
    widget: str = "w_1"
    user_message: str = "msg_user"
    attacker_thread: str = "thr_mallory"

    @property
    def threads(self) -> tuple[str, ...]:
        return (self.chat, self.tool, self.form)


@dataclass(frozen=True)
class Target:
    """A running server and the database it writes to."""

    url: str
    dsn: str
    victim: Victim


async def seed(dsn: str, victim: Victim) -> None:
    """Write the victim's threads, items and attachment, and the attacker's thread."""
    owner, attacker = {"user_id": VICTIM}, {"user_id": ATTACKER}
    async with PostgresStore(dsn, pool_size=1, max_overflow=0) as store:
        await store.save_thread(thread(victim.chat, title=f"{SECRET} chat"), owner)
        for item in every_item_type(victim.chat):
            await store.add_thread_item(victim.chat, item, owner)
        await store.save_attachment(file_attachment(victim.attachment, victim.chat), owner)

        await store.save_thread(thread(victim.tool, title=f"{SECRET} tool"), owner)
        await store.add_thread_item(
            victim.tool, user_message("msg_tool_q", victim.tool, f"{SECRET} question"), owner
        )
        pending_call = ClientToolCallItem(
            id="tc_pending",
            thread_id=victim.tool,
            created_at=at(2),
            status="pending",
            call_id="call_pending",
            name="lookup",
            arguments={"q": SECRET},
        )
        await store.add_thread_item(victim.tool, pending_call, owner)

        await store.save_thread(thread(victim.form, title=f"{SECRET} form"), owner)
        form = StructuredInputItem(
            id=victim.pending_input,
            thread_id=victim.form,
            created_at=at(1),
            status="pending",
            inputs=[StructuredInputFreeform(id="q1", question=f"{SECRET} why?")],
        )
        await store.add_thread_item(victim.form, form, owner)

        await store.save_thread(thread(victim.attacker_thread, title="mine"), attacker)
        await store.add_thread_item(
            victim.attacker_thread, user_message("msg_mine", victim.attacker_thread), attacker
        )


async def snapshot(dsn: str, user: str = VICTIM) -> list[tuple[Any, ...]]:
    """Every row ``user`` owns (threads, their items, attachments), in a fixed order."""
    conn = await asyncpg.connect(to_libpq_url(dsn))
    try:
        rows: list[tuple[Any, ...]] = []
        for query in DUMP_QUERIES:
            rows += [tuple(r) for r in await conn.fetch(query, user)]
        return rows
    finally:
        await conn.close()


async def totals(dsn: str) -> dict[str, Any]:
    """Row counts of the whole database and its newest thread update (did anything write?)."""
    conn = await asyncpg.connect(to_libpq_url(dsn))
    try:
        return dict(await conn.fetchrow(COUNT_ALL_SQL))
    finally:
        await conn.close()


def blocking(coroutine: Any) -> Any:
    """Run ``coroutine`` to completion from synchronous code (on a thread with its own loop).

    The property-based test is synchronous (hypothesis drives it); the session's event loop
    is not running there, but a private thread keeps the two loops apart for certain.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def start_target(dsn: str, log: Path) -> Iterator[Target]:
    """Start ``chatkit-pg serve`` on ``dsn`` (127.0.0.1), seed it and yield the target.

    The server migrates the database at start; seeding waits for that.
    """
    victim = Victim()
    with serving(dsn, log, deltas=2, max_body_bytes=MAX_BODY_BYTES, pool_size=4) as url:
        blocking(seed(dsn, victim))
        yield Target(url=url, dsn=dsn, victim=victim)
