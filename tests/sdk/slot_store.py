"""``tests/helpers/mock_store.py`` of the SDK's suites: ``PostgresStore`` as ``SQLiteStore``.

The SDK's tests build ``SQLiteStore(db_path)`` with a SQLite URI per test (or per server);
here each distinct ``db_path`` of a test is that test's own PostgreSQL database, copied from
the migrated template by the slot's conftest, and the store is our ``PostgresStore`` with
every default an application gets. The SDK's own SQLite connections to ``db_path`` stay
SQLite's: they only keep an unused in-memory database alive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatkit_pg import PostgresStore
from tests._types import RequestContext


@dataclass
class SlotDatabase:
    """The database of the running SDK test, and the stores opened on it."""

    client_dsn: str
    store_options: dict[str, Any]
    path: str | None = None
    stores: list[PostgresStore[Any]] = field(default_factory=list)

    def dsn_for(self, db_path: str | None) -> str:
        if self.path is None:
            self.path = db_path
        elif db_path != self.path:
            raise RuntimeError(
                f"this SDK test opened a second store path {db_path!r} (first {self.path!r}); "
                "the slot gives each test one PostgreSQL database"
            )
        return self.client_dsn


current: SlotDatabase | None = None


class SQLiteStore(PostgresStore[RequestContext]):
    def __init__(self, db_path: str | None = None) -> None:
        if current is None:
            raise RuntimeError("no test database: the slot's conftest did not run")
        self.db_path = db_path
        super().__init__(current.dsn_for(db_path), **current.store_options)
        current.stores.append(self)
