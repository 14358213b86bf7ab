"""chatkit-pg: a PostgreSQL ``Store`` for OpenAI ChatKit servers.

    from chatkit_pg import PostgresStore

    store = PostgresStore("postgresql://user:password@host/db")
    await store.create_schema()

Names are imported on first use (PEP 562), so importing a light subpackage such as
``chatkit_pg.reports`` does not import chatkit, SQLAlchemy or asyncpg: a report can be
rebuilt on a machine that has only matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import PoolOptions
    from .errors import (
        ChatKitPgError,
        ItemExistsError,
        NotFoundError,
        SortKeyConflictError,
        StoreTimeoutError,
        StoreUnavailableError,
        TransientConflictError,
    )
    from .postgres_store import PostgresStore, default_user_id
    from .strategies import DEFAULT_STRATEGY, SAFE_STRATEGIES, STRATEGIES

_EXPORTS = {
    "PoolOptions": "engine",
    "ChatKitPgError": "errors",
    "ItemExistsError": "errors",
    "NotFoundError": "errors",
    "SortKeyConflictError": "errors",
    "StoreTimeoutError": "errors",
    "StoreUnavailableError": "errors",
    "TransientConflictError": "errors",
    "PostgresStore": "postgres_store",
    "default_user_id": "postgres_store",
    "DEFAULT_STRATEGY": "strategies",
    "SAFE_STRATEGIES": "strategies",
    "STRATEGIES": "strategies",
}

__all__ = [
    "DEFAULT_STRATEGY",
    "SAFE_STRATEGIES",
    "STRATEGIES",
    "ChatKitPgError",
    "ItemExistsError",
    "NotFoundError",
    "PoolOptions",
    "PostgresStore",
    "SortKeyConflictError",
    "StoreTimeoutError",
    "StoreUnavailableError",
    "TransientConflictError",
    "default_user_id",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'chatkit_pg' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
