"""A migration run on a live database: writers append throughout, and the cost is measured.

Two numbers say whether an upgrade blocks writes:

* the longest write-blocking lock the migration held: migrations that take one (0002's
  primary-key swap) time the transaction that holds it and log it on :data:`LOCK_LOGGER`
  with a ``lock_hold`` extra (what, milliseconds, attempt);
  every lock is released at that transaction's commit, so its duration bounds the lock;
* the longest append the writers saw while the migration ran: what an application feels.

Used by ``tests/test_online_upgrade.py`` (correctness) and ``bench/bench_online_upgrade.py``
(the measurement at a profile's size).
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from chatkit_pg import PostgresStore, migrate

from .races import race_thread, user_message

# Logger of the migrations' lock timings (one record per write-blocking transaction).
LOCK_LOGGER: Final = "chatkit_pg.migrations"
WRITER_CONTEXT: Final = {"user_id": "online-upgrade-writer"}


@dataclass(frozen=True)
class LockHold:
    """One write-blocking transaction of a migration: what it locked, for how long."""

    what: str
    milliseconds: float
    attempt: int


@contextmanager
def recorded_lock_holds() -> Iterator[list[LockHold]]:
    """Collect the :class:`LockHold` records migrations log while the block runs."""
    holds: list[LockHold] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            hold = getattr(record, "lock_hold", None)  # the migration's structured extra
            if hold is not None:
                holds.append(LockHold(**hold))

    logger = logging.getLogger(LOCK_LOGGER)
    handler = _Collect(logging.INFO)
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield holds
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)


@dataclass
class Appender:
    """Writers appending to their own threads until stopped, timing every append.

    Attributes:
        store: the store they append through (one pooled connection per writer).
        writers: concurrent writers, each on its own thread.
        prefix: thread id prefix, so several appenders never share a thread.
    """

    store: PostgresStore[Any]
    writers: int = 1
    prefix: str = "thr_online_upgrade"
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (start, seconds)
    failures: list[str] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def thread_ids(self) -> list[str]:
        return [f"{self.prefix}_{n}" for n in range(self.writers)]

    @property
    def appended(self) -> int:
        return len(self.latencies)

    async def start(self) -> None:
        for thread_id in self.thread_ids:
            await self.store.save_thread(race_thread(thread_id), WRITER_CONTEXT)
        self._tasks = [asyncio.create_task(self._write(t)) for t in self.thread_ids]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def _write(self, thread_id: str) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            item = user_message(f"msg_{thread_id}_{n}", thread_id, f"append {n}")
            started = time.monotonic()
            try:
                await self.store.add_thread_item(thread_id, item, WRITER_CONTEXT)
            except Exception as exc:  # every failure is part of the result
                self.failures.append(f"{type(exc).__name__}: {exc}")
                continue
            self.latencies.append((started, time.monotonic() - started))

    def appends_between(self, start: float, end: float) -> list[float]:
        """Latencies (s) of the appends that started in ``[start, end]``."""
        return [seconds for began, seconds in self.latencies if start <= began <= end]


@dataclass(frozen=True)
class UpgradeMeasurement:
    """One upgrade under appends, as written to the results (``bench/upgrade.json``)."""

    from_revision: str | None
    to_revision: str
    items_before: int
    writers: int
    upgrade_seconds: float
    lock_holds: list[LockHold]
    longest_lock_ms: float
    appends_during_upgrade: int
    append_failures: list[str]
    longest_append_ms: float
    median_append_ms: float
    median_append_ms_before: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def upgrade_under_appends(
    url: str, *, revision: str = "head", writers: int = 1, warmup_seconds: float = 1.0
) -> UpgradeMeasurement:
    """Upgrade the database at ``url`` to ``revision`` while ``writers`` append.

    The writers run ``warmup_seconds`` before the upgrade starts (their normal latency) and
    stop when it has finished.
    """
    async with PostgresStore(url, pool_size=writers + 1) as store:
        before = await migrate.current_revision(store.engine)
        async with store.connection() as conn:
            items_before = int(await conn.fetchval("SELECT count(*) FROM chatkit_thread_items"))
        appender = Appender(store, writers)
        await appender.start()
        await asyncio.sleep(warmup_seconds)
        began = time.monotonic()
        with recorded_lock_holds() as holds:
            try:
                await migrate.upgrade(store.engine, revision)
            finally:
                ended = time.monotonic()
                await appender.stop()
        after = await migrate.current_revision(store.engine)
    during = appender.appends_between(began, ended)
    warm = appender.appends_between(0.0, began)
    return UpgradeMeasurement(
        from_revision=before,
        to_revision=str(after),
        items_before=items_before,
        writers=writers,
        upgrade_seconds=round(ended - began, 3),
        lock_holds=holds,
        longest_lock_ms=max((h.milliseconds for h in holds), default=0.0),
        appends_during_upgrade=len(during),
        append_failures=appender.failures,
        longest_append_ms=round(1000 * max(during, default=0.0), 3),
        median_append_ms=round(1000 * statistics.median(during), 3) if during else 0.0,
        median_append_ms_before=round(1000 * statistics.median(warm), 3) if warm else 0.0,
    )
