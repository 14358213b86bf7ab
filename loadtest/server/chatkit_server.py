"""``DeterministicChatKitServer``: the SDK's server with a stand-in model.

``respond()`` needs no network and no API key. It streams an assistant message as K text
deltas (with an optional pause before each, emulating token streaming) and, for a share
of requests chosen from the user message id, a workflow item before the reply or a widget
after it, so the store sees a realistic mix of item types. The SDK persists every item on
``thread.item.done``; this class never touches the store itself.

The server uses the SDK's public API only: the application parses a request with the SDK's
own request type (:data:`CHATKIT_REQUEST`, a ``TypeAdapter`` of ``chatkit.types.ChatKitReq``),
checks that the caller owns the thread of a request the SDK would answer without asking the
store (:func:`check_ownership`), then hands the body to ``ChatKitServer.process()``.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Final

from chatkit.server import ChatKitServer
from chatkit.store import AttachmentStore
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    Attachment,
    AttachmentCreateParams,
    ChatKitReq,
    ItemsFeedbackReq,
    ItemsListReq,
    ThoughtTask,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTextContent,
    WidgetItem,
    Workflow,
    WorkflowItem,
    WorkflowTaskAdded,
)
from chatkit.widgets import DynamicWidgetRoot
from pydantic import TypeAdapter

from chatkit_pg import PostgresStore

from .settings import ServerSettings

Context = dict[str, str]

CHATKIT_REQUEST: Final = TypeAdapter[ChatKitReq](ChatKitReq)

# Thread-scoped requests the SDK serves without loading the thread: ``items.list`` reads
# through ``load_thread_items`` (an empty page for a thread that is not the caller's) and
# ``items.feedback`` goes to ``add_feedback`` (no store call at all). Every other
# thread-scoped request starts with ``store.load_thread``, which raises NotFoundError.
OWNERSHIP_CHECKED: Final = (ItemsListReq, ItemsFeedbackReq)


def parse_request(body: str | bytes | bytearray) -> ChatKitReq:
    """The request as the SDK's public type (``pydantic.ValidationError`` when invalid)."""
    return CHATKIT_REQUEST.validate_json(body)


async def check_ownership(store: PostgresStore[Any], request: ChatKitReq, context: Context) -> None:
    """Refuse a thread that is not the caller's where the SDK would not ask the store.

    Raises:
        NotFoundError: an ``items.list``/``items.feedback`` names a thread that does not
            exist or belongs to another user (one indexed query).
    """
    if isinstance(request, OWNERSHIP_CHECKED):
        await store.load_thread(request.params.thread_id, context)


class NoFilesAttachmentStore(AttachmentStore[Context]):
    """Attachment files for a server that keeps none: uploads are refused, deletes are
    left to the store (``store.delete_attachment`` checks the owner)."""

    async def delete_attachment(self, attachment_id: str, context: Context) -> None:
        return None  # no file bytes to remove; the metadata row goes in store.delete_attachment

    async def create_attachment(
        self, input: AttachmentCreateParams, context: Context
    ) -> Attachment:
        raise NotImplementedError("attachments.create: this server does not accept uploads")


def _fraction(key: str, salt: str) -> float:
    """A stable number in [0, 1) derived from ``key`` (same request, same choice)."""
    return zlib.crc32(f"{salt}:{key}".encode()) / 2**32


def _user_text(message: UserMessageItem | None) -> str:
    if message is None:
        return ""
    return " ".join(c.text for c in message.content if isinstance(c, UserMessageTextContent))


def reply_deltas(prompt: str, deltas: int, chars: int) -> list[str]:
    """The K text deltas answering ``prompt``: fixed-size chunks of a deterministic text."""
    seed = (prompt or "hello").split()
    words = [seed[n % len(seed)] for n in range(deltas * chars)]
    text = ("echo: " + " ".join(words))[: deltas * chars].ljust(deltas * chars, ".")
    return [text[n * chars : (n + 1) * chars] for n in range(deltas)]


class DeterministicChatKitServer(ChatKitServer[Context]):
    """A ChatKit server whose "model" is a deterministic echo with configurable pacing."""

    def __init__(self, store: PostgresStore[Any], settings: ServerSettings) -> None:
        super().__init__(store, NoFilesAttachmentStore())
        self.settings = settings
        self._delay = settings.delta_delay_ms / 1000

    async def transcribe(self, audio_input: Any, context: Context) -> Any:
        raise NotImplementedError("input.transcribe: this server has no speech model")

    async def sync_action(
        self, thread: ThreadMetadata, action: Any, sender: Any, context: Context
    ) -> Any:
        raise NotImplementedError("threads.sync_custom_action: this server defines no actions")

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: Context,
    ) -> AsyncIterator[ThreadStreamEvent]:
        key = input_user_message.id if input_user_message else thread.id
        if _fraction(key, "workflow") < self.settings.workflow_ratio:
            async for event in self._workflow(thread, context):
                yield event
        async for event in self._assistant_message(thread, input_user_message, context):
            yield event
        if _fraction(key, "widget") < self.settings.widget_ratio:
            yield ThreadItemDoneEvent(item=self._widget(thread, context))

    async def _assistant_message(
        self, thread: ThreadMetadata, message: UserMessageItem | None, context: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        item_id = self.store.generate_item_id("message", thread, context)
        empty = AssistantMessageContent(text="")
        yield ThreadItemAddedEvent(
            item=_assistant(item_id, thread.id, empty),
        )
        yield ThreadItemUpdatedEvent(
            item_id=item_id, update=AssistantMessageContentPartAdded(content_index=0, content=empty)
        )
        deltas = reply_deltas(_user_text(message), self.settings.deltas, self.settings.delta_chars)
        for delta in deltas:
            if self._delay:
                await asyncio.sleep(self._delay)
            yield ThreadItemUpdatedEvent(
                item_id=item_id,
                update=AssistantMessageContentPartTextDelta(content_index=0, delta=delta),
            )
        final = AssistantMessageContent(text="".join(deltas))
        yield ThreadItemUpdatedEvent(
            item_id=item_id, update=AssistantMessageContentPartDone(content_index=0, content=final)
        )
        yield ThreadItemDoneEvent(item=_assistant(item_id, thread.id, final))

    async def _workflow(
        self, thread: ThreadMetadata, context: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        item = WorkflowItem(
            id=self.store.generate_item_id("workflow", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            workflow=Workflow(type="reasoning", tasks=[]),
        )
        yield ThreadItemAddedEvent(item=item)
        task = ThoughtTask(title="Thinking", content="Considering the question.")
        yield ThreadItemUpdatedEvent(
            item_id=item.id, update=WorkflowTaskAdded(task_index=0, task=task)
        )
        done = item.model_copy(deep=True)
        done.workflow.tasks.append(task)
        yield ThreadItemDoneEvent(item=done)

    def _widget(self, thread: ThreadMetadata, context: Context) -> WidgetItem:
        widget = DynamicWidgetRoot.model_validate(
            {
                "type": "Card",
                "children": [
                    {"type": "Title", "value": "Result"},
                    {"type": "Text", "value": "A deterministic widget from the load-test server."},
                ],
            }
        )
        return WidgetItem(
            id=self.store.generate_item_id("message", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            widget=widget,
            copy_text="Result",
        )


def _assistant(
    item_id: str, thread_id: str, content: AssistantMessageContent
) -> AssistantMessageItem:
    return AssistantMessageItem(
        id=item_id, thread_id=thread_id, created_at=datetime.now(), content=[content]
    )
