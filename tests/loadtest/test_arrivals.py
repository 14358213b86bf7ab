"""The open-loop arrival clock: its mean rate, its burstiness, and no catch-up bursts."""

from __future__ import annotations

import itertools
import statistics

import pytest

from chatkit_pg.loadtest.scenarios.arrivals import ArrivalClock, split_rate


@pytest.mark.parametrize("burstiness", [0.5, 1.0, 4.0])
def test_the_mean_gap_is_one_over_the_rate_and_burstiness_sets_the_spread(
    burstiness: float,
) -> None:
    clock = ArrivalClock(rate_per_s=20.0, burstiness=burstiness, seed=7)
    gaps = [clock.gap_s() for _ in range(20_000)]
    assert statistics.fmean(gaps) == pytest.approx(1 / 20, rel=0.05)
    # A gamma of shape k has coefficient of variation 1/sqrt(k): 1.0 is Poisson's.
    cv = statistics.pstdev(gaps) / statistics.fmean(gaps)
    assert cv == pytest.approx(burstiness**-0.5, rel=0.05)


def test_a_generator_that_falls_behind_does_not_burst_to_catch_up() -> None:
    clock = ArrivalClock(rate_per_s=10.0, seed=1)
    due = clock.start(now=0.0)
    stalled_until = due + 5.0  # about 50 arrivals missed
    following = clock.next_after(now=stalled_until)
    assert following >= stalled_until
    skipped_in_the_stall = clock.skipped
    assert 30 < skipped_in_the_stall < 80
    # The schedule goes on at its rate from there: no run of arrivals due at once.
    times = [following]
    for _ in range(200):
        times.append(clock.next_after(now=times[-1]))
    assert all(later > earlier for earlier, later in itertools.pairwise(times))
    assert (times[-1] - times[0]) / 200 == pytest.approx(0.1, rel=0.2)
    assert clock.skipped == skipped_in_the_stall


def test_on_time_the_schedule_skips_nothing() -> None:
    clock = ArrivalClock(rate_per_s=50.0, burstiness=2.0, seed=3)
    now = clock.start(now=100.0)
    for _ in range(500):
        now = clock.next_after(now=now)
    assert clock.skipped == 0


def test_arrivals_taken_a_little_late_are_not_skipped() -> None:
    """A bursty schedule puts arrivals milliseconds apart; a generator that wakes 5 ms late
    (gevent) and spends 0.5 ms on each arrival fires them all, none skipped."""
    clock = ArrivalClock(rate_per_s=50.0, burstiness=0.3, seed=5)
    due = clock.start(now=0.0)
    late = []
    for _ in range(2000):
        taken = max(due + 0.005, (late[-1] if late else 0.0) + 0.0005)
        late.append(taken)
        due = clock.next_after(now=taken)
    assert clock.skipped == 0
    assert 2000 / late[-1] == pytest.approx(50.0, rel=0.15)


def test_the_rate_is_split_across_workers_and_bad_values_are_named() -> None:
    assert split_rate(9.0, 3) == 3.0
    with pytest.raises(ValueError, match="arrival rate must be > 0"):
        split_rate(0.0, 2)
    with pytest.raises(ValueError, match="workers must be >= 1"):
        split_rate(5.0, 0)
    with pytest.raises(ValueError, match="burstiness must be > 0"):
        ArrivalClock(rate_per_s=1.0, burstiness=0.0)
