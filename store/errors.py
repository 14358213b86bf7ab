"""Errors the store raises besides the SDK's own ``NotFoundError``."""

from __future__ import annotations

from chatkit.store import NotFoundError

__all__ = [
    "ChatKitPgError",
    "ItemExistsError",
    "NotFoundError",
    "SortKeyConflictError",
    "StoreTimeoutError",
    "StoreUnavailableError",
    "TransientConflictError",
    "thread_not_found",
]


# The id the Agents SDK gives every message of a Chat Completions model (agents'
# FAKE_RESPONSES_ID): ChatKit's stream_agent_response reuses it as the assistant item's id.
REPEATED_MODEL_ITEM_ID = "__fake_id__"


class ChatKitPgError(Exception):
    """Base of every error this package raises (``except ChatKitPgError`` catches them all).

    Each error also keeps its builtin base (``ValueError``, ``RuntimeError``, ...), so
    existing handlers of those still catch it. The SDK's ``NotFoundError`` is not one: the
    store raises the SDK's own class, which ``ChatKitServer`` handles.
    """


class ItemExistsError(ChatKitPgError, ValueError):
    """``add_thread_item`` was given an item id that the thread already holds.

    The stored item is left untouched (a reply never overwrites an earlier one); use
    ``save_item`` to update it on purpose.
    """

    def __init__(self, item_id: str, thread_id: str) -> None:
        message = (
            f"item {item_id!r} already exists in thread {thread_id!r}; the stored item is "
            "unchanged (use save_item to update it)"
        )
        if item_id == REPEATED_MODEL_ITEM_ID:
            message += (
                f". {item_id!r} is the id the Agents SDK gives every message of a Chat "
                "Completions-compatible or local model, and stream_agent_response reuses it "
                "for the assistant message, so each reply repeats it: give the items fresh "
                "ids (store.generate_item_id) before they reach the store"
            )
        super().__init__(message)
        self.item_id = item_id
        self.thread_id = thread_id

    def __reduce__(self) -> tuple[type[ItemExistsError], tuple[str, str]]:
        return type(self), (self.item_id, self.thread_id)


class SortKeyConflictError(ChatKitPgError, RuntimeError):
    """A sort key could not be allocated: ``unique_retry`` ran out of attempts, or
    ``naive_max`` lost a race against the UNIQUE (thread_id, sort_key) constraint."""


class StoreUnavailableError(ChatKitPgError, RuntimeError):
    """The database could not be reached, or no pooled connection became free in time."""


class StoreTimeoutError(ChatKitPgError, TimeoutError):
    """The database cancelled a statement (``statement_timeout``); nothing was written."""


class TransientConflictError(ChatKitPgError, RuntimeError):
    """Serialization failures or deadlocks (40001/40P01) persisted through every retry."""


def thread_not_found(thread_id: str, why: str = "") -> NotFoundError:
    """The SDK's own wording (its server suite asserts ``f"Thread {id} not found"``)."""
    return NotFoundError(f"Thread {thread_id} not found{why}")
