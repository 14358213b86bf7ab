"""Volume races: N concurrent ``add_thread_item`` per round, on one thread or spread over many.

Each test is one cell of the race matrix (strategy x scenario x concurrency). Writers are
spread over several ``PostgresStore`` instances (as separate server processes would be), and
every writer holds its own pooled connection. After every round the threads are read back
and judged against the strategy's own promises.
"""

from __future__ import annotations

from typing import Any

import pytest

from chatkit_pg import STRATEGIES

from ..conftest import StoreFactory
from ..items import thread
from .harness import (
    ALICE,
    SCENARIOS,
    active_profile,
    append_round,
    check_threads,
    pool_plan,
    spread_threads,
    warm,
)

pytestmark = pytest.mark.race

PROFILE = active_profile()


@pytest.mark.parametrize("concurrency", PROFILE.concurrency)
@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("strategy", tuple(STRATEGIES))
async def test_volume_race(
    make_store: StoreFactory,
    race_matrix: list[dict[str, Any]],
    strategy: str,
    scenario: str,
    concurrency: int,
) -> None:
    promised = STRATEGIES[strategy].guarantees
    store_count, pool_size = pool_plan(concurrency)
    stores = [
        await make_store(
            sort_key_strategy=strategy, pool_size=pool_size, max_overflow=0, pool_timeout=60
        )
        for _ in range(store_count)
    ]
    thread_ids = (
        ["hot"]
        if scenario == "hot_thread"
        else [f"spread_{n:03d}" for n in range(spread_threads(concurrency))]
    )
    for thread_id in thread_ids:
        await stores[0].save_thread(thread(thread_id), ALICE)
    for store in stores:
        await warm(store, pool_size)

    expected: dict[str, set[str]] = {t: set() for t in thread_ids}
    attempts = failed = 0
    elapsed = 0.0
    problems: list[str] = []
    check = None
    for round_no in range(PROFILE.rounds):
        result = await append_round(
            stores,
            thread_ids,
            concurrency,
            adds_per_writer=PROFILE.adds_per_writer,
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

    assert check is not None
    race_matrix.append(
        {
            "strategy": strategy,
            "scenario": scenario,
            "concurrency": concurrency,
            "rounds": PROFILE.rounds,
            "adds": attempts,
            "duplicates": check.duplicates,
            "failed_adds": failed,
            "retries": sum(s.counters.retries for s in stores),
            "gaps": check.gaps,
            "ops_per_s": round(attempts / elapsed, 1) if elapsed else 0.0,
            "elapsed_s": round(elapsed, 4),
        }
    )
    assert problems == []
    assert check.rows == attempts - failed
