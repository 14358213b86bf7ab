"""Step load: add ``--step-users`` every ``--step-duration`` s from ``--step-start`` to
``--step-max``, hold the last step once, then stop. Use it to find the knee:

    cd loadtest/scenarios && locust -f locustfile.py,shapes.py --config locust.conf \
        --headless --step-start 10 --step-users 10 --step-duration 30 --step-max 100

Without this file Locust runs the plain constant mode (``-u``/``-r``/``-t``). The step
options are defined in :mod:`.settings` (env ``CHATKIT_LT_STEP_*``, locust.conf).
"""

# isort: skip_file
# Locust first: its import monkey-patches the standard library for gevent.
from locust import LoadTestShape

import math


class StepLoadShape(LoadTestShape):
    """Users = start + step * floor(t / duration), capped at max; ends after the max step."""

    def tick(self) -> tuple[int, float] | None:
        options = self.runner.environment.parsed_options  # type: ignore[union-attr]
        start, step = options.step_start, options.step_users
        duration, top = options.step_duration, options.step_max
        steps = max(0, math.ceil((top - start) / step))
        elapsed = self.get_run_time()
        if elapsed >= (steps + 1) * duration:
            return None
        users = min(top, start + step * int(elapsed // duration))
        return users, options.step_rate
