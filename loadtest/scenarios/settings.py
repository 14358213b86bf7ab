"""Scenario settings: Locust command-line options that also come from env and locust.conf.

Each option is registered on Locust's own parser (``events.init_command_line_parser``), so
one value can be given as ``--chatkit-path /api/chatkit``, as ``CHATKIT_LT_PATH=...``, or
as ``chatkit-path = ...`` in ``loadtest/scenarios/locust.conf``; most also show in the web UI.
Nothing defaults to localhost: the target is Locust's ``--host``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

# (option, env suffix, type, default, help); env var is CHATKIT_LT_<suffix>.
OPTIONS: Final[tuple[tuple[str, str, type, Any, str], ...]] = (
    ("--chatkit-path", "PATH", str, "/chatkit", "path of the ChatKit endpoint on --host"),
    ("--auth-header", "AUTH_HEADER", str, "Authorization", "header that carries identity"),
    (
        "--auth-template",
        "AUTH_TEMPLATE",
        str,
        "Bearer {user}",
        "value of --auth-header; {user} becomes the simulated user id",
    ),
    ("--tls-verify", "TLS_VERIFY", str, "true", "verify TLS certificates (true/false)"),
    ("--request-timeout", "TIMEOUT", float, 30.0, "seconds before a request is a timeout"),
    ("--user-prefix", "USER_PREFIX", str, "lt", "prefix of every simulated identity"),
    ("--user-pool", "USER_POOL", int, 50, "identities shared by new and returning users"),
    ("--message-min-chars", "MESSAGE_MIN", int, 20, "shortest user message"),
    ("--message-max-chars", "MESSAGE_MAX", int, 400, "longest user message"),
    ("--think-min", "THINK_MIN", float, 0.5, "shortest pause between tasks (s)"),
    ("--think-max", "THINK_MAX", float, 2.0, "longest pause between tasks (s)"),
    ("--page-size", "PAGE_SIZE", int, 50, "items.list / threads.list page size"),
    ("--seed-threads", "SEED_THREADS", int, 2, "long threads for the long-thread readers"),
    ("--seed-thread-length", "SEED_LENGTH", int, 2000, "items in each long thread"),
    ("--hot-threads", "HOT_THREADS", int, 3, "threads the hot-thread users all post to"),
    ("--ack-dir", "ACK_DIR", str, "", "write acknowledged writes here (integrity check)"),
    ("--step-start", "STEP_START", int, 10, "step shape: first user count"),
    ("--step-users", "STEP_USERS", int, 10, "step shape: users added per step"),
    ("--step-duration", "STEP_DURATION", float, 30.0, "step shape: seconds per step"),
    ("--step-max", "STEP_MAX", int, 100, "step shape: last user count"),
    ("--step-rate", "STEP_RATE", float, 10.0, "step shape: users spawned per second"),
)


def add_arguments(parser: Any) -> None:
    """Register every option on Locust's argument parser."""
    # Locust's own parser (not a group): only it understands include_in_web_ui.
    for option, env, kind, default, help_text in OPTIONS:
        parser.add_argument(
            option,
            type=kind,
            default=default,
            env_var=f"CHATKIT_LT_{env}",
            help=f"{help_text} (default {default!r})",
            include_in_web_ui=option != "--ack-dir",
        )


def _flag(value: str) -> bool:
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"--tls-verify must be true or false, got {value!r}")


@dataclass(frozen=True)
class ScenarioSettings:
    """The parsed options, checked (bad values raise ``ValueError`` naming the option)."""

    chatkit_path: str
    auth_header: str
    auth_template: str
    tls_verify: bool
    request_timeout: float
    user_prefix: str
    user_pool: int
    message_min_chars: int
    message_max_chars: int
    think_min: float
    think_max: float
    page_size: int
    seed_threads: int
    seed_thread_length: int
    hot_threads: int
    ack_dir: str
    step_start: int
    step_users: int
    step_duration: float
    step_max: int
    step_rate: float

    def __post_init__(self) -> None:
        if not self.chatkit_path.startswith("/"):
            raise ValueError(f"--chatkit-path must start with '/', got {self.chatkit_path!r}")
        if "{user}" not in self.auth_template:
            raise ValueError("--auth-template must contain {user}")
        if not 1 <= self.message_min_chars <= self.message_max_chars:
            raise ValueError("need 1 <= --message-min-chars <= --message-max-chars")
        if not 0 <= self.think_min <= self.think_max:
            raise ValueError("need 0 <= --think-min <= --think-max")
        for name in ("user_pool", "page_size", "seed_threads", "hot_threads", "step_users"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        if self.seed_thread_length < 2:
            raise ValueError("--seed-thread-length must be at least 2")

    @classmethod
    def from_options(cls, options: Any) -> ScenarioSettings:
        """Build from Locust's ``parsed_options`` (argparse namespace)."""
        values = {name: getattr(options, name) for name in cls.__dataclass_fields__}
        values["tls_verify"] = _flag(values["tls_verify"])
        return cls(**values)

    def auth_headers(self, user: str) -> dict[str, str]:
        return {self.auth_header: self.auth_template.format(user=user)}

    @property
    def long_reader(self) -> str:
        return f"{self.user_prefix}-longreader"

    @property
    def long_title(self) -> str:
        return f"{self.user_prefix}-long-{self.seed_thread_length}"

    @property
    def hot_user(self) -> str:
        return f"{self.user_prefix}-hot"

    def hot_title(self, index: int) -> str:
        return f"{self.user_prefix}-hot-{index}"
