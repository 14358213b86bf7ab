"""The race harness: a barrier at the store's race point, concurrent rounds of appends, and
the checks that judge a thread afterwards.

Everything here measures and reports; the tests decide what must hold, reading each
strategy's promises from ``store.strategies.STRATEGIES[name].guarantees``.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Final

import asyncpg

from chatkit_pg import PostgresStore
from chatkit_pg.harness.vocabulary import RACE_FULL_ENV as FULL_ENV
from chatkit_pg.strategies import Guarantees

from ..items import user_message

ALICE: Final = {"user_id": "alice"}
PAGE_LIMIT: Final = 7  # small and prime, so pages never line up with round sizes
# Server connections the harness may hold at once (the embedded server allows 100, three of
# them reserved for superusers, and the fixtures need a few of their own).
CONNECTION_BUDGET: Final = 80
STORES_PER_RACE: Final = 4  # separate store instances, as separate server processes would be
# Judges naive_max by the one promise it lacks, to prove the checks see its race.
RACE_FREE: Final = Guarantees(race_free=True, gapless=False, commit_order=False, retries=False)


@dataclass(frozen=True)
class Profile:
    """How hard the volume races push: writers per round, rounds, adds per writer."""

    name: str
    concurrency: tuple[int, ...]
    rounds: int
    adds_per_writer: int


QUICK: Final = Profile("quick", concurrency=(2, 16, 64), rounds=3, adds_per_writer=1)
FULL: Final = Profile("full", concurrency=(2, 8, 16, 32, 64, 80), rounds=8, adds_per_writer=4)


def active_profile() -> Profile:
    """``FULL`` when ``CHATKIT_PG_RACE_FULL`` is set to anything but ``0``, else ``QUICK``."""
    return FULL if os.environ.get(FULL_ENV, "0") not in ("", "0") else QUICK


def pool_plan(writers: int, stores: int = STORES_PER_RACE) -> tuple[int, int]:
    """``(store_count, pool_size)`` giving every writer its own connection within budget."""
    if not 1 <= writers <= CONNECTION_BUDGET:
        raise ValueError(f"writers must be 1..{CONNECTION_BUDGET}, got {writers}")
    count = min(stores, writers)
    return count, math.ceil(writers / count)


def spread_threads(writers: int) -> int:
    """Threads a ``spread`` round covers: about four writers per thread."""
    return max(2, writers // 4)


async def warm(store: PostgresStore[Any], connections: int) -> None:
    """Open ``connections`` pooled connections now, so no race measures connection setup."""
    async with AsyncExitStack() as stack:
        for _ in range(connections):
            await stack.enter_async_context(store.connection())


class ArrivalBarrier:
    """A race hook that holds writers at the race point until all have arrived.

    It opens when ``parties`` writers are waiting, or when ``grace`` seconds pass with no new
    arrival: a strategy that locks before its race point lets only one writer through at a
    time, and waiting for the rest would deadlock. Once open it stays open.

    Attributes:
        arrived: writers that reached the race point.
        max_waiting: most writers held at once (1 means a lock serialised them).
        opened_by: ``"all"`` (every writer was held together) or ``"grace"``.
    """

    def __init__(self, parties: int, grace: float = 1.0) -> None:
        self.parties = parties
        self.grace = grace
        self.arrived = 0
        self.max_waiting = 0
        self.opened_by: str | None = None
        self._waiting = 0
        self._open = asyncio.Event()

    async def __call__(self, thread_id: str, item_id: str) -> None:
        self.arrived += 1
        if self._open.is_set():
            return
        if self.arrived >= self.parties:
            self._release("all")
            return
        self._waiting += 1
        self.max_waiting = max(self.max_waiting, self._waiting)
        try:
            while not self._open.is_set():
                seen = self.arrived
                try:
                    await asyncio.wait_for(self._open.wait(), self.grace)
                except TimeoutError:
                    if self.arrived == seen:
                        self._release("grace")
        finally:
            self._waiting -= 1

    def _release(self, reason: str) -> None:
        if not self._open.is_set():
            self.opened_by = reason
            self._open.set()


@dataclass
class RoundResult:
    """What the callers saw in one round of concurrent appends."""

    added: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    failures: list[BaseException] = field(default_factory=list)
    attempts: int = 0
    elapsed_s: float = 0.0


async def append_round(
    stores: Sequence[PostgresStore[Any]],
    thread_ids: Sequence[str],
    writers: int,
    *,
    adds_per_writer: int = 1,
    tag: str = "r",
) -> RoundResult:
    """Run ``writers`` concurrent writers, each appending ``adds_per_writer`` items.

    Writer ``i`` uses ``stores[i % len(stores)]`` and thread ``thread_ids[i % len(...)]``.
    Every exception is caught and kept: the checks decide whether it was allowed.
    """
    result = RoundResult()
    start = asyncio.Event()

    async def writer(index: int) -> None:
        store = stores[index % len(stores)]
        thread_id = thread_ids[index % len(thread_ids)]
        await start.wait()
        for n in range(adds_per_writer):
            item_id = f"{tag}_w{index:03d}_{n:03d}"
            result.attempts += 1
            try:
                await store.add_thread_item(thread_id, user_message(item_id, thread_id), ALICE)
            except Exception as exc:  # judged by the caller, never swallowed silently
                result.failures.append(exc)
            else:
                result.added[thread_id].append(item_id)

    tasks = [asyncio.create_task(writer(i)) for i in range(writers)]
    await asyncio.sleep(0)  # every writer is now waiting at the start line
    started = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    result.elapsed_s = time.perf_counter() - started
    return result


async def page_ids(
    store: PostgresStore[Any], thread_id: str, order: str, limit: int = PAGE_LIMIT
) -> list[str]:
    """Every item id of a thread, walking ``load_thread_items`` pages with its cursor."""
    ids: list[str] = []
    after: str | None = None
    while True:
        page = await store.load_thread_items(thread_id, after, limit, order, ALICE)
        ids += [item.id for item in page.data]
        if not page.has_more:
            return ids
        if page.after is None or page.after != page.data[-1].id:
            raise AssertionError(f"page cursor {page.after!r} is not the page's last item")
        after = page.after


@dataclass
class ThreadCheck:
    """One thread's rows in the database, compared with what the callers were told."""

    thread_id: str
    expected: set[str]
    keys: list[tuple[int, str]]  # (sort_key, item id) in sort_key order
    asc: list[str]
    desc: list[str]

    @property
    def rows(self) -> int:
        return len(self.keys)

    @property
    def duplicates(self) -> int:
        """Rows beyond the first that share a sort_key."""
        return self.rows - len({key for key, _ in self.keys})

    @property
    def gaps(self) -> int:
        """Keys in 1..max(sort_key) that no row holds."""
        distinct = {key for key, _ in self.keys}
        return (max(distinct) - len(distinct)) if distinct else 0

    def problems(self, promised: Guarantees) -> list[str]:
        """Everything that breaks the promises ``promised`` (or any store's basic contract)."""
        found: list[str] = []
        stored = [item_id for _, item_id in self.keys]
        lost, extra = self.expected - set(stored), set(stored) - self.expected
        if lost or extra:
            found.append(f"{self.thread_id}: rows lost {sorted(lost)}, unexpected {sorted(extra)}")
        if len(set(stored)) != len(stored):
            found.append(f"{self.thread_id}: an item id is stored twice")
        if promised.race_free and self.duplicates:
            found.append(f"{self.thread_id}: {self.duplicates} duplicate sort_keys")
        keys = sorted(key for key, _ in self.keys)
        if promised.gapless and keys != list(range(1, len(keys) + 1)):
            found.append(f"{self.thread_id}: keys are not 1..{len(keys)} ({self.gaps} gaps)")
        repeated = [i for i, n in Counter(self.asc).items() if n > 1]
        if repeated or set(self.asc) != set(stored):
            missing = sorted(set(stored) - set(self.asc))
            found.append(
                f"{self.thread_id}: asc pages repeat {repeated} and miss {missing} "
                f"(limit {PAGE_LIMIT})"
            )
        elif self.asc != stored:
            found.append(f"{self.thread_id}: asc pages are not in sort_key order")
        if self.desc != self.asc[::-1]:
            found.append(f"{self.thread_id}: desc pages are not asc reversed")
        return found


@dataclass
class RoundCheck:
    """All threads of one round, plus the exceptions that reached callers."""

    threads: list[ThreadCheck]
    failures: list[BaseException]

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.threads)

    @property
    def duplicates(self) -> int:
        return sum(t.duplicates for t in self.threads)

    @property
    def gaps(self) -> int:
        return sum(t.gaps for t in self.threads)

    def problems(self, promised: Guarantees) -> list[str]:
        found = [p for t in self.threads for p in t.problems(promised)]
        if promised.race_free and self.failures:
            kinds = Counter(type(exc).__name__ for exc in self.failures)
            found.append(f"{len(self.failures)} adds raised to their callers: {dict(kinds)}")
        return found


async def thread_keys(conn: asyncpg.Connection, thread_ids: Sequence[str]) -> dict[str, list]:
    """``thread_id -> [(sort_key, id), ...]`` straight from the table, in key order."""
    rows = await conn.fetch(
        "SELECT thread_id, sort_key, id FROM chatkit_thread_items "
        "WHERE thread_id = ANY($1::text[]) ORDER BY thread_id, sort_key, id",
        list(thread_ids),
    )
    found: dict[str, list[tuple[int, str]]] = {t: [] for t in thread_ids}
    for row in rows:
        found[row["thread_id"]].append((row["sort_key"], row["id"]))
    return found


async def check_threads(
    store: PostgresStore[Any],
    expected: dict[str, set[str]],
    failures: Sequence[BaseException] = (),
) -> RoundCheck:
    """Read every thread back (table and pages in both orders) for the checks."""
    async with store.connection() as conn:
        keys = await thread_keys(conn, list(expected))
    threads = [
        ThreadCheck(
            thread_id=thread_id,
            expected=ids,
            keys=keys[thread_id],
            asc=await page_ids(store, thread_id, "asc"),
            desc=await page_ids(store, thread_id, "desc"),
        )
        for thread_id, ids in expected.items()
    ]
    return RoundCheck(threads=threads, failures=list(failures))


async def wait_done_or_blocked(
    task: asyncio.Task[Any], monitor: asyncpg.Connection, within: float = 10.0
) -> str:
    """Wait until ``task`` finished (``"done"``) or a session of the monitor's database waits
    on a lock (``"blocked"``), whichever comes first."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if task.done():
            return "done"
        waiting = await monitor.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting:
            return "blocked"
        await asyncio.sleep(0.01)
    raise TimeoutError(f"the task neither finished nor blocked on a lock within {within} s")


async def orphan_items(conn: asyncpg.Connection) -> int:
    """Items whose thread no longer exists (the foreign key should make this 0)."""
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM chatkit_thread_items i "
            "WHERE NOT EXISTS (SELECT 1 FROM chatkit_threads t WHERE t.id = i.thread_id)"
        )
    )
