"""A ChatKit server as the SDK's docs describe one -- not ours, not on our store.

FastAPI, a ``ChatKitServer`` subclass whose ``respond()`` yields the SDK's events, an
in-memory ``Store``, and identity from a header (``X-User-Id``; none: 401). The endpoint is
``POST /api/chatkit`` (not ``/chatkit``: the client must be told the path).

Each request picks the shape of its reply with the header ``X-Reply-Mode`` (default
``single_done``), so one server covers every event order the SDK can produce:

* ``single_done``: the assistant message as one ``thread.item.done`` (the SDK guide's way);
* ``streamed``: ``added``, a content part, ``--chunks`` text deltas, part done, ``done``;
* ``widget_only``: a streamed widget (``stream_widget`` with changing text), no message;
* ``widget_whole``: a widget as one ``done``, no message;
* ``workflow``: a workflow with tasks added and updated, then a streamed message;
* ``client_tool``: a client tool call that ends the turn, no message;
* ``title_update``: a progress update, a notice, the thread's title changed (the SDK sends
  ``thread.updated``), then a single-``done`` message.

``X-Chunk-Delay-Ms`` (default 0) sleeps before each text delta or widget state and before a
single-``done`` message: the model's latency, for time-to-first-token checks.

``X-Plant: swap`` plants a defect for the load test to catch: each turn is processed, but
the stream sent back is another user's last one (sessions mixed, ``cross_talk``).
``X-Plant: drop-cancel``: a stream the client hangs up on saves nothing -- neither the
partial assistant message nor the SDK's hidden cancellation item (``cancel_lost``).

Run: ``python -m tests.docs_server.app PORT`` (127.0.0.1 only).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import uvicorn
from chatkit.server import ChatKitServer, StreamingResult, stream_widget
from chatkit.store import NotFoundError, Store
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ClientToolCallItem,
    CustomTask,
    NoticeEvent,
    Page,
    ProgressUpdateEvent,
    ThreadItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    WidgetItem,
    Workflow,
    WorkflowItem,
    WorkflowTaskAdded,
    WorkflowTaskUpdated,
)
from chatkit.widgets import Card, Text
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response, StreamingResponse

MODES = (
    "single_done",
    "streamed",
    "widget_only",
    "widget_whole",
    "workflow",
    "client_tool",
    "title_update",
)
CHUNKS = 5


class MemoryStore(Store[dict[str, Any]]):
    """Threads and items in dicts; a thread belongs to the user who created it."""

    def __init__(self) -> None:
        self.threads: dict[str, tuple[str, ThreadMetadata]] = {}
        self.items: dict[str, list[ThreadItem]] = {}

    def _owned(self, thread_id: str, context: dict[str, Any]) -> ThreadMetadata:
        owner_thread = self.threads.get(thread_id)
        if owner_thread is None or owner_thread[0] != context["user"]:
            raise NotFoundError(f"thread {thread_id} not found")
        return owner_thread[1]

    async def load_thread(self, thread_id: str, context: dict[str, Any]) -> ThreadMetadata:
        return self._owned(thread_id, context).model_copy(deep=True)

    async def save_thread(self, thread: ThreadMetadata, context: dict[str, Any]) -> None:
        if thread.id in self.threads:
            self._owned(thread.id, context)
        meta = ThreadMetadata(**thread.model_dump(exclude={"items"}))
        self.threads[thread.id] = (context["user"], meta)
        self.items.setdefault(thread.id, [])

    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: dict[str, Any],
    ) -> Page[ThreadItem]:
        self._owned(thread_id, context)
        items = list(self.items[thread_id])
        if order == "desc":
            items.reverse()
        if after is not None:
            ids = [i.id for i in items]
            items = items[ids.index(after) + 1 :] if after in ids else []
        page = items[:limit]
        has_more = len(items) > limit
        return Page(data=page, has_more=has_more, after=page[-1].id if has_more else None)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: dict[str, Any]
    ) -> Page[ThreadMetadata]:
        mine = [t for owner, t in self.threads.values() if owner == context["user"]]
        mine.sort(key=lambda t: (t.created_at, t.id), reverse=order == "desc")
        if after is not None:
            ids = [t.id for t in mine]
            mine = mine[ids.index(after) + 1 :] if after in ids else []
        page = mine[:limit]
        has_more = len(mine) > limit
        return Page(data=page, has_more=has_more, after=page[-1].id if has_more else None)

    async def add_thread_item(
        self, thread_id: str, item: ThreadItem, context: dict[str, Any]
    ) -> None:
        self._owned(thread_id, context)
        self.items[thread_id].append(item)

    async def save_item(self, thread_id: str, item: ThreadItem, context: dict[str, Any]) -> None:
        self._owned(thread_id, context)
        items = self.items[thread_id]
        for n, old in enumerate(items):
            if old.id == item.id:
                items[n] = item
                return
        items.append(item)

    async def load_item(self, thread_id: str, item_id: str, context: dict[str, Any]) -> ThreadItem:
        self._owned(thread_id, context)
        for item in self.items[thread_id]:
            if item.id == item_id:
                return item
        raise NotFoundError(item_id)

    async def delete_thread(self, thread_id: str, context: dict[str, Any]) -> None:
        self._owned(thread_id, context)
        del self.threads[thread_id]
        del self.items[thread_id]

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: dict[str, Any]
    ) -> None:
        self._owned(thread_id, context)
        self.items[thread_id] = [i for i in self.items[thread_id] if i.id != item_id]

    async def save_attachment(self, attachment: Any, context: dict[str, Any]) -> None:
        raise NotImplementedError

    async def load_attachment(self, attachment_id: str, context: dict[str, Any]) -> Any:
        raise NotImplementedError

    async def delete_attachment(self, attachment_id: str, context: dict[str, Any]) -> None:
        raise NotImplementedError


class DocsStyleServer(ChatKitServer[dict[str, Any]]):
    """``respond()`` in the shape the request's ``X-Reply-Mode`` asks for."""

    async def handle_stream_cancelled(
        self, thread: ThreadMetadata, pending_items: list[ThreadItem], context: dict[str, Any]
    ) -> None:
        if context["plant"] == "drop-cancel":
            return  # the planted defect: the cancelled turn's items are never saved
        await super().handle_stream_cancelled(thread, pending_items, context)

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: dict[str, Any],
    ) -> AsyncIterator[ThreadStreamEvent]:
        mode, delay = context["mode"], context["delay"]
        text = "Hello from a server the docs describe."
        if mode == "title_update":
            yield ProgressUpdateEvent(text="thinking")
            yield NoticeEvent(level="info", message="a notice")
            thread.title = f"titled {datetime.now():%H%M%S}"
        if mode == "workflow":
            async for event in self._workflow(thread, context):
                yield event
        if mode in ("single_done", "title_update"):
            await asyncio.sleep(delay)
            yield ThreadItemDoneEvent(item=self._message(thread, context, text))
        elif mode in ("streamed", "workflow"):
            async for event in self._streamed(thread, context, delay):
                yield event
        elif mode == "widget_only":
            async for event in stream_widget(thread, self._widget_states(delay)):
                yield event
        elif mode == "widget_whole":
            yield ThreadItemDoneEvent(
                item=WidgetItem(
                    id=self.store.generate_item_id("message", thread, context),
                    thread_id=thread.id,
                    created_at=datetime.now(),
                    widget=Card(children=[Text(value="a whole widget")]),
                )
            )
        elif mode == "client_tool":
            yield ThreadItemDoneEvent(
                item=ClientToolCallItem(
                    id=self.store.generate_item_id("tool_call", thread, context),
                    thread_id=thread.id,
                    created_at=datetime.now(),
                    call_id="call_1",
                    name="get_location",
                    arguments={"precision": "city"},
                )
            )

    def _message(
        self, thread: ThreadMetadata, context: dict[str, Any], text: str
    ) -> AssistantMessageItem:
        return AssistantMessageItem(
            id=self.store.generate_item_id("message", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            content=[AssistantMessageContent(text=text)],
        )

    async def _streamed(
        self, thread: ThreadMetadata, context: dict[str, Any], delay: float
    ) -> AsyncIterator[ThreadStreamEvent]:
        item = self._message(thread, context, "")
        item.content = []
        yield ThreadItemAddedEvent(item=item)
        part = AssistantMessageContent(text="")
        yield ThreadItemUpdatedEvent(
            item_id=item.id,
            update=AssistantMessageContentPartAdded(content_index=0, content=part),
        )
        chunks = [f"chunk {n} " for n in range(CHUNKS)]
        for chunk in chunks:
            await asyncio.sleep(delay)
            yield ThreadItemUpdatedEvent(
                item_id=item.id,
                update=AssistantMessageContentPartTextDelta(content_index=0, delta=chunk),
            )
        full = AssistantMessageContent(text="".join(chunks))
        yield ThreadItemUpdatedEvent(
            item_id=item.id,
            update=AssistantMessageContentPartDone(content_index=0, content=full),
        )
        yield ThreadItemDoneEvent(item=item.model_copy(update={"content": [full]}))

    async def _widget_states(self, delay: float) -> AsyncIterator[Card]:
        for n in range(1, 4):
            await asyncio.sleep(delay)
            yield Card(children=[Text(id="status", value="step " * n, streaming=True)])

    async def _workflow(
        self, thread: ThreadMetadata, context: dict[str, Any]
    ) -> AsyncIterator[ThreadStreamEvent]:
        item = WorkflowItem(
            id=self.store.generate_item_id("workflow", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            workflow=Workflow(type="custom", tasks=[]),
        )
        yield ThreadItemAddedEvent(item=item)
        task = CustomTask(title="look up", status_indicator="loading")
        yield ThreadItemUpdatedEvent(
            item_id=item.id, update=WorkflowTaskAdded(task=task, task_index=0)
        )
        done = task.model_copy(update={"status_indicator": "complete"})
        yield ThreadItemUpdatedEvent(
            item_id=item.id, update=WorkflowTaskUpdated(task=done, task_index=0)
        )
        item.workflow.tasks = [done]
        yield ThreadItemDoneEvent(item=item)


async def _recorded(
    result: StreamingResult, user: str, bodies: dict[str, bytes]
) -> AsyncIterator[bytes]:
    """The stream as it goes out, kept as ``user``'s last body (for the ``swap`` plant)."""
    chunks = []
    async for chunk in result:
        chunks.append(chunk)
        yield chunk
    bodies[user] = b"".join(chunks)


def create_app() -> FastAPI:
    server = DocsStyleServer(MemoryStore())
    app = FastAPI()
    bodies: dict[str, bytes] = {}  # each user's last stream, as sent

    @app.post("/api/chatkit")
    async def chatkit_endpoint(request: Request) -> Response:
        user = request.headers.get("x-user-id")
        if not user:
            raise HTTPException(status_code=401, detail="X-User-Id header required")
        mode = request.headers.get("x-reply-mode", "single_done")
        if mode not in MODES:
            raise HTTPException(status_code=400, detail=f"unknown X-Reply-Mode {mode!r}")
        delay = float(request.headers.get("x-chunk-delay-ms", "0")) / 1000
        plant = request.headers.get("x-plant")
        context = {"user": user, "mode": mode, "delay": delay, "plant": plant}
        try:
            result = await server.process(await request.body(), context)
        except NotFoundError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None
        if isinstance(result, StreamingResult):
            foreign = next((body for u, body in bodies.items() if u != user), None)
            if plant == "swap" and foreign is not None:
                # A planted defect: the turn is processed, but another user's stream is sent.
                bodies[user] = b"".join([chunk async for chunk in result])
                return Response(content=foreign, media_type="text/event-stream")
            return StreamingResponse(
                _recorded(result, user, bodies), media_type="text/event-stream"
            )
        return Response(content=result.json, media_type="application/json")

    return app


if __name__ == "__main__":
    uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
