"""Whose is each id a stream shows: the user each thread id and the thread each item id
was first seen with, across all the streams of one Locust process.

A stream's own checks (:class:`~.sse.StreamCheck`) see only that stream: a server that sends
user B's ``threads.create`` stream to user A passes them, thread ids and all, unless the
echoed text gives it away. Remembering the ids of every stream this process read catches
it whatever the text: a thread created "for" A that B already has, or an item of another
thread, is another conversation's (``cross_talk``). Thread and item ids are unique in a
ChatKit store (the SDK's ``generate_*_id`` are uuid-based), so a repeat is never legitimate.

Bounded: past ``limit`` ids of a kind, the oldest are forgotten (a long run keeps its
memory flat; a swap between streams seconds apart is still caught).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

DEFAULT_LIMIT: Final = 200_000


class Ownership:
    """Thread id -> user and item id -> thread id, first seen wins."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self._thread_user: OrderedDict[str, str] = OrderedDict()
        self._item_thread: OrderedDict[str, str] = OrderedDict()

    def claim_thread(self, thread_id: str, user: str) -> str | None:
        """Note ``thread_id`` as ``user``'s; the reason when another user's stream had it."""
        return self._claim(self._thread_user, thread_id, user, "thread", "user")

    def claim_item(self, item_id: str, thread_id: str) -> str | None:
        """Note ``item_id`` as ``thread_id``'s; the reason when another thread had it."""
        return self._claim(self._item_thread, item_id, thread_id, "item", "thread")

    def _claim(
        self, owners: OrderedDict[str, str], key: str, owner: str, what: str, whose: str
    ) -> str | None:
        known = owners.get(key)
        if known is not None:
            return None if known == owner else f"{what} {key} belongs to another {whose}"
        owners[key] = owner
        if len(owners) > self.limit:
            owners.popitem(last=False)
        return None
