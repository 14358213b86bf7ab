"""The volume races: the producer of the race matrix (strategy x scenario x concurrency).

One cell puts N concurrent writers on ``add_thread_item`` for a few rounds, all on one thread
(``hot_thread``) or spread over many (``spread``). Writers are spread over several
``PostgresStore`` instances (as separate server processes would be), and every writer holds
its own pooled connection. After every round the threads are read back (the table, and
pages in both orders) and judged against the strategy's own promises
(``STRATEGIES[name].guarantees``): a cell is checked, not only timed.

* :func:`race_cell` -- one cell on one migrated database: its matrix row and its problems.
* :func:`plan_races` -- the checked choice of strategies, scenarios and writer counts.
* :func:`race_matrix` -- every cell on a :class:`PostgresServer`, each on a fresh database.
* :func:`produce_race_matrix` -- the same, written into a run folder (``races/race_matrix.json``
  with its conditions, and ``strategies.json``); what ``chatkit-pg races`` runs.

The race tests (``tests/concurrency``) run the same cells and assert that no promise was broken.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import asyncpg
from chatkit.types import (
    InferenceOptions,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
)

from chatkit_pg import STRATEGIES, PostgresStore
from chatkit_pg.dsn import redact
from chatkit_pg.strategies import Guarantees

from .catalog import write_strategy_catalog
from .provision import PostgresServer, database_name, temporary_database
from .results import RunFolder
from .vocabulary import HOT_THREAD, RACE_FULL_ENV, SCENARIOS, SPREAD

ALICE: Final = {"user_id": "alice"}
PAGE_LIMIT: Final = 7  # small and prime, so pages never line up with round sizes
# Server connections the races may hold at once (the embedded server allows 100, three of
# them reserved for superusers, and the callers need a few of their own).
CONNECTION_BUDGET: Final = 80
STORES_PER_RACE: Final = 4  # separate store instances, as separate server processes would be


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
    return FULL if os.environ.get(RACE_FULL_ENV, "0") not in ("", "0") else QUICK


def pool_plan(writers: int, stores: int = STORES_PER_RACE) -> tuple[int, int]:
    """``(store_count, pool_size)`` giving every writer its own connection within budget."""
    if not 1 <= writers <= CONNECTION_BUDGET:
        raise ValueError(f"writers must be 1..{CONNECTION_BUDGET}, got {writers}")
    count = min(stores, writers)
    return count, math.ceil(writers / count)


def spread_threads(writers: int) -> int:
    """Threads a ``spread`` round covers: about four writers per thread."""
    return max(2, writers // 4)


def scenario_threads(scenario: str, writers: int) -> list[str]:
    """The thread ids a round of ``scenario`` appends to."""
    if scenario == HOT_THREAD:
        return ["hot"]
    if scenario == SPREAD:
        return [f"spread_{n:03d}" for n in range(spread_threads(writers))]
    raise ValueError(f"unknown race scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")


# -- what the writers write ----------------------------------------------------------------


def race_thread(thread_id: str) -> ThreadMetadata:
    """A thread for the writers to append to."""
    return ThreadMetadata(id=thread_id, created_at=datetime.now(UTC))


def user_message(item_id: str, thread_id: str, text: str = "hello") -> UserMessageItem:
    """The smallest realistic item: a user's text message."""
    return UserMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=datetime.now(UTC),
        content=[UserMessageTextContent(text=text)],
        inference_options=InferenceOptions(),
    )


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


# -- reading back and judging --------------------------------------------------------------


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


# -- the matrix ------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class RacePlan:
    """The cells of one race matrix, every name and writer count checked (see
    :func:`plan_races`)."""

    profile: Profile
    strategies: tuple[str, ...]
    scenarios: tuple[str, ...]

    @property
    def cells(self) -> list[tuple[str, str, int]]:
        """``(strategy, scenario, concurrency)`` in matrix order."""
        return [
            (s, sc, n)
            for s in self.strategies
            for sc in self.scenarios
            for n in self.profile.concurrency
        ]

    def facts(self) -> dict[str, Any]:
        """What the run's conditions say about this plan."""
        return {
            "profile": self.profile.name,
            "concurrency": list(self.profile.concurrency),
            "rounds": self.profile.rounds,
            "adds_per_writer": self.profile.adds_per_writer,
            "strategies": list(self.strategies),
            "scenarios": list(self.scenarios),
        }


def plan_races(
    profile: Profile = QUICK,
    strategies: Sequence[str] | None = None,
    scenarios: Sequence[str] | None = None,
) -> RacePlan:
    """The race matrix to run: ``strategies`` and ``scenarios`` default to every one.

    Cheap and offline, so a caller can check a user's choice before any server starts.

    Raises:
        ValueError: an unknown strategy or scenario (all of them named, with the known
            ones), or a writer count beyond :data:`CONNECTION_BUDGET`.
    """
    chosen_strategies = _known("strategies", strategies, tuple(STRATEGIES))
    chosen_scenarios = _known("scenarios", scenarios, SCENARIOS)
    bad = [n for n in profile.concurrency if not 1 <= n <= CONNECTION_BUDGET]
    if bad:
        shown = ", ".join(map(str, bad))
        raise ValueError(f"concurrency must be 1..{CONNECTION_BUDGET}, got {shown}")
    return RacePlan(profile, chosen_strategies, chosen_scenarios)


def _known(what: str, given: Sequence[str] | None, known: tuple[str, ...]) -> tuple[str, ...]:
    """``given`` (default: every known name), refused whole if any name is unknown."""
    chosen = tuple(given) if given else known
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(unknown)}; choose from {', '.join(known)}")
    return chosen


async def race_matrix(
    server: PostgresServer,
    profile: Profile = QUICK,
    *,
    strategies: Sequence[str] | None = None,
    scenarios: Sequence[str] = SCENARIOS,
    progress: Callable[[str], None] | None = None,
) -> list[CellResult]:
    """Every cell (strategy x scenario x ``profile.concurrency``) on ``server``, in that order.

    The choice is checked (:func:`plan_races`) before any database is made. Each cell gets
    a fresh database copied from one migrated template; every database made here is dropped
    afterwards. ``progress`` (e.g. ``print``) receives one line per cell.
    """
    cells = plan_races(profile, strategies, scenarios).cells
    results: list[CellResult] = []
    async with temporary_database(server, "chatkit_race_template") as template_dsn:
        async with PostgresStore(template_dsn, pool_size=1, max_overflow=0) as migrator:
            await migrator.create_schema()
        template = database_name(template_dsn)
        for number, (strategy, scenario, concurrency) in enumerate(cells, 1):
            async with temporary_database(server, "chatkit_race", template=template) as dsn:
                cell = await race_cell(dsn, strategy, scenario, concurrency, profile)
            results.append(cell)
            if progress is not None:
                progress(f"[{number}/{len(cells)}] {_progress_line(cell)}")
    return results


def clear_race_matrix(folder: RunFolder) -> Path:
    """Remove a race matrix a previous run left in ``folder`` and return its path: a failed
    run must never leave a matrix it did not write."""
    matrix = folder.path / RunFolder.RACE_MATRIX_FILE
    matrix.unlink(missing_ok=True)
    return matrix


async def produce_race_matrix(
    server: PostgresServer,
    folder: RunFolder,
    plan: RacePlan,
    *,
    progress: Callable[[str], None] | None = None,
) -> list[CellResult]:
    """Race ``plan`` on ``server`` and write the results into ``folder``.

    Writes the ``races`` section of ``conditions.json``, ``strategies.json`` and
    ``races/race_matrix.json`` (every row, and the broken promises by cell).
    """
    clear_race_matrix(folder)
    facts = {**plan.facts(), "database": redact(server.dsn)}
    conditions = folder.record_conditions("races", facts, postgres=await server.server_info())
    write_strategy_catalog(folder, conditions)
    cells = await race_matrix(
        server,
        plan.profile,
        strategies=plan.strategies,
        scenarios=plan.scenarios,
        progress=progress,
    )
    problems = {cell.label: cell.problems for cell in cells if cell.problems}
    folder.write_json(
        RunFolder.RACE_MATRIX_FILE,
        {"rows": [cell.row for cell in cells], "problems": problems},
        conditions,
    )
    return cells


def _progress_line(cell: CellResult) -> str:
    row = cell.row
    verdict = "ok" if not cell.problems else f"BROKE ITS PROMISES ({len(cell.problems)})"
    return (
        f"{cell.label}: {row['adds']} adds, {row['failed_adds']} failed, "
        f"{row['duplicates']} duplicates, {row['retries']} retries, {row['gaps']} gaps, "
        f"{row['ops_per_s']} ops/s - {verdict}"
    )
