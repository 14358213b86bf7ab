"""Running one race: the writers, a round of concurrent appends, and one cell of the matrix.

* :func:`append_round` -- N writers started together, each appending its items.
* :func:`race_cell` -- one cell on one migrated database: its matrix row and its problems.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chatkit.types import ThreadMetadata, UserMessageItem

from chatkit_pg import STRATEGIES, PostgresStore

from . import items
from .races_checks import RoundCheck, check_threads
from .races_plan import ALICE, QUICK, Profile, pool_plan, scenario_threads

# -- what the writers write ----------------------------------------------------------------


def race_thread(thread_id: str) -> ThreadMetadata:
    """A thread for the writers to append to."""
    return ThreadMetadata(id=thread_id, created_at=datetime.now(UTC))


def user_message(item_id: str, thread_id: str, text: str = "hello") -> UserMessageItem:
    """The harness's user message (:func:`.items.user_message`), stamped now in UTC."""
    return items.user_message(item_id, thread_id, text, created_at=datetime.now(UTC))


async def warm(store: PostgresStore[Any], connections: int) -> None:
    """Open ``connections`` pooled connections now, so no race measures connection setup."""
    async with AsyncExitStack() as stack:
        for _ in range(connections):
            await stack.enter_async_context(store.connection())


# -- one round of appends --------------------------------------------------------------------


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


# -- one cell of the matrix ----------------------------------------------------------------


@dataclass
class CellResult:
    """One cell of the race matrix.

    Attributes:
        row: the matrix row (strategy, scenario, concurrency, rounds, adds, duplicates,
            failed_adds, retries, gaps, ops_per_s, elapsed_s).
        problems: every promise of the strategy the cell saw broken (empty: all kept).
        stored_rows: rows in the table after the last round (``adds - failed_adds`` when the
            store kept its basic contract).
    """

    row: dict[str, Any]
    problems: list[str]
    stored_rows: int

    @property
    def label(self) -> str:
        return f"{self.row['strategy']} {self.row['scenario']} N={self.row['concurrency']}"


async def race_cell(
    dsn: str,
    strategy: str,
    scenario: str,
    concurrency: int,
    profile: Profile = QUICK,
    **store_options: Any,
) -> CellResult:
    """Race one cell on the migrated, otherwise empty database at ``dsn``.

    ``concurrency`` writers append ``profile.adds_per_writer`` items each, ``profile.rounds``
    times; after each round every thread is judged against ``STRATEGIES[strategy]``'s
    guarantees. A racy strategy may let ``SortKeyConflictError`` reach its callers, nothing
    else. ``store_options`` go to every store (``pgbouncer=True`` behind PgBouncer).
    """
    promised = STRATEGIES[strategy].guarantees
    store_count, pool_size = pool_plan(concurrency)
    thread_ids = scenario_threads(scenario, concurrency)
    async with AsyncExitStack() as stack:
        stores: list[PostgresStore[Any]] = []
        for _ in range(store_count):
            store: PostgresStore[Any] = PostgresStore(
                dsn,
                sort_key_strategy=strategy,
                pool_size=pool_size,
                max_overflow=0,
                pool_timeout=60,
                **store_options,
            )
            stack.push_async_callback(store.close)
            stores.append(store)
        for thread_id in thread_ids:
            await stores[0].save_thread(race_thread(thread_id), ALICE)
        for store in stores:
            await warm(store, pool_size)

        expected: dict[str, set[str]] = {t: set() for t in thread_ids}
        attempts = failed = 0
        elapsed = 0.0
        problems: list[str] = []
        check = RoundCheck(threads=[], failures=[])
        for round_no in range(profile.rounds):
            result = await append_round(
                stores,
                thread_ids,
                concurrency,
                adds_per_writer=profile.adds_per_writer,
                tag=f"r{round_no}",
            )
            attempts += result.attempts
            failed += len(result.failures)
            elapsed += result.elapsed_s
            for thread_id, ids in result.added.items():
                expected[thread_id].update(ids)
            check = await check_threads(stores[0], expected, result.failures)
            problems += [f"round {round_no}: {p}" for p in check.problems(promised)]
            if not promised.race_free:
                # Only sort_key conflicts may reach a caller of a racy strategy.
                problems += [
                    f"round {round_no}: {type(e).__name__}: {e}"
                    for e in result.failures
                    if type(e).__name__ != "SortKeyConflictError"
                ]
        retries = sum(s.counters.retries for s in stores)

    if check.rows != attempts - failed:
        problems.append(
            f"{check.rows} rows stored for {attempts - failed} successful adds "
            f"({attempts} attempted, {failed} failed)"
        )
    row = {
        "strategy": strategy,
        "scenario": scenario,
        "concurrency": concurrency,
        "rounds": profile.rounds,
        "adds": attempts,
        "duplicates": check.duplicates,
        "failed_adds": failed,
        "retries": retries,
        "gaps": check.gaps,
        "ops_per_s": round(attempts / elapsed, 1) if elapsed else 0.0,
        "elapsed_s": round(elapsed, 4),
    }
    return CellResult(row=row, problems=problems, stored_rows=check.rows)
