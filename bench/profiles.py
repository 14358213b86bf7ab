"""Sizes of one bench run, per profile: ``smoke`` (CI), ``quick`` (default), ``full``.

One frozen record per profile, chosen by ``--profile`` or ``CHATKIT_PG_BENCH_PROFILE``. Every
benchmark reads its scale from here, so a profile is the whole answer to "how big was it".
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from typing import Any, Final

from chatkit_pg.harness.vocabulary import BENCH_PROFILE_ENV

DEFAULT_PROFILE: Final = "quick"


@dataclass(frozen=True)
class Profile:
    """How much data and how many rounds one bench run uses.

    Attributes:
        name: ``smoke``, ``quick`` or ``full``.
        deep_thread_items: items in the one long thread that the page benchmarks walk.
        page_depths: items skipped before a measured page (0 = the first page).
        page_sizes: items per measured page.
        heavy_user_threads: threads of the user whose thread list is paged.
        shared_created_at_fraction: share of those threads with one identical created_at.
        thread_page_depths: threads skipped before a measured thread page.
        background_threads: threads of other users (bulk, so indexes have a realistic size).
        background_items_per_thread: items in each background thread.
        concurrency: concurrent writers of the sort_key benchmarks (and pgbench clients).
        spread_threads: threads the ``spread`` scenario's writers append to at random.
        adds_per_round: adds in one timed round of a write benchmark (split over writers).
        write_rounds / write_warmup_rounds: timed and untimed rounds of write benchmarks.
        read_rounds / read_warmup_rounds: timed and untimed calls of read benchmarks.
        single_rounds: timed calls of the one-client insert baselines.
        pgbench_seconds: duration of each pgbench run (an integer: pgbench's ``-T``).
        compare_rounds: interleaved rounds of a comparison (one sample per variant each).
        compare_calls: calls per variant in one round (their median is the round's sample).
    """

    name: str
    deep_thread_items: int
    page_depths: tuple[int, ...]
    page_sizes: tuple[int, ...]
    heavy_user_threads: int
    shared_created_at_fraction: float
    thread_page_depths: tuple[int, ...]
    background_threads: int
    background_items_per_thread: int
    concurrency: tuple[int, ...]
    spread_threads: int
    adds_per_round: int
    write_rounds: int
    write_warmup_rounds: int
    read_rounds: int
    read_warmup_rounds: int
    single_rounds: int
    pgbench_seconds: int
    compare_rounds: int
    compare_calls: int

    def __post_init__(self) -> None:
        # Pages start where the deep thread's widget cycle (seed.py) restarts, in both orders.
        aligned = (self.deep_thread_items, *self.page_depths)
        if any(value % 40 for value in aligned):
            raise ValueError(f"{self.name}: deep thread size and depths must be multiples of 40")
        if self.deepest + 2 * max(self.page_sizes) >= self.deep_thread_items:
            raise ValueError(f"{self.name}: the deep thread is too short for its deepest page")

    @property
    def deepest(self) -> int:
        return max(self.page_depths)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


SMOKE: Final = Profile(
    name="smoke",
    deep_thread_items=1_200,
    page_depths=(0, 120, 1_000),
    page_sizes=(20, 50),
    heavy_user_threads=300,
    shared_created_at_fraction=0.3,
    thread_page_depths=(0, 200),
    background_threads=50,
    background_items_per_thread=2,
    concurrency=(1, 8, 32),
    spread_threads=50,
    adds_per_round=32,
    write_rounds=1,
    write_warmup_rounds=0,
    read_rounds=1,
    read_warmup_rounds=0,
    single_rounds=1,
    pgbench_seconds=1,
    compare_rounds=3,
    compare_calls=2,
)

QUICK: Final = Profile(
    name="quick",
    deep_thread_items=10_200,
    page_depths=(0, 1_000, 10_000),
    page_sizes=(20, 50),
    heavy_user_threads=3_000,
    shared_created_at_fraction=0.3,
    thread_page_depths=(0, 2_500),
    background_threads=2_000,
    background_items_per_thread=3,
    concurrency=(1, 8, 32),
    spread_threads=500,
    adds_per_round=256,
    write_rounds=3,
    write_warmup_rounds=1,
    read_rounds=40,
    read_warmup_rounds=5,
    single_rounds=300,
    pgbench_seconds=5,
    compare_rounds=30,
    compare_calls=10,
)

FULL: Final = Profile(
    name="full",
    deep_thread_items=200_200,
    page_depths=(0, 1_000, 10_000, 100_000),
    page_sizes=(20, 50),
    heavy_user_threads=5_000,
    shared_created_at_fraction=0.3,
    thread_page_depths=(0, 1_000, 4_900),
    background_threads=100_000,
    background_items_per_thread=2,
    concurrency=(1, 8, 32),
    spread_threads=5_000,
    adds_per_round=1_024,
    write_rounds=5,
    write_warmup_rounds=1,
    read_rounds=200,
    read_warmup_rounds=20,
    single_rounds=2_000,
    pgbench_seconds=15,
    compare_rounds=60,
    compare_calls=20,
)

# Production shape, larger than memory is generous with: 10^7 items over 10^5 threads plus
# a hot thread of 10^6 items (about 20 GB of documents before TOAST compression). The server
# keeps its default shared_buffers (128 MB on the embedded PostgreSQL), recorded in the
# conditions, so reads go past shared buffers. Not part of CI; see the README for time/disk.
LARGE: Final = replace(
    FULL,
    name="large",
    deep_thread_items=1_000_040,
    page_depths=(0, 1_000, 100_000, 999_000),
    background_items_per_thread=90,
)

PROFILES: Final[dict[str, Profile]] = {p.name: p for p in (SMOKE, QUICK, FULL, LARGE)}


def get_profile(name: str | None = None) -> Profile:
    """The profile named ``name``, else ``$CHATKIT_PG_BENCH_PROFILE``, else ``quick``.

    Raises:
        ValueError: the name is not a known profile.
    """
    chosen = name or os.environ.get(BENCH_PROFILE_ENV) or DEFAULT_PROFILE
    try:
        return PROFILES[chosen]
    except KeyError:
        raise ValueError(
            f"unknown bench profile {chosen!r}; choose one of {', '.join(PROFILES)}"
        ) from None
