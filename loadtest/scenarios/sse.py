"""Server-Sent Events as ChatKit sends them: parse ``data:`` events, check a stream.

Pure Python (no Locust, no I/O), so the rules are unit-tested on their own:

* :class:`SSEParser` turns bytes, in chunks of any size, into the ``data`` payloads of
  complete events (``data:`` lines joined, comments and other fields ignored).
* :class:`StreamCheck` follows the ChatKit events of one ``threads.create`` or
  ``threads.add_user_message`` and says whether the stream was complete: the user message
  done, an assistant message added and done, no ``error`` event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from chatkit_pg.harness.vocabulary import EARLY_END, ERROR_EVENT, INVALID_EVENT


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


@dataclass
class StreamCheck:
    """What one streamed ChatKit response established, event by event.

    Attributes:
        thread_id: from ``thread.created`` (create) or the request (add_user_message).
        user_message_id: the user message the server stored (its ``thread.item.done``).
        assistant_message_id: the assistant message, once its ``thread.item.done`` arrived.
        done_items: ``(id, type)`` of every ``thread.item.done``, in order.
        events: number of events seen.
    """

    thread_id: str | None = None
    user_message_id: str | None = None
    assistant_message_id: str | None = None
    assistant_text: str = ""
    done_items: list[tuple[str, str]] = field(default_factory=list)
    events: int = 0
    _assistant_added: str | None = None

    def observe(self, event: dict[str, Any]) -> None:
        """Take the next event.

        Raises:
            StreamFailure: ``error_event`` for an ``error`` event, ``invalid_event`` for an
                event that contradicts the protocol.
        """
        self.events += 1
        kind = event["type"]
        if kind == "error":
            code = event.get("code", "?")
            raise StreamFailure(ERROR_EVENT, f"server sent error event code={code}")
        if kind == "thread.created":
            thread = event.get("thread")
            if not isinstance(thread, dict) or not isinstance(thread.get("id"), str):
                raise StreamFailure(INVALID_EVENT, "thread.created without thread.id")
            self.thread_id = thread["id"]
        elif kind in ("thread.item.added", "thread.item.done"):
            item = event.get("item")
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise StreamFailure(INVALID_EVENT, f"{kind} without item.id")
            if self.thread_id and item.get("thread_id") != self.thread_id:
                raise StreamFailure(INVALID_EVENT, f"{kind} for another thread")
            if kind == "thread.item.added":
                if item.get("type") == "assistant_message":
                    self._assistant_added = item["id"]
                return
            self.done_items.append((item["id"], str(item.get("type"))))
            if item.get("type") == "user_message" and self.user_message_id is None:
                self.user_message_id = item["id"]
            elif item.get("type") == "assistant_message":
                if item["id"] != self._assistant_added:
                    raise StreamFailure(INVALID_EVENT, "assistant message done before added")
                self.assistant_message_id = item["id"]
                self.assistant_text = "".join(
                    part.get("text", "") for part in item.get("content", [])
                )

    def finish(self) -> None:
        """The stream ended; check it was complete.

        Raises:
            StreamFailure: ``early_end`` when the user or assistant message never finished.
        """
        if self.events == 0:
            raise StreamFailure(EARLY_END, "stream ended before any event")
        if self.user_message_id is None:
            raise StreamFailure(EARLY_END, "stream ended before the user message was done")
        if self.assistant_message_id is None:
            raise StreamFailure(
                EARLY_END, "stream ended without thread.item.done for the assistant message"
            )
