"""The harness judges correctly: its barrier, its connection plan and its checks, on
synthetic data (the race tests prove it again on real races)."""

from __future__ import annotations

import asyncio

import pytest

from chatkit_pg import STRATEGIES
from chatkit_pg.harness.races import (
    CONNECTION_BUDGET,
    FULL,
    QUICK,
    RoundCheck,
    ThreadCheck,
    pool_plan,
)

from .harness import RACE_FREE, ArrivalBarrier

pytestmark = pytest.mark.race

COUNTER = STRATEGIES["counter"].guarantees


async def test_barrier_releases_when_every_writer_arrived() -> None:
    barrier = ArrivalBarrier(3, grace=30)
    await asyncio.wait_for(asyncio.gather(*(barrier("t", str(n)) for n in range(3))), 5)
    assert (barrier.opened_by, barrier.max_waiting) == ("all", 2)


async def test_barrier_opens_after_grace_for_a_lone_writer_and_stays_open() -> None:
    barrier = ArrivalBarrier(3, grace=0.05)
    await asyncio.wait_for(barrier("t", "a"), 5)  # a lock holds the others back
    await asyncio.wait_for(barrier("t", "b"), 0.01)  # open: passes at once
    assert (barrier.opened_by, barrier.max_waiting, barrier.arrived) == ("grace", 1, 2)


@pytest.mark.parametrize("writers", sorted({*QUICK.concurrency, *FULL.concurrency}))
def test_pool_plan_gives_each_writer_a_connection_within_budget(writers: int) -> None:
    stores, pool_size = pool_plan(writers)
    assert writers <= stores * pool_size <= CONNECTION_BUDGET


def _thread(keys: list[int], asc: list[str] | None = None) -> ThreadCheck:
    ids = [f"i{n}" for n in range(len(keys))]
    pages = asc if asc is not None else ids
    return ThreadCheck("t", set(ids), list(zip(keys, ids, strict=True)), pages, pages[::-1])


def test_checks_pass_a_clean_thread() -> None:
    assert _thread([1, 2, 3]).problems(COUNTER) == []


@pytest.mark.parametrize(
    ("check", "promised", "flagged"),
    [
        (_thread([1, 1, 2]), RACE_FREE, "duplicate sort_keys"),
        (_thread([1, 2, 4]), COUNTER, "not 1..3"),
        (_thread([1, 2, 3], asc=["i0", "i1"]), RACE_FREE, "miss ['i2']"),
        (_thread([1, 2, 3], asc=["i0", "i1", "i1", "i2"]), RACE_FREE, "repeat ['i1']"),
        (_thread([1, 2, 3], asc=["i1", "i0", "i2"]), RACE_FREE, "not in sort_key order"),
    ],
)
def test_checks_flag_each_broken_promise(
    check: ThreadCheck, promised: object, flagged: str
) -> None:
    found = check.problems(promised)  # type: ignore[arg-type]
    assert any(flagged in p for p in found), found


def test_checks_flag_lost_rows_and_failed_adds() -> None:
    lost = ThreadCheck("t", {"a", "b"}, [(1, "a")], ["a"], ["a"])
    assert any("rows lost ['b']" in p for p in lost.problems(RACE_FREE))
    failed = RoundCheck([_thread([1])], [RuntimeError("boom")])
    assert any("raised to their callers" in p for p in failed.problems(RACE_FREE))
    assert failed.problems(STRATEGIES["naive_max"].guarantees) == []
