"""sort_key allocation: add_thread_item per strategy, N writers at once, hot thread or spread.

Each round starts N writers together; ops/s and p50/p95/p99 come from the timed rounds, and
the correctness counters (duplicate keys found in the database afterwards, failed adds,
retries) from every round of the same benchmark, so a fast strategy that corrupts order
looks wrong in the output, not just fast.
"""

from __future__ import annotations

import asyncio
import random
import zlib
from datetime import UTC, datetime
from typing import Any

import pytest

from chatkit_pg import STRATEGIES
from chatkit_pg.harness.vocabulary import (
    ADD_THREAD_ITEM,
    SCENARIOS,
    SORT_KEY,
    SPREAD,
    STORE,
)

from .databases import BenchDatabases
from .measure import record
from .profiles import Profile
from .seed import thread_record
from .writers import WRITER_CONTEXT, WriteRun, check_keys, make_jobs, run_round, warm_pool


@pytest.fixture(scope="module")
def writes_dsn(databases: BenchDatabases) -> str:
    """A migrated, empty database for this module's appends (fresh threads per benchmark)."""
    return databases.scratch("bench_sort_keys")


async def _threads(store: Any, count: int, label: str) -> list[str]:
    now = datetime.now(UTC)
    rows = [
        thread_record(
            f"thr_{label}_{random.getrandbits(64):016x}", WRITER_CONTEXT["user_id"], now, 0
        )
        for _ in range(count)
    ]
    async with store.connection() as conn:
        await conn.copy_records_to_table(
            "chatkit_threads",
            records=rows,
            columns=("id", "user_id", "created_at", "last_sort_key", "data"),
        )
    return [row[0] for row in rows]


@pytest.mark.benchmark(group=SORT_KEY)
@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("strategy", tuple(STRATEGIES))
def test_add_thread_item(
    benchmark: Any,
    loop: asyncio.AbstractEventLoop,
    databases: BenchDatabases,
    writes_dsn: str,
    profile: Profile,
    strategy: str,
    scenario: str,
    concurrency: int,
) -> None:
    """add_thread_item with N concurrent writers: one hot thread, or spread over many."""
    benchmark.group = f"sort_key {scenario} c{concurrency}"
    store = databases.store(writes_dsn, sort_key_strategy=strategy, pool_size=concurrency)
    try:
        rng = random.Random(zlib.crc32(f"{strategy}/{scenario}/{concurrency}".encode()))
        loop.run_until_complete(warm_pool(store, concurrency))
        spread = (
            loop.run_until_complete(_threads(store, profile.spread_threads, SPREAD))
            if scenario == SPREAD
            else None
        )
        run = WriteRun()
        retries_before = store.counters.retries

        def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
            threads = spread or loop.run_until_complete(_threads(store, 1, "hot"))
            return (make_jobs(rng, threads, concurrency, profile.adds_per_round),), {}

        def one_round(jobs: Any) -> None:
            loop.run_until_complete(run_round(store, jobs, run))

        benchmark.pedantic(
            one_round,
            setup=setup,
            rounds=profile.write_rounds,
            warmup_rounds=profile.write_warmup_rounds,
        )
        duplicates, rows = loop.run_until_complete(check_keys(store, run.threads))
        info = record(
            benchmark,
            profile.name,
            kind=SORT_KEY,
            method=STORE,
            strategy=strategy,
            scenario=scenario,
            concurrency=concurrency,
            query=ADD_THREAD_ITEM,
            duplicates=duplicates,
            failed_adds=sum(run.failed),
            retries=store.counters.retries - retries_before,
            **run.measured(profile.write_rounds),
        )
    finally:
        databases.release(store)
    benchmark.extra_info["errors"] = dict(run.errors)
    # Every add the store acknowledged must be in the database, whatever the strategy.
    assert rows == sum(run.added), f"{sum(run.added)} adds acknowledged, {rows} rows stored"
    if STRATEGIES[strategy].guarantees.race_free:
        assert info["duplicates"] == 0, f"{strategy} stored duplicate sort_keys"
