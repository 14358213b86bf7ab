"""Step load: add ``--step-users`` every ``--step-duration`` s from ``--step-start`` to
``--step-max``, hold the last step once, then stop. Use it to find the knee:

    cd loadtest/scenarios && locust -f locustfile.py,shapes.py --config locust.conf \
        --headless --step-start 10 --step-users 10 --step-duration 30 --step-max 200

Without this file Locust runs the plain constant mode (``-u``/``-r``/``-t``). The step
options are defined in :mod:`.settings` (env ``CHATKIT_LT_STEP_*``, locust.conf).
"""

# isort: skip_file
# Locust first: its import monkey-patches the standard library for gevent.
from locust import LoadTestShape

from chatkit_pg.loadtest.scenarios.capacity_steps import Ramp


class StepLoadShape(LoadTestShape):
    """Users = start + step * floor(t / duration), capped at max; ends after the max step."""

    def tick(self) -> tuple[int, float] | None:
        ramp = Ramp.of(self.runner.environment.parsed_options)  # type: ignore[union-attr]
        elapsed = self.get_run_time()
        if elapsed >= ramp.longest_s:
            return None
        return ramp.users_at(ramp.index_at(elapsed)), ramp.spawn_rate
