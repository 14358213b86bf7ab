"""The harness's one builder of message items (seeding, races, load-test setup, tests)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    InferenceOptions,
    UserMessageItem,
    UserMessageTextContent,
)


def user_message(
    item_id: str,
    thread_id: str,
    text: str = "hello",
    *,
    created_at: datetime | None = None,
    **fields: Any,
) -> UserMessageItem:
    """A user's text message: the smallest realistic item. ``created_at``: default now,
    naive like the SDK's own ``datetime.now()``; ``fields``: any other UserMessageItem field."""
    return UserMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=created_at or datetime.now(),
        content=[UserMessageTextContent(text=text)],
        inference_options=fields.pop("inference_options", None) or InferenceOptions(),
        **fields,
    )


def assistant_message(
    item_id: str, thread_id: str, text: str, *, created_at: datetime | None = None
) -> AssistantMessageItem:
    """An assistant's text reply."""
    return AssistantMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=created_at or datetime.now(),
        content=[AssistantMessageContent(text=text)],
    )
