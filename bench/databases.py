"""The bench's databases on one server: templates, per-variant copies, scratch databases.

* ``empty template``: migrated with the store's own code path, no rows;
* ``seeded template``: migrated and seeded once (COPY), the source of every variant;
* a variant: ``CREATE DATABASE ... TEMPLATE seeded`` plus the variant's DDL, so all variants
  hold byte-identical rows;
* scratch: copies of the empty template for write benchmarks and pgbench.

Nothing is reset by TRUNCATE between benchmarks: each one writes to fresh threads or a fresh
database. (A TRUNCATE/DROP from another connection can hang behind a connection on which
asyncpg's ``prepare()`` left the implicit transaction and its locks open; databases are
dropped ``WITH (FORCE)`` at the end instead.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from chatkit_pg import PostgresStore
from chatkit_pg.harness.provision import DatabaseGroup, PostgresServer, database_name
from chatkit_pg.harness.results import RunFolder

from .explain import table_sizes, write_sizes
from .profiles import Profile
from .seed import SeedResult, seed
from .variants import VARIANTS, get_variant, unsupported_reason


@dataclass
class VariantDatabase:
    """A seeded copy with one index variant applied, and the clients that read it."""

    variant: str
    dsn: str
    seed: SeedResult
    store: PostgresStore[Any]
    raw: asyncpg.Connection
    sizes: dict[str, dict[str, Any]]


@dataclass
class BenchDatabases:
    """Creates the bench's databases lazily and drops every one of them in :meth:`close`."""

    server: PostgresServer
    loop: asyncio.AbstractEventLoop
    profile: Profile
    results: RunFolder
    conditions: dict[str, Any]
    progress: bool = True
    selected_variants: tuple[str, ...] | None = None  # None: every variant
    _empty: str | None = None
    _seeded: tuple[str, SeedResult] | None = None
    _variants: dict[str, VariantDatabase] = field(default_factory=dict)
    _sizes: dict[str, dict[str, Any]] = field(default_factory=dict)
    _unsupported: dict[str, str | None] = field(default_factory=dict)
    _owned: DatabaseGroup = field(init=False)  # every database made here, dropped by close()
    _stores: list[PostgresStore[Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._owned = DatabaseGroup(self.server)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def _create(self, prefix: str, template: str | None = None) -> str:
        return await self._owned.create(prefix, template)

    def empty_template(self) -> str:
        """Name of a migrated, empty database to copy."""
        if self._empty is None:
            self._empty = self.run(self._migrated("bench_empty"))
        return self._empty

    async def _migrated(self, prefix: str) -> str:
        dsn = await self._create(prefix)
        store: PostgresStore[Any] = PostgresStore(dsn, pool_size=1, max_overflow=0)
        try:
            await store.create_schema()
        finally:
            await store.close()
        return database_name(dsn)

    def seeded_template(self) -> tuple[str, SeedResult]:
        """Name of the migrated and seeded template, and what the seed wrote."""
        if self._seeded is None:
            self._seeded = self.run(self._seed(self.empty_template()))
        return self._seeded

    async def _seed(self, empty: str) -> tuple[str, SeedResult]:
        dsn = await self._create("bench_seeded", template=empty)
        conn = await asyncpg.connect(dsn)
        try:
            result = await seed(conn, self.profile, progress=self.progress)
        finally:
            await conn.close()
        return database_name(dsn), result

    def scratch(self, prefix: str) -> str:
        """DSN of a new copy of the empty template (for write benchmarks)."""
        empty = self.empty_template()
        return self.run(self._create(prefix, template=empty))

    def seeded_copy(self, prefix: str) -> str:
        """DSN of a new copy of the seeded template (for benchmarks that change it)."""
        template, _ = self.seeded_template()
        return self.run(self._create(prefix, template=template))

    def store(self, dsn: str, **options: Any) -> PostgresStore[Any]:
        """A store on ``dsn`` that is closed with the databases."""
        options.setdefault("max_overflow", 0)
        made: PostgresStore[Any] = PostgresStore(dsn, **options)
        self._stores.append(made)
        return made

    @contextmanager
    def borrowed_store(self, dsn: str, **options: Any) -> Iterator[PostgresStore[Any]]:
        """A store on ``dsn`` for one benchmark, closed when it is done with it."""
        store = self.store(dsn, **options)
        try:
            yield store
        finally:
            self.release(store)

    def release(self, store: PostgresStore[Any]) -> None:
        """Close a store made by :meth:`store` now (its connections count against the server)."""
        self._stores.remove(store)
        self.run(store.close())

    def skip_reason(self, name: str) -> str | None:
        """Why variant ``name`` is not measured in this run (not among ``--variants``, or a
        server that cannot hold it; asked once per name), or None."""
        if self.selected_variants is not None and name not in self.selected_variants:
            return f"variant {name} is not among --variants {','.join(self.selected_variants)}"
        if name not in self._unsupported:
            self._unsupported[name] = self.run(self._unsupported_reason(name))
        return self._unsupported[name]

    async def _unsupported_reason(self, name: str) -> str | None:
        conn = await asyncpg.connect(self.server.dsn)
        try:
            return await unsupported_reason(conn, get_variant(name))
        finally:
            await conn.close()

    def measured_variants(self) -> list[str]:
        """The layout variants this run measures (chosen and supported), in definition order."""
        return [name for name in VARIANTS if self.skip_reason(name) is None]

    def variant(self, name: str) -> VariantDatabase:
        """The seeded copy with variant ``name`` applied (made once per session).

        A variant this server cannot hold skips the calling benchmark, saying why.
        """
        reason = self.skip_reason(name)
        if reason is not None:
            pytest.skip(reason)
        if name not in self._variants:
            template, result = self.seeded_template()
            self._variants[name] = self.run(self._variant(name, template, result))
        return self._variants[name]

    async def _variant(self, name: str, template: str, result: SeedResult) -> VariantDatabase:
        variant = get_variant(name)
        dsn = await self._create(f"bench_{name}", template=template)
        raw = await asyncpg.connect(dsn)
        for statement in variant.ddl:
            await raw.execute(statement)
        # Rebuild every index so all variants compare freshly built indexes: an index a
        # variant re-created would otherwise look smaller and faster than one that grew
        # during seeding, whatever its definition.
        await raw.execute("REINDEX TABLE chatkit_threads")
        await raw.execute("REINDEX TABLE chatkit_thread_items")
        await raw.execute("VACUUM (ANALYZE) chatkit_threads, chatkit_thread_items")
        sizes = await table_sizes(raw)
        self._sizes[name] = sizes
        write_sizes(
            self.results,
            self._sizes,
            {**self.conditions, "scale": self.profile.as_dict(), "seed": _seed_facts(result)},
        )
        store = self.store(dsn, pool_size=2)
        async with store.connection() as conn:  # open the pool before anything is timed
            await conn.execute("SELECT 1")
        return VariantDatabase(name, dsn, result, store, raw, sizes)

    def close(self) -> None:
        """Close every client and drop every database this object created."""
        self.run(self._close())

    async def _close(self) -> None:
        for variant in self._variants.values():
            await variant.raw.close()
        for store in self._stores:
            await store.close()
        await self._owned.drop_all()


def _seed_facts(result: SeedResult) -> dict[str, int]:
    return {"threads": result.threads, "items": result.items, "item_json_bytes": result.bytes}
