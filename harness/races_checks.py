"""Reading a race's threads back and judging them against a strategy's promises.

After every round the threads are read back (the table, and pages in both orders with
:func:`page_ids`) into a :class:`RoundCheck` of :class:`ThreadCheck` s; their ``problems``
are everything that breaks ``STRATEGIES[name].guarantees`` or any store's basic contract.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from chatkit_pg import PostgresStore
from chatkit_pg.strategies import Guarantees

from .races_plan import ALICE, PAGE_LIMIT


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
