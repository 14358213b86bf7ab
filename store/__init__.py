"""chatkit-pg: a PostgreSQL ``Store`` for OpenAI ChatKit servers.

from store import PostgresStore

store = PostgresStore("postgresql://user:password@host/db")
await store.create_schema()
"""

from .engine import PoolOptions
from .errors import (
    ItemExistsError,
    NotFoundError,
    SortKeyConflictError,
    StoreTimeoutError,
    StoreUnavailableError,
    TransientConflictError,
)
from .postgres_store import PostgresStore, default_user_id
from .strategies import DEFAULT_STRATEGY, SAFE_STRATEGIES, STRATEGIES

__all__ = [
    "DEFAULT_STRATEGY",
    "SAFE_STRATEGIES",
    "STRATEGIES",
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
