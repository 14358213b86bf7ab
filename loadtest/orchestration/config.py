"""What ``chatkit-pg loadtest`` runs: the load, the scenario settings, the capacity ramp.

The scenario's settings are :class:`ScenarioSettings` (declared once in
``scenarios/settings.py``); this module only adds what the orchestration itself decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Final

from chatkit_pg.loadtest.scenarios.capacity_steps import Ramp
from chatkit_pg.loadtest.scenarios.settings import (
    ScenarioSettings,
    from_values,
    in_cli_terms,
)
from chatkit_pg.loadtest.server.settings import ServerSettings

_DEFAULTS: Final = ScenarioSettings()
# CapacityOptions' names (those of capacity.json) -> the scenario settings'.
_AS_SCENARIO: Final = {
    "start_users": "step_start",
    "step_users": "step_users",
    "step_duration": "step_duration",
    "max_users": "step_max",
    "request": "capacity_request",
    "slo_p95_ms": "capacity_slo_p95_ms",
    "max_fail_ratio": "capacity_max_fail_ratio",
    "spawn_rate": "step_rate",
}


def local_scenario(**given: Any) -> ScenarioSettings:
    """The scenario of a local run: the declared local defaults (a long seed through the
    store), then ``given`` (field names, text or typed)."""
    return from_values(local=True, **given)


@dataclass
class CapacityOptions:
    """The stepped ramp of ``--find-capacity`` (``scenarios/capacity.py``): users from
    ``start_users`` by ``step_users`` every ``step_duration`` s up to ``max_users``, until
    ``request``'s p95 exceeds ``slo_p95_ms`` or more than ``max_fail_ratio`` of a step's
    requests fail. The defaults and checks are the scenario settings' (``step_*``,
    ``capacity_*``); these are their names in ``capacity.json``."""

    start_users: int = _DEFAULTS.step_start
    step_users: int = _DEFAULTS.step_users
    step_duration: float = _DEFAULTS.step_duration
    max_users: int = _DEFAULTS.step_max
    request: str = _DEFAULTS.capacity_request
    slo_p95_ms: float = _DEFAULTS.capacity_slo_p95_ms
    max_fail_ratio: float = _DEFAULTS.capacity_max_fail_ratio
    spawn_rate: float = _DEFAULTS.step_rate

    def __post_init__(self) -> None:
        try:
            ScenarioSettings(**self.scenario_values())
        except ValueError as exc:
            raise ValueError(in_cli_terms(str(exc))) from None

    @classmethod
    def of(cls, scenario: ScenarioSettings) -> CapacityOptions:
        """The ramp that ``scenario``'s step and capacity settings describe."""
        return cls(**{mine: getattr(scenario, theirs) for mine, theirs in _AS_SCENARIO.items()})

    def scenario_values(self, out: Path | None = None) -> dict[str, Any]:
        """The ramp as scenario settings, writing its steps to ``out``."""
        values: dict[str, Any] = {
            theirs: getattr(self, mine) for mine, theirs in _AS_SCENARIO.items()
        }
        if out is not None:
            values["capacity_out"] = str(out)
        return values

    @property
    def ramp(self) -> Ramp:
        return Ramp.of(SimpleNamespace(**self.scenario_values()))

    @property
    def steps(self) -> int:
        return self.ramp.steps

    @property
    def longest_s(self) -> float:
        """The ramp's length when no step breaks the SLO."""
        return self.ramp.longest_s


@dataclass
class LoadTestConfig:
    """What ``chatkit-pg loadtest`` runs (see its ``--help``).

    ``server`` is the whole server under test; its ``dsn`` stays empty here, because the
    run makes a fresh database on ``dsn`` (the PostgreSQL server; None: the embedded one).
    ``scenario`` is what Locust's users do (a local run's defaults unless given).
    """

    server: ServerSettings = field(default_factory=ServerSettings)
    users: int = 50
    spawn_rate: float = 10.0
    run_time: str = "60s"
    dsn: str | None = None
    workers: int = 1  # server (uvicorn) processes
    locust_workers: int = 0
    scenario: ScenarioSettings = field(default_factory=local_scenario)
    tags: list[str] = field(default_factory=list)
    stop_timeout: int = 15
    keep_database: bool = False
    chaos_restart_at: float | None = None  # seconds after Locust starts
    chaos_grace_s: float = 10.0  # failures expected until this long after the restart
    exclude_tags: list[str] = field(default_factory=list)
    host: str | None = None  # a running server: no database, no server started
    verify: bool = False  # remote: re-read acknowledged threads over HTTP afterwards
    capacity: CapacityOptions | None = None  # --find-capacity: the stepped ramp instead
    goodput: dict[str, float] | None = None  # --goodput: SLO limits (ms) per request
