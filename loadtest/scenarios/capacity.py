"""Capacity: a stepped ramp that stops at the first step breaking the SLO.

Users = ``--step-start`` + ``--step-users`` x step, each step held ``--step-duration`` s, up
to ``--step-max``. At every step boundary the shape closes the step it just ran, from
Locust's own cumulative statistics (the difference of two snapshots, so the step's numbers
are its own and exact): its ChatKit requests per second (HTTP entries; the ``SSE`` timing
entries are not requests), failures, and the p50/p95/p99 of ``--capacity-request`` (default
``stream threads.add_user_message``: the whole reply, what a user waits for). A step breaks
the SLO when that p95 exceeds ``--capacity-slo-p95-ms``, when more than
``--capacity-max-fail-ratio`` of its requests failed (default 0: any failure), or when the
request completed not once. The ramp stops there (or after the top step), and the verdict
is the last step within the SLO (the sustained capacity: users, requests/s), the step that
broke it and why.

``--capacity-out PATH`` gets the steps and the verdict as JSON after every step (``complete``
turns true when the ramp ended by itself). Add this file to the locustfile:

    locust -f locustfile.py,capacity.py --config locust.conf --headless --host URL \\
        --step-start 10 --step-users 10 --step-duration 30 --step-max 200 \\
        --capacity-slo-p95-ms 1000

``chatkit-pg loadtest --find-capacity`` does that and writes ``loadtest/capacity.json``.
Distributed, the master's statistics are the workers' reports (every few seconds), so step
boundaries blur by that much.
"""

# isort: skip_file
# Locust first: its import monkey-patches the standard library for gevent.
from locust import LoadTestShape

import json
import logging
import os
from dataclasses import asdict
from typing import Any

from chatkit_pg.loadtest.scenarios.capacity_steps import (
    Ramp,
    Snapshot,
    close_step,
    snapshot,
    verdict,
)

logger = logging.getLogger("loadtest")


class CapacityShape(LoadTestShape):
    """The stepped ramp; ``tick`` closes a step at each boundary and stops on a break."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[dict[str, Any]] = []
        self._mark: Snapshot | None = None
        self._index = -1
        self._users = 0
        self.result: dict[str, Any] | None = None

    def reset_time(self) -> None:
        super().reset_time()
        self.steps, self._mark, self._index, self.result = [], None, -1, None

    def tick(self) -> tuple[int, float] | None:
        options = self.runner.environment.parsed_options  # type: ignore[union-attr]
        ramp = Ramp.of(options)
        elapsed = self.get_run_time()
        index = ramp.index_at(elapsed)
        if index != self._index:
            if self._mark is not None:
                now = snapshot(self.runner.stats, options.capacity_request, elapsed)  # type: ignore[union-attr]
                step = close_step(
                    self._index,
                    self._users,
                    self._mark,
                    now,
                    options.capacity_slo_p95_ms,
                    options.capacity_max_fail_ratio,
                    options.capacity_request,
                )
                self.steps.append(step)
                self._log(step)
                done = not step["within_slo"] or step["users"] >= options.step_max
                self._write(options, complete=done)
                if done:
                    logger.info("capacity: %s", self.result["why"] if self.result else "")
                    return None
                self._mark = now
            else:
                self._mark = snapshot(self.runner.stats, options.capacity_request, elapsed)  # type: ignore[union-attr]
            self._index = index
            self._users = ramp.users_at(index)
        return self._users, ramp.spawn_rate

    def _log(self, step: dict[str, Any]) -> None:
        p95 = "-" if step["p95_ms"] is None else f"{step['p95_ms']:.0f} ms"
        logger.info(
            "capacity: step %d, %d users: %.1f req/s, p95 %s, %d failures -> %s",
            step["step"],
            step["users"],
            step["rps"],
            p95,
            step["failures"],
            "within SLO" if step["within_slo"] else f"BROKEN ({step['reason']})",
        )

    def _write(self, options: Any, complete: bool) -> None:
        self.result = verdict(
            self.steps,
            options.capacity_request,
            options.capacity_slo_p95_ms,
            options.capacity_max_fail_ratio,
            options.step_max,
            complete,
        )
        self.result["ramp"] = asdict(Ramp.of(options))
        if options.capacity_out:
            path = options.capacity_out
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(f"{path}.tmp", "w", encoding="utf-8") as handle:
                json.dump(self.result, handle, indent=2)
            os.replace(f"{path}.tmp", path)
