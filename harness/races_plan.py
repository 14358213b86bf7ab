"""The volume races' plan: who writes, how hard, where, and the checked choice of cells.

* :class:`Profile` (``QUICK``, ``FULL``) -- writers per round, rounds, adds per writer.
* :func:`pool_plan`, :func:`scenario_threads` -- stores, pools and threads of one cell.
* :func:`plan_races` -- the checked choice of strategies, scenarios and writer counts, as a
  :class:`RacePlan`; cheap and offline, so a caller checks a user's choice before any
  server starts.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from chatkit_pg import STRATEGIES

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
