"""A client that disconnects mid-stream: the SDK's cancellation handling still writes.

``ChatKitServer._process_events`` (chatkit/server.py) catches ``asyncio.CancelledError``
and awaits ``handle_stream_cancelled``, whose default persists the pending assistant message
(the text streamed so far, when not empty) and then an ``SDKHiddenContextItem`` ("The user
cancelled the stream. ..."), before re-raising. The server under test runs the SDK's stream
in a task of its own that the HTTP response only consumes (``server/streams.py``), so a
client that goes away cancels that task once, the SDK's handler runs to the end, and a store
write already under way finishes before the cancellation is delivered.

Each case streams against the real server (uvicorn on 127.0.0.1, slow deltas), drops the
connection after a few text deltas, then reads the thread back straight from the database:
the user message, the partial assistant message (a prefix of the full reply, at least what
the client saw, less than all of it), the hidden context item -- each once, in that order,
with increasing sort keys -- and nothing else.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final

import httpx
import pytest
from chatkit.types import AssistantMessageItem, SDKHiddenContextItem, UserMessageItem

from chatkit_pg import PostgresStore
from chatkit_pg.harness.provision import PostgresServer
from chatkit_pg.loadtest.scenarios.sse import SSEParser, parse_event
from chatkit_pg.loadtest.server.chatkit_server import reply_deltas

from ..conftest import fresh_database, serving

DELTAS: Final = 10
DELTA_CHARS: Final = 12
DELAY_MS: Final = 150
SEEN_BEFORE_HANGUP: Final = 3
USER: Final = "canceller"
TEXT_DELTA: Final = "assistant_message.content_part.text_delta"


@pytest.fixture(scope="module")
async def cancel_dsn(pg_server: PostgresServer) -> AsyncIterator[str]:
    async with fresh_database(pg_server, "chatkit_cancel") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def slow_server(cancel_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("cancel") / "server.log"
    with serving(
        cancel_dsn,
        log,
        deltas=DELTAS,
        delta_chars=DELTA_CHARS,
        delta_delay_ms=DELAY_MS,
        widget_ratio=0.0,
        workflow_ratio=0.0,
    ) as url:
        yield url


def user_input(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


def stream_then_hang_up(url: str, kind: str, params: dict[str, Any]) -> tuple[str | None, str]:
    """Stream ``kind``, close the connection after :data:`SEEN_BEFORE_HANGUP` text deltas;
    the thread id the stream named and the assistant text seen."""
    parser, thread_id, seen, deltas = SSEParser(), params.get("thread_id"), "", 0
    body = json.dumps({"type": kind, "params": params})
    with httpx.Client(base_url=url, timeout=30) as client:
        with client.stream("POST", "/chatkit", content=body, headers={"X-User-Id": USER}) as resp:
            assert resp.status_code == 200, resp.read()
            for chunk in resp.iter_bytes():
                for payload in parser.feed(chunk):
                    event = parse_event(payload)
                    if event["type"] == "thread.created":
                        thread_id = event["thread"]["id"]
                    update = event.get("update") or {}
                    if event["type"] == "thread.item.updated" and update["type"] == TEXT_DELTA:
                        seen += update["delta"]
                        deltas += 1
                if deltas >= SEEN_BEFORE_HANGUP:
                    break  # leaving the blocks closes the connection mid-stream
    return thread_id, seen


async def read_back(dsn: str, thread_id: str, wait_s: float = 15.0) -> list[Any]:
    """The thread's items (hidden ones too) once the hidden context item is there."""
    store: PostgresStore[Any] = PostgresStore(dsn)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            page = await store.load_thread_items(thread_id, None, 100, "asc", {"user_id": USER})
            done = any(isinstance(i, SDKHiddenContextItem) for i in page.data)
            if done or time.monotonic() > deadline:
                return list(page.data)
            await asyncio.sleep(0.2)
    finally:
        await store.close()


async def sort_keys(dsn: str, thread_id: str) -> list[int]:
    store: PostgresStore[Any] = PostgresStore(dsn)
    try:
        async with store.connection() as conn:
            rows = await conn.fetch(
                "SELECT sort_key FROM chatkit_thread_items WHERE thread_id = $1 ORDER BY sort_key",
                thread_id,
            )
        return [int(r["sort_key"]) for r in rows]
    finally:
        await store.close()


def check_cancelled_turn(items: list[Any], prompt: str, seen: str) -> None:
    """Exactly: user message, partial assistant message, hidden context item."""
    kinds = [type(i).__name__ for i in items]
    assert kinds == ["UserMessageItem", "AssistantMessageItem", "SDKHiddenContextItem"], kinds
    user, assistant, hidden = items
    assert isinstance(user, UserMessageItem) and isinstance(assistant, AssistantMessageItem)
    assert isinstance(hidden, SDKHiddenContextItem)
    assert "cancelled the stream" in hidden.content
    full = "".join(reply_deltas(prompt, DELTAS, DELTA_CHARS))
    partial = assistant.content[0].text
    assert partial.startswith(seen), (partial, seen)  # at least what the client saw
    assert full.startswith(partial) and len(partial) < len(full), (partial, full)
    assert len({i.id for i in items}) == len(items)


async def test_disconnect_during_create_keeps_partial_reply(
    slow_server: str, cancel_dsn: str
) -> None:
    prompt = "tell me a long story"
    thread_id, seen = await asyncio.to_thread(
        stream_then_hang_up, slow_server, "threads.create", {"input": user_input(prompt)}
    )
    assert thread_id and seen
    items = await read_back(cancel_dsn, thread_id)
    check_cancelled_turn(items, prompt, seen)
    keys = await sort_keys(cancel_dsn, thread_id)
    assert keys == sorted(set(keys)) and len(keys) == 3


async def test_disconnect_during_reply_then_next_turn(slow_server: str, cancel_dsn: str) -> None:
    """A reply cut short, then a full turn on the same thread: nothing lost, nothing twice."""
    first = "first question please"
    thread_id, _ = await asyncio.to_thread(
        stream_then_hang_up, slow_server, "threads.create", {"input": user_input(first)}
    )
    assert thread_id
    before = await read_back(cancel_dsn, thread_id)
    assert len(before) == 3
    prompt = "second question now"
    params = {"thread_id": thread_id, "input": user_input(prompt)}
    _, seen = await asyncio.to_thread(
        stream_then_hang_up, slow_server, "threads.add_user_message", params
    )
    deadline = time.monotonic() + 15
    while True:
        items = await read_back(cancel_dsn, thread_id)
        if len(items) >= 6 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert [i.id for i in items[:3]] == [i.id for i in before]
    check_cancelled_turn(items[3:], prompt, seen)
    keys = await sort_keys(cancel_dsn, thread_id)
    assert keys == sorted(set(keys)) and len(keys) == 6

    # items.list over HTTP: the SDK hides the hidden context items, shows the partial replies
    async with httpx.AsyncClient(base_url=slow_server, timeout=30) as client:
        body = {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}}
        resp = await client.post("/chatkit", json=body, headers={"X-User-Id": USER})
    assert resp.status_code == 200
    listed = [i["type"] for i in resp.json()["data"]]
    assert listed == ["user_message", "assistant_message"] * 2
