"""The warm-up window: requests that start in it are recorded apart and never counted.

A process's window opens when its load starts (Locust's ``test_start``) and lasts
``--warmup`` seconds. :class:`PhaseGate` stands in for Locust's request event on every
user's HTTP session and ChatKit client: a request that *started* inside the window is not
passed on, so it is in no statistic, CSV, history row or exit check; its record (the
request records' ``phase``) says ``warmup``. A request is judged by its start, so a slow
one that began in the window and ended after it is warm-up too, in the records and in the
statistics alike.
"""

from __future__ import annotations

import time
from typing import Any, Final, Literal

Phase = Literal["warmup", "measure"]
WARMUP: Final = "warmup"
MEASURE: Final = "measure"


class PhaseGate:
    """Locust's request event, closed to requests that start in the warm-up window.

    Args:
        hook: the event the requests go to once measured (``environment.events.request``).
        warmup_s: the window's length; 0 opens nothing (every request is measured).
    """

    def __init__(self, hook: Any, warmup_s: float) -> None:
        self.hook = hook
        self.warmup_s = warmup_s
        self.warmup_until: float | None = None
        self.held_back = 0  # requests kept out of the statistics

    def begin(self, now: float | None = None) -> None:
        """The load started: the window runs from ``now`` (once; later calls keep it)."""
        if self.warmup_until is None:
            self.warmup_until = (time.time() if now is None else now) + self.warmup_s

    def phase_at(self, started_at: float) -> Phase:
        """The phase of a request that started at ``started_at`` (epoch seconds)."""
        if self.warmup_until is not None and started_at < self.warmup_until:
            return WARMUP
        return MEASURE

    def fire(self, **request: Any) -> None:
        """Pass the request on unless it started in the window (Locust's own fields)."""
        if self.phase_at(request.get("start_time") or time.time()) == WARMUP:
            self.held_back += 1
            return
        self.hook.fire(**request)
