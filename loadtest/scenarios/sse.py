"""Server-Sent Events as ChatKit sends them: parse ``data:`` events, follow a turn.

Pure Python (no Locust, no I/O), so the rules are unit-tested on their own:

* :class:`SSEParser` turns bytes, in chunks of any size, into the ``data`` payloads of
  complete events (``data:`` lines joined, comments and other fields ignored).
* :class:`StreamCheck` follows the ChatKit events of one ``threads.create`` or
  ``threads.add_user_message`` the way the SDK (``chatkit/types.py``, ``chatkit/server.py``)
  can produce them: every event order the SDK allows is valid -- an item ``done`` with or
  without ``added`` and updates before it, content parts, widgets streamed or whole,
  workflows and tasks, progress updates, ``thread.updated``, client tool calls that end a
  turn, notices, stream options, client effects, and event types it does not know yet. A turn
  ends when the stream ends. What fails: an ``error`` event (``error_event``), an event that
  is not a JSON object with a ``type`` or that contradicts the protocol (``invalid_event``:
  an item without an id, an update of an item the stream never named), another conversation
  in this stream (``cross_talk``: an item or ``thread.updated`` of another thread, a second
  ``thread.created``, a user message that is not the text this request sent, a thread another
  user's stream had or an item another thread's had -- :mod:`.ownership`), a
  stream without the user message the request sent (``early_end``), and -- only when
  ``require_assistant`` is on -- a turn without an assistant message (``no_reply``).
* It also notes when the first assistant text arrived (the first non-empty text delta, or an
  assistant message that arrives whole with text) and when each text delta arrived, from
  which the inter-token latencies and the time per output token follow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Final

from chatkit_pg.harness.vocabulary import (
    CROSS_TALK,
    EARLY_END,
    ERROR_EVENT,
    INVALID_EVENT,
    NO_REPLY,
)

from .ownership import Ownership


class StreamFailure(Exception):
    """A request or stream that broke a rule; ``kind`` is one of the vocabulary's failure
    kinds (:data:`chatkit_pg.harness.vocabulary.FAILURE_KINDS`)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


class SSEParser:
    """Incremental parser of an ``text/event-stream`` body."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []

    def feed(self, chunk: bytes | str) -> list[str]:
        """Add bytes; return the data payloads of the events they completed."""
        if isinstance(chunk, str):
            chunk = chunk.encode()
        self._buffer += chunk
        events: list[str] = []
        while True:
            newline = self._buffer.find(b"\n")
            if newline < 0:
                return events
            raw, self._buffer = self._buffer[:newline], self._buffer[newline + 1 :]
            line = raw.rstrip(b"\r").decode("utf-8", errors="strict")
            if not line:  # a blank line dispatches the event
                if self._data:
                    events.append("\n".join(self._data))
                    self._data = []
                continue
            if line.startswith(":"):
                continue  # comment / keep-alive
            name, _, value = line.partition(":")
            if name == "data":
                self._data.append(value[1:] if value.startswith(" ") else value)

    def leftover(self) -> bool:
        """True when the stream ended inside an event (bytes without the blank line)."""
        return bool(self._data or self._buffer.strip())


def parse_event(payload: str) -> dict[str, Any]:
    """Decode one event's JSON; it must be an object with a string ``type``.

    Raises:
        StreamFailure: ``invalid_event`` otherwise.
    """
    try:
        event = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise StreamFailure(INVALID_EVENT, f"not JSON ({exc.msg})") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise StreamFailure(INVALID_EVENT, "event without a string 'type'")
    return event


ASSISTANT_MESSAGE: Final = "assistant_message"
TEXT_DELTA: Final = "assistant_message.content_part.text_delta"
PART_ADDED: Final = "assistant_message.content_part.added"
PART_DONE: Final = "assistant_message.content_part.done"
ITEM_EVENTS: Final = ("thread.item.added", "thread.item.done", "thread.item.replaced")


def text_of(item: dict[str, Any]) -> str:
    """The text of an item's content parts (an assistant or user message)."""
    content = item.get("content")
    if not isinstance(content, list):
        return ""
    return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))


@dataclass
class StreamCheck:
    """What one streamed ChatKit response established, event by event.

    Attributes:
        thread_id: from ``thread.created`` (create) or the request (add_user_message).
        user_message_id: the user message the server stored (its ``thread.item.done``).
        assistant_message_id: the first assistant message whose ``thread.item.done`` arrived.
        assistant_text: that message's text as its ``done`` carried it.
        done_items: ``(id, type)`` of every ``thread.item.done``, in order.
        events: number of events seen.
        first_event_at: ``now`` of the first event.
        first_token_at: ``now`` of the event that carried the first assistant text.
        delta_times: ``now`` of every non-empty text delta.
        event_types: how many events of each type arrived.
        require_assistant: a turn without an assistant message fails (``no_reply``).
        expect_created: the request creates a thread (``thread.created`` must come).
        sent_text: the text of the user message the request sent; the stream's user message
            must echo it (None: not checked).
        user: who asked; with ``owners``, the ids this stream shows must not be another
            user's thread or another thread's items (:mod:`.ownership`).
        owners: the process's :class:`~.ownership.Ownership` (None: not checked).
    """

    thread_id: str | None = None
    user_message_id: str | None = None
    assistant_message_id: str | None = None
    assistant_text: str = ""
    done_items: list[tuple[str, str]] = field(default_factory=list)
    events: int = 0
    first_event_at: float | None = None
    first_token_at: float | None = None
    delta_times: list[float] = field(default_factory=list)
    event_types: dict[str, int] = field(default_factory=dict)
    require_assistant: bool = False
    expect_created: bool = False
    sent_text: str | None = None
    user: str | None = None
    owners: Ownership | None = None
    _known_items: dict[str, str] = field(default_factory=dict)

    def observe(self, event: dict[str, Any], now: float = 0.0) -> None:
        """Take the next event, which arrived at ``now`` (any clock; for the timings).

        Raises:
            StreamFailure: ``error_event`` for an ``error`` event, ``invalid_event`` for an
                event that contradicts the protocol.
        """
        self.events += 1
        if self.first_event_at is None:
            self.first_event_at = now
        kind = event["type"]
        self.event_types[kind] = self.event_types.get(kind, 0) + 1
        if kind == "error":
            code = event.get("code", "?")
            raise StreamFailure(ERROR_EVENT, f"server sent error event code={code}")
        if kind in ("thread.created", "thread.updated"):
            thread = event.get("thread")
            if not isinstance(thread, dict) or not isinstance(thread.get("id"), str):
                raise StreamFailure(INVALID_EVENT, f"{kind} without thread.id")
            if self.thread_id and thread["id"] != self.thread_id:
                raise StreamFailure(CROSS_TALK, f"{kind} for another thread")
            self.thread_id = thread["id"]
            if self.owners is not None and self.user is not None:
                self._owned(self.owners.claim_thread(thread["id"], self.user), kind)
        elif kind in ITEM_EVENTS:
            self._item_event(kind, event, now)
        elif kind == "thread.item.updated":
            self._update(event, now)
        elif kind == "thread.item.removed":
            if not isinstance(event.get("item_id"), str):
                raise StreamFailure(INVALID_EVENT, "thread.item.removed without item_id")
            self._known_items.pop(event["item_id"], None)
        # Any other type (progress_update, notice, stream_options, client_effect, and types
        # newer than this client) carries nothing a turn depends on.

    def _item_event(self, kind: str, event: dict[str, Any], now: float) -> None:
        item = event.get("item")
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise StreamFailure(INVALID_EVENT, f"{kind} without item.id")
        if not isinstance(item.get("type"), str):
            raise StreamFailure(INVALID_EVENT, f"{kind} without item.type")
        if self.thread_id and item.get("thread_id") not in (None, self.thread_id):
            raise StreamFailure(CROSS_TALK, f"{kind} for another thread")
        if self.owners is not None and self.thread_id:
            self._owned(self.owners.claim_item(item["id"], self.thread_id), kind)
        item_type = item["type"]
        if item_type == ASSISTANT_MESSAGE and self.first_token_at is None and text_of(item):
            self.first_token_at = now  # the assistant message arrived whole
        self._known_items[item["id"]] = item_type
        if kind != "thread.item.done":
            return
        self.done_items.append((item["id"], item_type))
        if item_type == "user_message" and self.user_message_id is None:
            if self.sent_text is not None and text_of(item).strip() != self.sent_text.strip():
                raise StreamFailure(CROSS_TALK, "the user message is not the text this user sent")
            self.user_message_id = item["id"]
        elif item_type == ASSISTANT_MESSAGE and self.assistant_message_id is None:
            self.assistant_message_id = item["id"]
            self.assistant_text = text_of(item)

    @staticmethod
    def _owned(reason: str | None, kind: str) -> None:
        if reason is not None:
            raise StreamFailure(CROSS_TALK, f"{kind}: {reason}")

    def _update(self, event: dict[str, Any], now: float) -> None:
        item_id, update = event.get("item_id"), event.get("update")
        if not isinstance(item_id, str) or not isinstance(update, dict):
            raise StreamFailure(INVALID_EVENT, "thread.item.updated without item_id or update")
        if not isinstance(update.get("type"), str):
            raise StreamFailure(INVALID_EVENT, "thread.item.updated with an untyped update")
        if item_id not in self._known_items:
            raise StreamFailure(INVALID_EVENT, "thread.item.updated for an item never added")
        text = ""
        if update["type"] == TEXT_DELTA:
            text = str(update.get("delta") or "")
            if text:
                self.delta_times.append(now)
        elif update["type"] in (PART_ADDED, PART_DONE) and isinstance(update.get("content"), dict):
            text = str(update["content"].get("text") or "")
        if text and self.first_token_at is None:
            self.first_token_at = now

    def inter_token_ms(self) -> list[float]:
        """Inter-token latencies (ms): one per gap between successive text deltas."""
        return [(later - earlier) * 1000 for earlier, later in pairwise(self.delta_times)]

    def time_per_output_token_ms(self, ended: float) -> float | None:
        """Time per output token (ms) of a stream that ended at ``ended``, as vLLM defines it:
        (end - first assistant token) / (deltas - 1); None under two deltas."""
        if len(self.delta_times) < 2 or self.first_token_at is None:
            return None
        return (ended - self.first_token_at) * 1000 / (len(self.delta_times) - 1)

    def tokens_per_second(self) -> float | None:
        """Text deltas per second from the first delta to the last (None under two deltas)."""
        if len(self.delta_times) < 2:
            return None
        span = self.delta_times[-1] - self.delta_times[0]
        return (len(self.delta_times) - 1) / span if span > 0 else None

    def finish(self) -> None:
        """The stream ended (the turn is over); check it held what the request must produce.

        Raises:
            StreamFailure: ``early_end`` when no event came, no thread was created (create),
                or the user message never finished; ``no_reply`` when an assistant message
                is required and none finished.
        """
        if self.events == 0:
            raise StreamFailure(EARLY_END, "stream ended before any event")
        if self.expect_created and self.thread_id is None:
            raise StreamFailure(EARLY_END, "stream ended without thread.created")
        if self.user_message_id is None:
            raise StreamFailure(EARLY_END, "stream ended before the user message was done")
        if self.require_assistant and self.assistant_message_id is None:
            raise StreamFailure(
                NO_REPLY, "turn ended without an assistant message (--require-assistant)"
            )
