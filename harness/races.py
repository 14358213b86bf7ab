"""The volume races: the producer of the race matrix (strategy x scenario x concurrency).

One cell puts N concurrent writers on ``add_thread_item`` for a few rounds, all on one thread
(``hot_thread``) or spread over many (``spread``). Writers are spread over several
``PostgresStore`` instances (as separate server processes would be), and every writer holds
its own pooled connection. After every round the threads are read back (the table, and
pages in both orders) and judged against the strategy's own promises
(``STRATEGIES[name].guarantees``): a cell is checked, not only timed.

The work is split by job; every name stays importable from here:

* :mod:`.races_plan` -- profiles, pools, threads; :func:`plan_races`, the checked choice of
  strategies, scenarios and writer counts.
* :mod:`.races_run` -- the writers and rounds; :func:`race_cell`, one cell on one migrated
  database: its matrix row and its problems.
* :mod:`.races_checks` -- reading the threads back and judging them.
* here: :func:`race_matrix` -- every cell on a :class:`PostgresServer`, each on a fresh
  database; :func:`produce_race_matrix` -- the same, written into a run folder
  (``races/race_matrix.json`` with its conditions, and ``strategies.json``); what
  ``chatkit-pg races`` runs.

The race tests (``tests/concurrency``) run the same cells and assert that no promise was broken.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from chatkit_pg import PostgresStore
from chatkit_pg.dsn import redact

from .catalog import write_strategy_catalog
from .provision import PostgresServer, database_name, temporary_database
from .races_checks import RoundCheck, ThreadCheck, check_threads, page_ids, thread_keys
from .races_plan import (
    ALICE,
    CONNECTION_BUDGET,
    FULL,
    PAGE_LIMIT,
    QUICK,
    STORES_PER_RACE,
    Profile,
    RacePlan,
    active_profile,
    plan_races,
    pool_plan,
    scenario_threads,
    spread_threads,
)
from .races_run import (
    CellResult,
    RoundResult,
    append_round,
    race_cell,
    race_thread,
    user_message,
    warm,
)
from .results import RunFolder
from .vocabulary import SCENARIOS

__all__ = [
    "ALICE",
    "CONNECTION_BUDGET",
    "FULL",
    "PAGE_LIMIT",
    "QUICK",
    "STORES_PER_RACE",
    "CellResult",
    "Profile",
    "RacePlan",
    "RoundCheck",
    "RoundResult",
    "ThreadCheck",
    "active_profile",
    "append_round",
    "check_threads",
    "clear_race_matrix",
    "page_ids",
    "plan_races",
    "pool_plan",
    "produce_race_matrix",
    "race_cell",
    "race_matrix",
    "race_thread",
    "scenario_threads",
    "spread_threads",
    "thread_keys",
    "user_message",
    "warm",
]


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
