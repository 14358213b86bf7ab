"""Chaos during a load test: restart the database mid-run, then judge when requests failed.

``chatkit-pg loadtest --chaos-restart-at 20s`` restarts the embedded PostgreSQL that many
seconds after Locust starts; :class:`RestartTimer` records when the restart began and ended.
Afterwards :func:`judge` reads Locust's stats history (one cumulative row per second) and
splits the failures into those inside the restart window -- :func:`restart_window`, from the
recorded times: ``restart start - 1 s`` to ``restart end + grace`` -- and those outside it,
counts the requests that completed after the window (the server kept serving), and counts
HTTP 500s (a database that is down is a 503, never a 500).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from chatkit_pg.harness.provision import PostgresServer, ProvisioningError
from chatkit_pg.harness.vocabulary import DSN_ENV, PROVIDER_ENV

from .locust_csv import internal_errors, total_history

# Locust writes the history once per second: a failure is known to the second only.
RESOLUTION_S: Final = 1.0
_SPAN = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_seconds(text: str) -> float:
    """``"20s"``, ``"1m30s"``, ``"90"`` -> seconds.

    Raises:
        ValueError: not a duration; the message quotes it.
    """
    match = _SPAN.match(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"not a duration: {text!r} (use e.g. 20s, 1m30s or 90)")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def require_restartable(server: PostgresServer) -> None:
    """Fail clearly unless ``server`` is an embedded PostgreSQL this process can restart."""
    if server.provider != "embedded" or server.data_dir is None:
        raise ProvisioningError(
            f"--chaos-restart-at restarts the database, which only works on the embedded "
            f"PostgreSQL; this run uses provider {server.provider!r}. Drop --dsn (and "
            f"{DSN_ENV} / {PROVIDER_ENV}) to use the embedded one."
        )


@dataclass
class Restart:
    """When the restart ran (epoch seconds) and how it went."""

    scheduled_after_s: float
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return round(self.finished_at - self.started_at, 3)


class RestartTimer:
    """Restart ``server`` once, ``after_s`` seconds after :meth:`start` (on a thread)."""

    def __init__(self, server: PostgresServer, after_s: float) -> None:
        require_restartable(server)
        self.server = server
        self.restart = Restart(scheduled_after_s=after_s)
        self._timer = threading.Timer(after_s, self._run)
        self._timer.daemon = True

    def _run(self) -> None:
        self.restart.started_at = time.time()
        try:
            self.server.restart()
        except Exception as exc:  # recorded in run.json; the run then fails its check
            self.restart.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.restart.finished_at = time.time()

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        """Cancel a restart not yet begun, or wait for one in progress."""
        self._timer.cancel()
        if self._timer.is_alive():
            self._timer.join(120)


def restart_window(restart: Restart, grace_s: float) -> tuple[float, float]:
    """When failures are expected (epoch s): from one history row before the recorded start
    of the restart to ``grace_s`` after its recorded end.

    Raises:
        ValueError: the restart never started or never finished.
    """
    if restart.started_at is None or restart.finished_at is None:
        raise ValueError("the restart never ran")
    return restart.started_at - RESOLUTION_S, restart.finished_at + grace_s


def judge(
    restart: Restart,
    history_csv: Path,
    failures_csv: Path,
    total_requests: int,
    total_failures: int,
    ended_at: float,
    grace_s: float,
) -> dict[str, Any]:
    """Split the run's failures by the restart window.

    Args:
        restart: what :class:`RestartTimer` recorded.
        history_csv: Locust's ``*_stats_history.csv`` (``--csv-full-history``).
        failures_csv: Locust's ``*_failures.csv`` (to count 500s among the failures).
        total_requests: final request count (``locust_stats.csv``), to place the requests
            made after the last history row.
        total_failures: final failure count, likewise.
        ended_at: when Locust exited (epoch s): the time given to those late rows.
        grace_s: seconds after the restart ended during which failures are expected.

    Returns:
        The ``chaos`` section of ``run.json``: restart times, the window, failures inside
        and outside it, requests and failures after it, and ``passed``.
    """
    result: dict[str, Any] = {**asdict(restart), "restart_duration_s": restart.duration_s}
    if restart.started_at is None or restart.finished_at is None or restart.error:
        return {**result, "passed": False, "detail": restart.error or "the restart never ran"}
    low, high = restart_window(restart, grace_s)
    intervals: list[tuple[float, float, int, int]] = []  # (from, to, requests, failures)
    previous = (0.0, 0, 0)
    for ts, requests, failures in total_history(history_csv):
        intervals.append((previous[0], ts, requests - previous[1], failures - previous[2]))
        previous = (ts, requests, failures)
    intervals.append(
        (previous[0], ended_at, total_requests - previous[1], total_failures - previous[2])
    )
    inside = outside = after_requests = after_failures = 0
    for start, end, requests, failures in intervals:
        if start >= high:
            after_requests += requests
            after_failures += failures
        if end >= low and start < high:  # the interval overlaps the window
            inside += failures
        else:
            outside += failures
    errors_500 = internal_errors(failures_csv)
    passed = outside == 0 and after_requests > 0 and after_failures == 0 and errors_500 == 0
    return {
        **result,
        "window": [round(low, 3), round(high, 3)],
        "grace_s": grace_s,
        "failures_inside_window": inside,
        "failures_outside_window": outside,
        "requests_after_window": after_requests,
        "failures_after_window": after_failures,
        "internal_errors": errors_500,
        "passed": passed,
        "detail": (
            f"{inside} failures inside the restart window, {outside} outside "
            f"({errors_500} were HTTP 500); {after_requests} requests after it "
            f"({after_failures} failed)"
        ),
    }
