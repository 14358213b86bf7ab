"""``chatkit-pg demo``: start a database, migrate it and drive every Store method once."""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from chatkit.types import (
    FileAttachment,
)

from chatkit_pg import DEFAULT_STRATEGY, STRATEGIES, NotFoundError, PostgresStore
from chatkit_pg.dsn import redact
from chatkit_pg.harness.provision import start_server, temporary_database
from chatkit_pg.loadtest.orchestration.seed import seed_long_thread

from ._common import add_dsn_option

ORDER = 80  # after the harness commands


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "demo", help="start the embedded database (or --dsn), migrate it, exercise the store"
    )
    add_dsn_option(parser)
    parser.add_argument("--strategy", default=DEFAULT_STRATEGY, choices=list(STRATEGIES))
    parser.add_argument("--messages", type=int, default=200, help="messages to append")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with start_server(dsn=args.dsn) as server:
        print(f"database: {server.provider} at {redact(server.dsn)}")
        return asyncio.run(_demo(server, args.strategy, args.messages))


async def _demo(server: Any, strategy: str, messages: int) -> int:
    async with temporary_database(server, "chatkit_demo") as dsn:
        return await _tour(dsn, strategy, messages)


async def _tour(dsn: str, strategy: str, messages: int) -> int:
    store: PostgresStore[dict[str, str]] = PostgresStore(dsn, sort_key_strategy=strategy)
    alice, mallory = {"user_id": "alice"}, {"user_id": "mallory"}
    try:
        await store.create_schema()
        print(f"migrated; sort_key strategy: {strategy}")
        started = time.perf_counter()
        thread_id = await seed_long_thread(store, "alice", "demo", messages)
        elapsed = time.perf_counter() - started
        print(
            f"appended {messages} items in {elapsed:.2f} s "
            f"({messages / elapsed:,.0f} adds/s, one writer)"
        )

        seen, after, pages = 0, None, 0
        while True:
            page = await store.load_thread_items(thread_id, after, 50, "desc", alice)
            seen, pages = seen + len(page.data), pages + 1
            if not page.has_more:
                break
            after = page.after
        print(f"paged back through {seen} items in {pages} keyset pages")

        attachment = FileAttachment(
            id=store.generate_attachment_id("text/plain", alice),
            name="notes.txt",
            mime_type="text/plain",
            thread_id=thread_id,
        )
        await store.save_attachment(attachment, alice)
        assert await store.load_attachment(attachment.id, alice) == attachment
        try:
            await store.load_thread(thread_id, mallory)
            print("ISOLATION BROKEN: another user read the thread")
            return 1
        except NotFoundError:
            print("another user gets NotFoundError for alice's thread")
        await store.delete_thread(thread_id, alice)
        print("deleted the thread; its items and attachments went with it")
        return 0 if seen == messages else 1
    finally:
        await store.close()
