"""Errors the store raises besides the SDK's own ``NotFoundError``."""

from chatkit.store import NotFoundError

__all__ = [
    "ItemExistsError",
    "NotFoundError",
    "SortKeyConflictError",
    "StoreTimeoutError",
    "StoreUnavailableError",
    "TransientConflictError",
]


class ItemExistsError(ValueError):
    """``add_thread_item`` was given an item id that the thread already holds.

    The stored item is left untouched; use ``save_item`` to update it.
    """


class SortKeyConflictError(RuntimeError):
    """A sort key could not be allocated: ``unique_retry`` ran out of attempts, or
    ``naive_max`` lost a race against the UNIQUE (thread_id, sort_key) constraint."""


class StoreUnavailableError(RuntimeError):
    """The database could not be reached, or no pooled connection became free in time."""


class StoreTimeoutError(TimeoutError):
    """The database cancelled a statement (``statement_timeout``); nothing was written."""


class TransientConflictError(RuntimeError):
    """Serialization failures or deadlocks (40001/40P01) persisted through every retry."""
