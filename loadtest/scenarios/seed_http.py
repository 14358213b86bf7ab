"""Seeding over the ChatKit API, for targets whose database we cannot reach (staging).

Run once per test from ``test_start`` on the master (or the only process). It is an
"ensure": threads are found by owner and title first, so a second run against the same
deployment seeds nothing. Requests go through a private event hook (not the statistics),
and every write is logged to the ack log like any other, so the integrity check counts it.
"""

from __future__ import annotations

import logging
from typing import Any

from locust.contrib.fasthttp import FastHttpSession
from locust.event import EventHook

from .acks import AckLog
from .client import ChatKitClient
from .settings import ScenarioSettings

logger = logging.getLogger(__name__)


def find_threads(client: ChatKitClient, title: str) -> list[str]:
    """Ids of the identity's threads titled ``title`` (first 100 threads)."""
    page = client.list_threads(limit=100)
    return [t["id"] for t in page.get("data", []) if t.get("title") == title]


def seeding_client(host: str, settings: ScenarioSettings, user: str, acks: AckLog) -> ChatKitClient:
    """A client outside Locust's statistics, as ``user``."""
    hook = EventHook()
    session = FastHttpSession(
        host,
        request_event=hook,
        user=None,
        insecure=not settings.tls_verify,
        network_timeout=settings.request_timeout,
        connection_timeout=settings.request_timeout,
    )
    return ChatKitClient(session, hook, settings, user, acks)


def ensure_seeded(host: str, settings: ScenarioSettings, acks: AckLog) -> dict[str, Any]:
    """Make sure the long threads and hot threads exist; return what was found or made."""
    reader = seeding_client(host, settings, settings.long_reader, acks)
    long_threads = find_threads(reader, settings.long_title)
    for _ in range(settings.seed_threads - len(long_threads)):
        long_threads.append(_seed_long_thread(reader, settings))
    hot = seeding_client(host, settings, settings.hot_user, acks)
    hot_threads = []
    for index in range(settings.hot_threads):
        title = settings.hot_title(index)
        found = find_threads(hot, title)
        if found:
            hot_threads.append(found[0])
            continue
        thread_id = hot.create_thread(f"hot thread {index}").thread_id
        assert thread_id is not None
        hot.update_thread(thread_id, title)
        hot_threads.append(thread_id)
    return {"long_threads": long_threads, "hot_threads": hot_threads}


def _seed_long_thread(client: ChatKitClient, settings: ScenarioSettings) -> str:
    # Each exchange adds a user and an assistant message (and sometimes a widget/workflow).
    exchanges = max(1, settings.seed_thread_length // 2)
    logger.info("seeding a thread of ~%d items over HTTP", exchanges * 2)
    thread_id = client.create_thread("seed message 0").thread_id
    assert thread_id is not None
    for n in range(1, exchanges):
        client.add_message(thread_id, f"seed message {n}")
    client.update_thread(thread_id, settings.long_title)
    return thread_id
