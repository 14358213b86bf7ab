"""What the race tests need beyond the volume-race producer: a barrier at the store's race
point, a lock-wait probe, an orphan count, and the promise naive_max lacks.

The rounds of appends and the checks that judge a thread afterwards live in
:mod:`chatkit_pg.harness.races` (the producer of the race matrix); the tests import them from
there. Everything here measures and reports; the tests decide what must hold, reading each
strategy's promises from ``chatkit_pg.strategies.STRATEGIES[name].guarantees``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import asyncpg

from chatkit_pg.strategies import Guarantees

# Judges naive_max by the one promise it lacks, to prove the checks see its race.
RACE_FREE: Final = Guarantees(race_free=True, gapless=False, commit_order=False, retries=False)


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


# A check of the server's state through a monitor connection: True once it holds.
Probe = Callable[[asyncpg.Connection], Awaitable[bool]]


async def any_lock_wait(monitor: asyncpg.Connection) -> bool:
    """Whether a session of the monitor's database waits on a lock."""
    waiting = await monitor.fetchval(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return bool(waiting)


async def wait_done_or_blocked(
    task: asyncio.Task[Any],
    monitor: asyncpg.Connection,
    within: float = 10.0,
    blocked: Probe = any_lock_wait,
    what: str = "blocked on a lock",
) -> str:
    """Wait until ``task`` finished (``"done"``) or the ``blocked`` probe holds
    (``"blocked"``; by default: a session of the monitor's database waits on a lock),
    whichever comes first; TimeoutError saying ``what`` was awaited after ``within`` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if task.done():
            return "done"
        if await blocked(monitor):
            return "blocked"
        await asyncio.sleep(0.01)
    raise TimeoutError(f"the task neither finished nor {what} within {within} s")


async def orphan_items(conn: asyncpg.Connection) -> int:
    """Items whose thread no longer exists (the foreign key should make this 0)."""
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM chatkit_thread_items i "
            "WHERE NOT EXISTS (SELECT 1 FROM chatkit_threads t WHERE t.id = i.thread_id)"
        )
    )
