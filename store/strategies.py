"""Sort-key allocation strategies: the one place that defines them.

Every strategy turns "append this item to that thread" into SQL on one asyncpg connection
and returns the ``sort_key`` it wrote. They differ in round trips, in what they lock, and
in what they promise; the promises are data (:class:`Guarantees`) so that tests, benchmarks
and reports read them from here instead of keeping their own lists.

A test hook (:data:`RaceHook`) is awaited at the dangerous moment of each strategy: after
the next key was read and before it is written (two-step strategies, inside their
transaction and after any lock), or just before the single statement that does both.
A barrier there forces "every writer reads before any writer inserts" on every run.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import asyncpg

from . import sql
from .errors import ItemExistsError, SortKeyConflictError, thread_not_found

RaceHook = Callable[[str, str], Awaitable[None]]
"""``await hook(thread_id, item_id)`` at the strategy's read-then-write point."""

# Parameters shared by every item statement, in sql.py's order:
# (thread_id, user_id, item_id, type, created_at, data)
ItemParams = tuple[object, ...]


@dataclass(frozen=True)
class Guarantees:
    """What a strategy promises about the keys of one thread.

    Attributes:
        race_free: concurrent appends never produce duplicate keys or failed adds.
        gapless: appends produce 1, 2, 3, ... with no holes (deletes aside).
        commit_order: a key is visible only after every smaller key of the thread is, so a
            reader paging forward never skips an item that commits late.
        retries: the strategy may retry a statement internally.
    """

    race_free: bool
    gapless: bool
    commit_order: bool
    retries: bool


@dataclass
class AllocationCounters:
    """Counters a store keeps across calls; benchmarks and the race matrix report them."""

    retries: int = 0
    conflicts: int = 0


class SortKeyStrategy:
    """Base class: one instance per store; stateless apart from shared counters.

    Any strategy may find a thread that another one wrote (a rolling deploy, a changed
    setting): its keys never go below that thread's existing ones, and a statement that still
    loses a key to a writer of another strategy is retried with a fresh snapshot until
    :attr:`retry_seconds` pass. Each lost attempt means another append to the thread
    committed, so the thread makes progress however often one writer loses.
    """

    name: str = ""
    description: str = ""
    guarantees: Guarantees
    retry_seconds: float = 30.0

    def __init__(self, counters: AllocationCounters, hook: RaceHook | None = None) -> None:
        self.counters = counters
        self.hook = hook

    def add(self, conn: asyncpg.Connection, params: ItemParams) -> Awaitable[int]:
        """Insert a new item (duplicate id: :class:`ItemExistsError`) and return its key."""
        raise NotImplementedError

    def save(self, conn: asyncpg.Connection, params: ItemParams) -> Awaitable[int]:
        """Upsert an item: update in place keeping its key, or append it."""
        raise NotImplementedError

    async def _race_point(self, params: ItemParams) -> None:
        if self.hook is not None:
            await self.hook(str(params[0]), str(params[2]))

    async def _one_statement(
        self, conn: asyncpg.Connection, params: ItemParams, statement: str
    ) -> int:
        """Allocate and write in one statement (hook first, once), retrying lost keys."""
        if self.hook is not None:
            await self._race_point(params)

        async def attempt() -> int:
            return _owned(await conn.fetchrow(statement, *params), params)

        try:
            # The common case first, without the retry loop's setup: this is the hot path.
            return await attempt()
        except asyncpg.UniqueViolationError as exc:
            self._lost_key(exc, params)
        return await self._retrying(params, attempt, tries=1)

    def _lost_key(self, exc: asyncpg.UniqueViolationError, params: ItemParams) -> None:
        """Count a lost sort_key, or raise what the violation means for the caller."""
        if exc.constraint_name != sql.ITEMS_SORT_KEY_UNIQUE:
            raise _translate_unique(exc, params) from exc
        self.counters.conflicts += 1
        if not self.guarantees.race_free:
            raise SortKeyConflictError(
                f"{self.name}: another writer took the same sort_key in thread {params[0]!r}"
            ) from exc

    async def _retrying(
        self, params: ItemParams, attempt: Callable[[], Awaitable[int]], tries: int = 0
    ) -> int:
        """Run ``attempt`` until it wins a sort_key, within :attr:`retry_seconds`.

        Only a lost sort_key is retried; a duplicate item id is :class:`ItemExistsError` and
        no sort_key violation ever reaches the caller as a driver error. ``tries``: attempts
        already lost before this call.
        """
        deadline = time.monotonic() + self.retry_seconds
        while True:
            if tries:
                self.counters.retries += 1
                # Tiny jittered pause so losers of one round do not collide again.
                await asyncio.sleep(random.uniform(0, min(0.005, 0.0005 * tries)))
            tries += 1
            try:
                return await attempt()
            except asyncpg.UniqueViolationError as exc:
                self._lost_key(exc, params)
                if time.monotonic() >= deadline:
                    raise SortKeyConflictError(
                        f"{self.name}: no free sort_key in thread {params[0]!r} after "
                        f"{tries} attempts in {self.retry_seconds:.0f} s"
                    ) from exc


def _owned(row: asyncpg.Record | None, params: ItemParams) -> int:
    if row is None:
        raise thread_not_found(str(params[0]))
    return int(row[0])


def _translate_unique(exc: asyncpg.UniqueViolationError, params: ItemParams) -> Exception:
    if exc.constraint_name == sql.ITEMS_PRIMARY_KEY:
        return ItemExistsError(str(params[2]), str(params[0]))
    return exc


class _OneStatementStrategy(SortKeyStrategy):
    """Allocate the key and write the item in one statement (``add_sql`` / ``save_sql``)."""

    add_sql: str
    save_sql: str

    # Plain methods returning the statement's coroutine: one coroutine frame less on the
    # store's hottest path than ``async def`` wrappers awaiting it.
    def add(self, conn: asyncpg.Connection, params: ItemParams) -> Awaitable[int]:
        return self._one_statement(conn, params, self.add_sql)

    def save(self, conn: asyncpg.Connection, params: ItemParams) -> Awaitable[int]:
        return self._one_statement(conn, params, self.save_sql)


class CounterStrategy(_OneStatementStrategy):
    name = "counter"
    description = "per-thread counter bumped and item inserted in one statement (default)"
    guarantees = Guarantees(race_free=True, gapless=True, commit_order=True, retries=False)
    add_sql = sql.ADD_ITEM_COUNTER_SQL
    save_sql = sql.UPSERT_ITEM_COUNTER_SQL


class _TwoStepStrategy(SortKeyStrategy):
    """BEGIN; [lock]; read max()+1; <race point>; INSERT; COMMIT."""

    lock_sql: str | None = None
    lock_param_count: int = 0  # leading item parameters the lock statement takes

    async def _two_step(self, conn: asyncpg.Connection, params: ItemParams, write_sql: str) -> int:
        async with conn.transaction():
            if self.lock_sql is not None:
                await conn.execute(self.lock_sql, *params[: self.lock_param_count])
            next_key = _owned(
                await conn.fetchrow(sql.SELECT_NEXT_SORT_KEY_SQL, *params[:2]), params
            )
            await self._race_point(params)
            row = await conn.fetchrow(write_sql, params[0], params[2], next_key, *params[3:])
            assert row is not None
            return int(row[0])

    async def add(self, conn: asyncpg.Connection, params: ItemParams) -> int:
        return await self._retrying(
            params, lambda: self._two_step(conn, params, sql.INSERT_ITEM_SQL)
        )

    async def save(self, conn: asyncpg.Connection, params: ItemParams) -> int:
        return await self._retrying(
            params, lambda: self._two_step(conn, params, sql.UPSERT_ITEM_SQL)
        )


class NaiveMaxStrategy(_TwoStepStrategy):
    name = "naive_max"
    description = "SELECT max()+1 then INSERT, no lock: the racy baseline (benchmarks only)"
    guarantees = Guarantees(race_free=False, gapless=False, commit_order=False, retries=False)


class LockedMaxStrategy(_TwoStepStrategy):
    name = "locked_max"
    description = "lock the thread row (FOR UPDATE), then max()+1 and INSERT"
    guarantees = Guarantees(race_free=True, gapless=True, commit_order=True, retries=False)
    lock_sql = sql.LOCK_THREAD_ROW_SQL
    lock_param_count = 2


class AdvisoryStrategy(_TwoStepStrategy):
    name = "advisory"
    description = "transaction advisory lock on the thread id, then max()+1 and INSERT"
    guarantees = Guarantees(race_free=True, gapless=True, commit_order=True, retries=False)
    lock_sql = sql.LOCK_THREAD_ADVISORY_SQL
    lock_param_count = 1


class UniqueRetryStrategy(_OneStatementStrategy):
    name = "unique_retry"
    description = "max()+1 and INSERT in one statement under UNIQUE (thread_id, sort_key), retried"
    # A writer only computes key k+1 after k is committed (it either saw k or blocked on k's
    # unique-index entry), so commit order holds; deletes of the newest item re-use its key.
    # Retries are bounded by time, not by count (see the base class): a count bound failed
    # adds once more than that many writers shared a hot thread.
    guarantees = Guarantees(race_free=True, gapless=True, commit_order=True, retries=True)
    add_sql = sql.ADD_ITEM_MAX_SQL
    save_sql = sql.UPSERT_ITEM_MAX_SQL


class SequenceStrategy(_OneStatementStrategy):
    name = "sequence"
    description = "one global identity sequence: unique, lock-free, not commit-ordered"
    guarantees = Guarantees(race_free=True, gapless=False, commit_order=False, retries=False)
    add_sql = sql.ADD_ITEM_SEQUENCE_SQL
    save_sql = sql.UPSERT_ITEM_SEQUENCE_SQL


STRATEGIES: Final[dict[str, type[SortKeyStrategy]]] = {
    cls.name: cls
    for cls in (
        CounterStrategy,
        LockedMaxStrategy,
        AdvisoryStrategy,
        UniqueRetryStrategy,
        SequenceStrategy,
        NaiveMaxStrategy,
    )
}
DEFAULT_STRATEGY: Final = "counter"
SAFE_STRATEGIES: Final = tuple(n for n, c in STRATEGIES.items() if c.guarantees.race_free)


def strategy_class(name: str) -> type[SortKeyStrategy]:
    """Look up a strategy by name, with an error that lists the valid names."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"unknown sort_key_strategy {name!r}; choose one of {', '.join(STRATEGIES)}"
        ) from None
