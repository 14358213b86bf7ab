"""Scenario settings: Locust command-line options that also come from env and locust.conf.

Each option is registered on Locust's own parser (``events.init_command_line_parser``), so
one value can be given as ``--chatkit-path /api/chatkit``, as ``CHATKIT_LT_PATH=...``, or
as ``chatkit-path = ...`` in ``loadtest/scenarios/locust.conf``; most also show in the web UI.
Nothing defaults to localhost: the target is Locust's ``--host``.

Identity, as real apps send it: ``--auth-header``/``--auth-template`` (per user,
``{user}``), ``--auth-token`` (one static token, ``{token}``), ``--auth-tokens-file`` (one
``user token`` pair per line: per-user tokens, and the identities the users take),
repeatable ``--header 'Name: value'`` and ``--cookie 'name=value'`` (values may use
``{user}``/``{token}`` too). Every bad value is a ``ValueError`` naming its option (the
locustfile prints it and exits 2, no traceback). Tokens, header values and cookies are
secrets: :meth:`ScenarioSettings.redacted` is what may be logged or written.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Final

from chatkit_pg.harness.vocabulary import (
    CAPACITY_DEFAULT_REQUEST,
    CAPACITY_DEFAULT_SLO_P95_MS,
    parse_on_off,
)

REDACTED: Final = "<redacted>"
_HEADER_NAME: Final = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an RFC 9110 token
_FIELDS: Final = frozenset({"user", "token"})

# (option, env suffix, type, default, help); env var is CHATKIT_LT_<suffix>.
OPTIONS: Final[tuple[tuple[str, str, type, Any, str], ...]] = (
    ("--chatkit-path", "PATH", str, "/chatkit", "path of the ChatKit endpoint on --host"),
    ("--auth-header", "AUTH_HEADER", str, "Authorization", "header that carries identity"),
    (
        "--auth-template",
        "AUTH_TEMPLATE",
        str,
        "",
        "value of --auth-header: {user} becomes the simulated user id, {token} the token of "
        "--auth-token/--auth-tokens-file; no placeholder: one static value (default 'Bearer "
        "{user}', or 'Bearer {token}' with a token option; '' with --auth-header '' sends none)",
    ),
    ("--auth-token", "AUTH_TOKEN", str, "", "one static token for every user ({token})"),
    (
        "--auth-tokens-file",
        "AUTH_TOKENS_FILE",
        str,
        "",
        "file of per-user tokens, one 'user token' per line (# comments): users take these "
        "identities",
    ),
    (
        "--require-assistant",
        "REQUIRE_ASSISTANT",
        str,
        "false",
        "a turn must hold an assistant message (true/false)",
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
    (
        "--seed",
        "SEED",
        str,
        "false",
        "seed the long and hot threads over the API before the run (true/false); resumes "
        "its own earlier seed threads",
    ),
    ("--seed-threads", "SEED_THREADS", int, 1, "long threads for the long-thread readers"),
    ("--seed-thread-length", "SEED_LENGTH", int, 20, "items in each long thread"),
    ("--hot-threads", "HOT_THREADS", int, 3, "threads the hot-thread users all post to"),
    ("--ack-dir", "ACK_DIR", str, "", "write acknowledged writes here (integrity check)"),
    (
        "--fail-ratio",
        "FAIL_RATIO",
        float,
        0.0,
        "exit 1 when the share of failed requests exceeds this (0..1)",
    ),
    ("--step-start", "STEP_START", int, 10, "step shape: first user count"),
    ("--step-users", "STEP_USERS", int, 10, "step shape: users added per step"),
    ("--step-duration", "STEP_DURATION", float, 30.0, "step shape: seconds per step"),
    ("--step-max", "STEP_MAX", int, 100, "step shape: last user count"),
    ("--step-rate", "STEP_RATE", float, 10.0, "step shape: users spawned per second"),
    (
        "--capacity-request",
        "CAPACITY_REQUEST",
        str,
        CAPACITY_DEFAULT_REQUEST,
        "capacity shape: the Locust entry whose p95 is held to the SLO",
    ),
    (
        "--capacity-slo-p95-ms",
        "CAPACITY_SLO_P95_MS",
        float,
        CAPACITY_DEFAULT_SLO_P95_MS,
        "capacity shape: a step breaks the SLO when that entry's p95 exceeds this (ms)",
    ),
    (
        "--capacity-max-fail-ratio",
        "CAPACITY_MAX_FAIL_RATIO",
        float,
        0.0,
        "capacity shape: a step breaks the SLO when more of its requests failed (0..1)",
    ),
    ("--capacity-out", "CAPACITY_OUT", str, "", "capacity shape: write the steps here (JSON)"),
)


SECRET_OPTIONS: Final = frozenset({"--auth-token", "--auth-template"})
HIDDEN_OPTIONS: Final = frozenset({"--ack-dir", "--auth-tokens-file", "--capacity-out"})

# Repeatable options: (option, env suffix, help).
LIST_OPTIONS: Final[tuple[tuple[str, str, str], ...]] = (
    ("--header", "HEADERS", "extra header 'Name: value' on every request (repeatable)"),
    ("--cookie", "COOKIES", "cookie 'name=value' on every request (repeatable)"),
    (
        "--slo-p95",
        "SLO_P95",
        "exit 1 when this entry's p95 exceeds the limit: 'NAME=MS', e.g. "
        "'ttft threads.add_user_message=2000' (repeatable)",
    ),
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
            include_in_web_ui=option not in HIDDEN_OPTIONS,
            is_secret=option in SECRET_OPTIONS,
        )
    for option, env, help_text in LIST_OPTIONS:
        parser.add_argument(
            option,
            action="append",
            default=[],
            env_var=f"CHATKIT_LT_{env}",
            help=help_text,
            include_in_web_ui=False,
        )


def option_defaults() -> dict[str, Any]:
    """Every option's default, by its ``ScenarioSettings`` field name."""
    values = {o[2:].replace("-", "_"): default for o, _, _, default, _ in OPTIONS}
    values.update({o[2:].replace("-", "_"): [] for o, _, _ in LIST_OPTIONS})
    return values


def from_values(**overrides: Any) -> ScenarioSettings:
    """Settings from the defaults and ``overrides`` (field names), checked like Locust's.

    Raises:
        ValueError: a bad value, naming its option.
    """
    return ScenarioSettings.from_options(SimpleNamespace(**{**option_defaults(), **overrides}))


def _fields_of(template: str, option: str) -> set[str]:
    """The ``{fields}`` of a header/cookie template; only {user} and {token} are allowed."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"{option}: {exc} (write a literal brace as {{{{ or }}}})") from None
    names = {name for _, name, _, _ in parsed if name is not None}
    unknown = names - _FIELDS
    if unknown:
        raise ValueError(
            f"{option}: unknown placeholder {{{sorted(unknown)[0]}}}; only {{user}} and "
            "{token} are filled in"
        )
    return names


def parse_header(value: str) -> tuple[str, str]:
    """``'Name: value'`` as ``(name, value)``.

    Raises:
        ValueError: naming ``--header`` when it is not ``Name: value``.
    """
    name, sep, rest = value.partition(":")
    name = name.strip()
    if not sep or not _HEADER_NAME.match(name):
        shown = f"name {name!r}" if sep else "a value without ':'"  # never the value: a secret
        raise ValueError(f"--header must be 'Name: value' with a header name, got {shown}")
    _fields_of(rest, "--header")
    return name, rest.strip()


def parse_cookie(value: str) -> tuple[str, str]:
    """``'name=value'`` as ``(name, value)``.

    Raises:
        ValueError: naming ``--cookie`` when it is not ``name=value``.
    """
    name, sep, rest = value.partition("=")
    name = name.strip()
    if not sep or not _HEADER_NAME.match(name) or any(c in rest for c in ";\r\n"):
        raise ValueError(f"--cookie must be 'name=value' without ';', got name {name!r}")
    _fields_of(rest, "--cookie")
    return name, rest.strip()


def parse_slo(value: str) -> tuple[str, float]:
    """``'NAME=MS'`` as ``(name, ms)``.

    Raises:
        ValueError: naming ``--slo-p95`` otherwise.
    """
    name, sep, limit = value.rpartition("=")
    try:
        ms = float(limit)
    except ValueError:
        ms = -1.0
    if not sep or not name.strip() or ms <= 0:
        raise ValueError(f"--slo-p95 must be 'NAME=MS' with MS > 0, got {value!r}")
    return name.strip(), ms


def read_tokens(path: str) -> dict[str, str]:
    """``user token`` pairs of a tokens file (blank lines and ``#`` comments skipped).

    Raises:
        ValueError: naming ``--auth-tokens-file`` (missing, unreadable, a bad line, empty).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"--auth-tokens-file {path!r}: {exc.strerror or exc}") from None
    tokens: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(
                f"--auth-tokens-file {path!r} line {number}: expected 'user token' (2 fields)"
            )
        tokens[parts[0]] = parts[1]
    if not tokens:
        raise ValueError(f"--auth-tokens-file {path!r} holds no 'user token' line")
    return tokens


@dataclass(frozen=True)
class ScenarioSettings:
    """The parsed options, checked (bad values raise ``ValueError`` naming the option)."""

    chatkit_path: str
    auth_header: str
    auth_template: str
    auth_token: str = field(repr=False)
    auth_tokens_file: str
    require_assistant: bool
    tls_verify: bool
    request_timeout: float
    user_prefix: str
    user_pool: int
    message_min_chars: int
    message_max_chars: int
    think_min: float
    think_max: float
    page_size: int
    seed: bool
    seed_threads: int
    seed_thread_length: int
    hot_threads: int
    ack_dir: str
    fail_ratio: float
    step_start: int
    step_users: int
    step_duration: float
    step_max: int
    step_rate: float
    capacity_request: str
    capacity_slo_p95_ms: float
    capacity_max_fail_ratio: float
    capacity_out: str
    header: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    cookie: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    slo_p95: tuple[tuple[str, float], ...] = ()
    tokens: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.chatkit_path.startswith("/"):
            raise ValueError(f"--chatkit-path must start with '/', got {self.chatkit_path!r}")
        if self.auth_header and not _HEADER_NAME.match(self.auth_header):
            raise ValueError(f"--auth-header must be a header name, got {self.auth_header!r}")
        if self.auth_token and self.tokens:
            raise ValueError("give --auth-token or --auth-tokens-file, not both")
        fields = _fields_of(self.auth_template, "--auth-template")
        if "token" in fields and not (self.auth_token or self.tokens):
            raise ValueError(
                "--auth-template uses {token}: give --auth-token or --auth-tokens-file"
            )
        if (self.auth_token or self.tokens) and self.auth_header and "token" not in fields:
            raise ValueError(
                "--auth-template must contain {token} to send --auth-token/--auth-tokens-file"
            )
        if not 0 <= self.fail_ratio <= 1:
            raise ValueError(f"--fail-ratio must be within 0..1, got {self.fail_ratio}")
        if not 1 <= self.message_min_chars <= self.message_max_chars:
            raise ValueError("need 1 <= --message-min-chars <= --message-max-chars")
        if not 0 <= self.think_min <= self.think_max:
            raise ValueError("need 0 <= --think-min <= --think-max")
        for name in ("user_pool", "page_size", "seed_threads", "hot_threads", "step_users"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        if self.step_start < 1 or self.step_max < self.step_start:
            raise ValueError("need 1 <= --step-start <= --step-max")
        if self.step_duration <= 0 or self.step_rate <= 0:
            raise ValueError("--step-duration and --step-rate must be positive")
        if not self.capacity_request.strip():
            raise ValueError("--capacity-request must name a Locust entry")
        if self.capacity_slo_p95_ms <= 0:
            raise ValueError("--capacity-slo-p95-ms must be positive")
        if not 0 <= self.capacity_max_fail_ratio <= 1:
            raise ValueError("--capacity-max-fail-ratio must be within 0..1")
        if self.seed_thread_length < 2:
            raise ValueError("--seed-thread-length must be at least 2")

    @classmethod
    def from_options(cls, options: Any) -> ScenarioSettings:
        """Build from Locust's ``parsed_options`` (argparse namespace).

        Raises:
            ValueError: a bad value, naming its option.
        """
        names = [n for n in cls.__dataclass_fields__ if n != "tokens"]
        values = {name: getattr(options, name) for name in names}
        for name in ("tls_verify", "require_assistant", "seed"):
            values[name] = parse_on_off(values[name], f"--{name.replace('_', '-')}")
        values["header"] = tuple(parse_header(v) for v in values["header"] or ())
        values["cookie"] = tuple(parse_cookie(v) for v in values["cookie"] or ())
        values["slo_p95"] = tuple(parse_slo(v) for v in values["slo_p95"] or ())
        tokens = read_tokens(values["auth_tokens_file"]) if values["auth_tokens_file"] else {}
        if not values["auth_template"] and values["auth_header"]:
            has_token = values["auth_token"] or tokens
            values["auth_template"] = "Bearer {token}" if has_token else "Bearer {user}"
        return cls(**values, tokens=tokens)

    def token_for(self, user: str) -> str:
        """The token ``user`` sends (``--auth-token``, or its line of the tokens file)."""
        return self.tokens.get(user, self.auth_token)

    def auth_headers(self, user: str) -> dict[str, str]:
        """Every header identity needs: the auth header, ``--header``s and ``--cookie``s."""
        values = {"user": user, "token": self.token_for(user)}
        headers: dict[str, str] = {}
        if self.auth_header and self.auth_template:
            headers[self.auth_header] = self.auth_template.format(**values)
        for name, value in self.header:
            headers[name] = value.format(**values)
        if self.cookie:
            headers["Cookie"] = "; ".join(f"{n}={v.format(**values)}" for n, v in self.cookie)
        return headers

    def identities(self) -> list[str]:
        """The identities new and returning users draw from (the tokens file's users when
        there is one)."""
        if self.tokens:
            return list(self.tokens)
        return [f"{self.user_prefix}-user-{n}" for n in range(self.user_pool)]

    def redacted(self) -> dict[str, Any]:
        """The settings as they may be logged or written: no token, header value or cookie
        value (their names stay)."""
        values = {n: getattr(self, n) for n in self.__dataclass_fields__ if n != "tokens"}
        values["auth_token"] = REDACTED if self.auth_token else ""
        fields = _fields_of(self.auth_template, "--auth-template")
        values["auth_template"] = self.auth_template if fields else REDACTED
        values["header"] = [f"{n}: {REDACTED}" for n, _ in self.header]
        values["cookie"] = [f"{n}={REDACTED}" for n, _ in self.cookie]
        values["slo_p95"] = [f"{n}={ms:g}" for n, ms in self.slo_p95]
        values["tokens_file_users"] = len(self.tokens)
        return values

    @property
    def long_reader(self) -> str:
        if self.tokens:
            return next(iter(self.tokens))
        return f"{self.user_prefix}-longreader"

    @property
    def long_title(self) -> str:
        return f"{self.user_prefix}-long-{self.seed_thread_length}"

    @property
    def hot_user(self) -> str:
        if self.tokens:
            return list(self.tokens)[min(1, len(self.tokens) - 1)]
        return f"{self.user_prefix}-hot"

    @property
    def seeding_title(self) -> str:
        """Title of a long thread while it is being seeded (resumed by the next run)."""
        return f"{self.long_title}-seeding"

    def hot_title(self, index: int) -> str:
        return f"{self.user_prefix}-hot-{index}"
