"""Open-loop arrival times, without Locust: when the next conversation starts.

Closed-loop users wait for the server before they send again, so a slow server is sent
less and overload hides. In an open loop, conversations arrive on a clock of their own:
the gaps are gamma-distributed with ``shape = burstiness`` and ``scale = 1 / (rate x
burstiness)``. The mean gap is ``1 / rate`` whatever the burstiness; 1.0 is a Poisson
process (vLLM ``benchmarks/serve.py``'s ``--burstiness``), below 1 is burstier, above 1
steadier.

There are no catch-up bursts. When the generator falls behind (the concurrency cap is full,
or the load generator stalls), the next arrival is timed from now, not from the missed time.
So a stall costs arrivals, and the achieved rate shows it, instead of firing a burst the
target rate never asked for. "Behind" means late by more than :data:`LATE_LIMIT_S`: the
arrivals a gamma process puts a few milliseconds apart are its own, not a catch-up, and a
generator that takes one arrival a little late (gevent's wake-up, spawning the
conversation) still fires the next one due within that limit, at once. Distributed, each
of ``workers`` processes runs its own schedule at ``rate / workers``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Final

LATE_LIMIT_S: Final = 0.05
"""An arrival due at most this long ago still fires; one due earlier is skipped."""


def _require_rate(rate_per_s: float) -> None:
    if not rate_per_s > 0:
        raise ValueError(f"arrival rate must be > 0 conversations/s, got {rate_per_s!r}")


def split_rate(rate_per_s: float, workers: int) -> float:
    """Each Locust process's share of the target arrival rate.

    Raises:
        ValueError: a rate that is not positive, or fewer than one worker.
    """
    _require_rate(rate_per_s)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    return rate_per_s / workers


@dataclass
class ArrivalClock:
    """The arrival times of one process: ``due(now)`` says whether the next one is due.

    Args:
        rate_per_s: this process's arrival rate (see :func:`split_rate`).
        burstiness: the gamma shape; 1.0 = Poisson.
        seed: for a reproducible schedule; None draws from the OS.
    """

    rate_per_s: float
    burstiness: float = 1.0
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False)
    _next_at: float | None = field(default=None, init=False)
    skipped: int = field(default=0, init=False)
    """Arrivals given up because they were due while the generator was behind."""

    def __post_init__(self) -> None:
        _require_rate(self.rate_per_s)
        if not self.burstiness > 0:
            raise ValueError(f"burstiness must be > 0 (1.0 = Poisson), got {self.burstiness!r}")
        self._rng = random.Random(self.seed)

    def gap_s(self) -> float:
        """One gap between arrivals, in seconds."""
        scale = 1.0 / (self.rate_per_s * self.burstiness)
        return self._rng.gammavariate(self.burstiness, scale)

    def start(self, now: float) -> float:
        """Begin the schedule at ``now``; returns when the first arrival is due."""
        self._next_at = now + self.gap_s()
        return self._next_at

    def next_after(self, now: float) -> float:
        """The arrival due at or before ``now`` was taken: when the next one is due.

        If arrivals after the one taken were due more than :data:`LATE_LIMIT_S` before
        ``now``, the generator is behind. It skips them, counting them in :attr:`skipped`,
        and the next arrival is the first one due since then. None is fired late in a burst.
        """
        if self._next_at is None:
            return self.start(now)
        following = self._next_at + self.gap_s()
        while following < now - LATE_LIMIT_S:
            self.skipped += 1
            following += self.gap_s()
        self._next_at = following
        return following
