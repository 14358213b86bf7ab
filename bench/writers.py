"""Rounds of concurrent ``add_thread_item`` calls, and the checks that judge them afterwards.

A round is N writers started together on one event loop, each awaiting its own adds one
after another, every add timed on its own. Failed adds are counted (not raised), so a
strategy that breaks under contention shows its failures in the results instead of
aborting the benchmark. Duplicates are counted from the database after the run.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from chatkit.types import ThreadItem, ThreadMetadata

from chatkit_pg import PostgresStore

from .measure import latency_summary
from .seed import make_item

WRITER_CONTEXT: Final = {"user_id": "bench_writer"}
Job = tuple[str, ThreadItem]  # (thread_id, item)


@dataclass
class WriteRun:
    """Everything the rounds of one benchmark did.

    Attributes:
        latencies: seconds per successful add, per round.
        elapsed: wall seconds per round.
        added: successful adds per round.
        failed: failed adds per round.
        errors: failed adds by exception type.
        threads: every thread written to (for the duplicate check).
    """

    latencies: list[list[float]] = field(default_factory=list)
    elapsed: list[float] = field(default_factory=list)
    added: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    threads: set[str] = field(default_factory=set)

    def measured(self, rounds: int) -> dict[str, float | None]:
        """ops/s and percentiles over the last ``rounds`` rounds (the timed ones)."""
        rounds = min(rounds, len(self.elapsed))
        if rounds == 0:
            return {"ops_per_s": None, **latency_summary(())}
        elapsed = sum(self.elapsed[-rounds:])
        added = sum(self.added[-rounds:])
        latencies = [s for per_round in self.latencies[-rounds:] for s in per_round]
        ops = round(added / elapsed, 2) if elapsed > 0 else None
        return {"ops_per_s": ops, **latency_summary(latencies)}


async def warm_pool(store: PostgresStore[Any], connections: int) -> None:
    """Open ``connections`` pooled connections now, so no round measures connection setup."""
    async with AsyncExitStack() as stack:
        for _ in range(connections):
            conn = await stack.enter_async_context(store.connection())
            await conn.execute("SELECT 1")


async def new_threads(store: PostgresStore[Any], count: int, prefix: str) -> list[str]:
    """Create ``count`` empty threads of the writer user and return their ids."""
    ids = [f"thr_{prefix}_{n}_{random.getrandbits(48):012x}" for n in range(count)]
    for thread_id in ids:
        await store.save_thread(
            ThreadMetadata(id=thread_id, created_at=datetime.now(UTC)), WRITER_CONTEXT
        )
    return ids


def make_jobs(
    rng: random.Random, threads: Sequence[str], writers: int, adds: int
) -> list[list[Job]]:
    """``adds`` realistic items split over ``writers``, each aimed at a random thread."""
    per_writer = max(1, adds // writers)
    start = datetime.now(UTC)
    jobs: list[list[Job]] = []
    for w in range(writers):
        mine = []
        for n in range(per_writer):
            thread_id = threads[0] if len(threads) == 1 else rng.choice(threads)
            item_id = f"msg_{rng.getrandbits(96):024x}"
            created = start + timedelta(microseconds=w * per_writer + n)
            mine.append((thread_id, make_item(rng, thread_id, item_id, n, created)))
        jobs.append(mine)
    return jobs


async def run_round(store: PostgresStore[Any], jobs: list[list[Job]], run: WriteRun) -> None:
    """All writers at once; appends this round's timings and failures to ``run``."""
    latencies: list[float] = []
    failures = 0

    async def writer(mine: list[Job]) -> None:
        nonlocal failures
        for thread_id, item in mine:
            started = time.perf_counter()
            try:
                await store.add_thread_item(thread_id, item, WRITER_CONTEXT)
            except Exception as exc:  # counted, not raised: a failed add is a result
                failures += 1
                run.errors[type(exc).__name__] += 1
                continue
            latencies.append(time.perf_counter() - started)

    for mine in jobs:
        run.threads.update(thread_id for thread_id, _ in mine)
    started = time.perf_counter()
    await asyncio.gather(*(writer(mine) for mine in jobs))
    run.elapsed.append(time.perf_counter() - started)
    run.latencies.append(latencies)
    run.added.append(len(latencies))
    run.failed.append(failures)


DUPLICATES_SQL: Final = """
SELECT COALESCE(sum(n - distinct_keys), 0)::bigint AS duplicates,
       COALESCE(sum(n), 0)::bigint AS rows
  FROM (SELECT count(*) AS n, count(DISTINCT sort_key) AS distinct_keys
          FROM chatkit_thread_items
         WHERE thread_id = ANY($1::text[])
         GROUP BY thread_id) AS per_thread
"""


async def check_keys(store: PostgresStore[Any], threads: set[str]) -> tuple[int, int]:
    """``(rows sharing a sort_key with another row of their thread, rows)`` in ``threads``."""
    async with store.connection() as conn:
        row = await conn.fetchrow(DUPLICATES_SQL, sorted(threads))
    assert row is not None
    return int(row["duplicates"]), int(row["rows"])
