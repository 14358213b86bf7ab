"""What ``chatkit-pg loadtest`` runs: the load, the target's options, the capacity ramp."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from chatkit_pg.harness.vocabulary import CAPACITY_DEFAULT_REQUEST, CAPACITY_DEFAULT_SLO_P95_MS
from chatkit_pg.loadtest.scenarios.settings import ScenarioSettings, from_values
from chatkit_pg.loadtest.server.settings import ServerSettings


@dataclass
class TargetOptions:
    """How Locust talks to the server: the scenario options (``ScenarioSettings`` field
    names) that ``chatkit-pg loadtest`` passes on. ``SECRET`` fields go through Locust's
    environment, never its command line."""

    chatkit_path: str = "/chatkit"
    auth_header: str = "Authorization"
    auth_template: str = ""
    auth_token: str = ""
    auth_tokens_file: str = ""
    header: list[str] = field(default_factory=list)
    cookie: list[str] = field(default_factory=list)
    tls_verify: str = "true"
    request_timeout: float = 30.0
    require_assistant: str = "false"
    seed: str = "false"
    fail_ratio: float = 0.0
    slo_p95: list[str] = field(default_factory=list)

    SECRET: ClassVar[dict[str, str]] = {
        "auth_template": "CHATKIT_LT_AUTH_TEMPLATE",
        "auth_token": "CHATKIT_LT_AUTH_TOKEN",
        "header": "CHATKIT_LT_HEADERS",
        "cookie": "CHATKIT_LT_COOKIES",
    }

    def settings(self, **extra: Any) -> ScenarioSettings:
        """The checked scenario settings (``ValueError`` names a bad option)."""
        return from_values(**asdict(self), **extra)

    def options(self) -> list[str]:
        """The non-secret options, for Locust's command line."""
        command: list[str] = []
        for name, value in asdict(self).items():
            if name in self.SECRET or value in ("", [], None):
                continue
            flag = f"--{name.replace('_', '-')}"
            for one in value if isinstance(value, list) else [value]:
                command += [flag, str(one)]
        return command

    def environment(self) -> dict[str, str]:
        """The secret options, as Locust's ``CHATKIT_LT_*`` environment variables."""
        env = {}
        for name, variable in self.SECRET.items():
            value = getattr(self, name)
            if value:
                env[variable] = json.dumps(value) if isinstance(value, list) else value
        return env


@dataclass
class CapacityOptions:
    """The stepped ramp of ``--find-capacity`` (``scenarios/capacity.py``): users from
    ``start_users`` by ``step_users`` every ``step_duration`` s up to ``max_users``, until
    ``request``'s p95 exceeds ``slo_p95_ms`` or more than ``max_fail_ratio`` of a step's
    requests fail."""

    start_users: int = 10
    step_users: int = 10
    step_duration: float = 30.0
    max_users: int = 200
    request: str = CAPACITY_DEFAULT_REQUEST
    slo_p95_ms: float = CAPACITY_DEFAULT_SLO_P95_MS
    max_fail_ratio: float = 0.0
    spawn_rate: float = 10.0

    def __post_init__(self) -> None:
        if self.start_users < 1 or self.step_users < 1 or self.max_users < self.start_users:
            raise ValueError(
                "need --capacity-start-users >= 1, --capacity-step-users >= 1 and "
                "--capacity-max-users >= --capacity-start-users"
            )
        if self.step_duration <= 0 or self.spawn_rate <= 0 or self.slo_p95_ms <= 0:
            raise ValueError(
                "--capacity-step-duration, --capacity-slo-p95-ms and --spawn-rate must be positive"
            )
        if not 0 <= self.max_fail_ratio <= 1:
            raise ValueError("--capacity-max-fail-ratio must be within 0..1")
        if not self.request.strip():
            raise ValueError("--capacity-request must name a Locust entry")

    @property
    def steps(self) -> int:
        return 1 + -(-(self.max_users - self.start_users) // self.step_users)

    @property
    def longest_s(self) -> float:
        """The ramp's length when no step breaks the SLO."""
        return self.steps * self.step_duration

    def options(self, out: Path) -> list[str]:
        """Locust's options for the ramp, writing its steps to ``out``."""
        return [
            "--step-start", str(self.start_users),
            "--step-users", str(self.step_users),
            "--step-duration", str(self.step_duration),
            "--step-max", str(self.max_users),
            "--step-rate", str(self.spawn_rate),
            "--capacity-request", self.request,
            "--capacity-slo-p95-ms", str(self.slo_p95_ms),
            "--capacity-max-fail-ratio", str(self.max_fail_ratio),
            "--capacity-out", str(out),
        ]  # fmt: skip


@dataclass
class LoadTestConfig:
    """What ``chatkit-pg loadtest`` runs (see its ``--help``).

    ``server`` is the whole server under test; its ``dsn`` stays empty here, because the
    run makes a fresh database on ``dsn`` (the PostgreSQL server; None: the embedded one).
    """

    server: ServerSettings = field(default_factory=ServerSettings)
    users: int = 50
    spawn_rate: float = 10.0
    run_time: str = "60s"
    dsn: str | None = None
    workers: int = 1  # server (uvicorn) processes
    locust_workers: int = 0
    seed_threads: int = 2
    seed_thread_length: int = 2000
    hot_threads: int = 3
    user_prefix: str = "lt"
    think_min: float = 0.5
    think_max: float = 2.0
    tags: list[str] = field(default_factory=list)
    stop_timeout: int = 15
    keep_database: bool = False
    chaos_restart_at: float | None = None  # seconds after Locust starts
    chaos_grace_s: float = 10.0  # failures expected until this long after the restart
    exclude_tags: list[str] = field(default_factory=list)
    target: TargetOptions = field(default_factory=TargetOptions)
    host: str | None = None  # a running server: no database, no server started
    verify: bool = False  # remote: re-read acknowledged threads over HTTP afterwards
    capacity: CapacityOptions | None = None  # --find-capacity: the stepped ramp instead
