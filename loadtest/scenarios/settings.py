"""Scenario settings: every option of the scenarios declared once.

Each field of :class:`ScenarioSettings` is declared once, with
:func:`.option_values.declare`: its default, its help, whether it is a secret, whether the
web UI shows it, its ``CHATKIT_LT_*`` environment variable and whether (and under which
name) ``chatkit-pg loadtest`` offers it.
Everything else is derived from that declaration: Locust's options (registered on its own
parser, so a value can be ``--chatkit-path /api/chatkit``, ``CHATKIT_LT_PATH=...`` or
``chatkit-path = ...`` in ``loadtest/scenarios/locust.conf``), the options ``chatkit-pg
loadtest`` hands to its Locust (:meth:`ScenarioSettings.to_options`, secrets through
:meth:`ScenarioSettings.to_env`), the options of ``chatkit-pg loadtest`` itself and what may
be written (:meth:`ScenarioSettings.redacted`). Nothing defaults to localhost: the target is
Locust's ``--host``.

Identity, as real apps send it: ``--auth-header``/``--auth-template`` (per user,
``{user}``), ``--auth-token`` (one static token, ``{token}``), ``--auth-tokens-file`` (one
``user token`` pair per line: per-user tokens, and the identities the users take),
repeatable ``--header 'Name: value'`` and ``--cookie 'name=value'`` (values may use
``{user}``/``{token}`` too). Every bad value is a ``ValueError`` naming its option (the
locustfile prints it and exits 2, no traceback).
"""

from __future__ import annotations

import json
import re
from dataclasses import Field, dataclass, field, fields
from functools import cache
from types import SimpleNamespace
from typing import Any, Final

from chatkit_pg.harness.vocabulary import CAPACITY_DEFAULT_REQUEST, CAPACITY_DEFAULT_SLO_P95_MS

from .option_values import (
    HEADER_NAME,
    as_text,
    declare,
    env_name,
    format_slo,
    option_name,
    parse_value,
    read_tokens,
    template_fields,
    text_default,
)

REDACTED: Final = "<redacted>"


@dataclass(frozen=True)
class ScenarioSettings:
    """The scenario settings, checked (bad values raise ``ValueError`` naming the option).

    Constructed directly, the fields take parsed values (booleans, ``(name, value)`` pairs);
    :func:`from_values` and :meth:`from_options` take them as text, as Locust parses them.
    """

    chatkit_path: str = declare(
        "/chatkit", "path of the ChatKit endpoint on --host", env="PATH", cli=True,
        group="target", cli_help="ChatKit endpoint path",
    )  # fmt: skip
    auth_header: str = declare(
        "Authorization", "header that carries identity ('' for none)", cli=True, group="target"
    )
    auth_template: str = declare(
        "",
        "value of --auth-header: {user} becomes the simulated user id, {token} the token of "
        "--auth-token/--auth-tokens-file; no placeholder: one static value (default 'Bearer "
        "{user}', or 'Bearer {token}' with a token option)",
        secret=True, cli=True, group="target",
    )  # fmt: skip
    auth_token: str = declare(
        "", "one static token for every user ({token})", secret=True, cli=True, group="target"
    )
    auth_tokens_file: str = declare(
        "",
        "file of per-user tokens, one 'user token' per line (# comments): users take these "
        "identities",
        web_ui=False, cli=True, group="target", metavar="PATH",
    )  # fmt: skip
    header: tuple[tuple[str, str], ...] = declare(
        (), "extra header 'Name: value' on every request (repeatable)", env="HEADERS",
        secret=True, web_ui=False, cli=True, group="target", metavar="'NAME: VALUE'",
    )  # fmt: skip
    cookie: tuple[tuple[str, str], ...] = declare(
        (), "cookie 'name=value' on every request (repeatable)", env="COOKIES", secret=True,
        web_ui=False, cli=True, group="target", metavar="NAME=VALUE",
    )  # fmt: skip
    tls_verify: bool = declare(
        True, "verify TLS certificates (true/false)", cli="--insecure", group="target",
        cli_help="do not verify TLS certificates",
    )  # fmt: skip
    request_timeout: float = declare(
        30.0, "seconds before a request is a timeout", env="TIMEOUT", cli=True, group="target"
    )
    require_assistant: bool = declare(
        False, "a turn must hold an assistant message (true/false)", cli=True, group="target",
        cli_help="a turn without an assistant message is a failure (no_reply)",
    )  # fmt: skip
    seed: bool = declare(
        False,
        "seed the long and hot threads over the API before the run (true/false); resumes "
        "its own earlier seed threads",
        cli=True, group="target",
        cli_help="with --host: seed the long/hot threads over the API first (small, "
        "resumable; --seed-threads/--seed-thread-length)",
    )  # fmt: skip
    check_echo: bool = declare(
        True,
        "a stream's user message must be the text this user sent, else cross_talk (true/false; "
        "off for a server that rewrites user input)",
    )
    fail_ratio: float = declare(
        0.0, "exit 1 when the share of failed requests exceeds this (0..1)", cli=True,
        group="target",
    )  # fmt: skip
    slo_p95: tuple[tuple[str, float], ...] = declare(
        (),
        "exit 1 when this entry's p95 exceeds the limit: 'NAME=MS', e.g. "
        "'ttft threads.add_user_message=2000' (repeatable)",
        web_ui=False, cli=True, group="target", metavar="NAME=MS",
    )  # fmt: skip
    user_prefix: str = declare("lt", "prefix of every simulated identity")
    user_pool: int = declare(50, "identities shared by new and returning users")
    message_min_chars: int = declare(20, "shortest user message", env="MESSAGE_MIN")
    message_max_chars: int = declare(400, "longest user message", env="MESSAGE_MAX")
    think_min: float = declare(0.5, "shortest pause between tasks (s)", cli=True, group="load")
    think_max: float = declare(2.0, "longest pause between tasks (s)", cli=True, group="load")
    page_size: int = declare(50, "items.list / threads.list page size")
    seed_threads: int = declare(
        1, "long threads for the long-thread readers", cli=True, group="load", local=2
    )
    seed_thread_length: int = declare(
        20, "items in each long thread", env="SEED_LENGTH", cli=True, group="load", local=2000
    )
    hot_threads: int = declare(
        3, "threads the hot-thread users all post to", cli=True, group="load"
    )
    warmup: float = declare(
        0.0,
        "seconds at the start whose requests go to the records as phase 'warmup' and never "
        "into Locust's statistics (part of --run-time)",
        cli=True, group="load", duration=True, metavar="DURATION",
    )  # fmt: skip
    arrival_rate: float = declare(
        0.0,
        "open loop: new conversations per second, all processes together (0: closed loop); "
        "run the open-loop user (--tags open-loop)",
        cli=True, group="arrivals", metavar="PER_S",
    )  # fmt: skip
    arrival_burstiness: float = declare(
        1.0, "open loop: gamma shape of the gaps (1.0 = Poisson, < 1 burstier)", cli=True,
        group="arrivals",
    )  # fmt: skip
    arrival_cap: int = declare(
        50,
        "open loop: conversations in flight at most, all processes together; an arrival "
        "beyond it is refused and counted, never queued",
        cli=True, group="arrivals",
    )  # fmt: skip
    arrival_generators: int = declare(
        1,
        "open loop: open-loop users sharing --arrival-rate and --arrival-cap (give --users "
        "the same; chatkit-pg loadtest runs one per Locust process)",
    )
    ack_dir: str = declare("", "write acknowledged writes here (integrity check)", web_ui=False)
    records_dir: str = declare(
        "", "write one JSON line per measured request here (requests-<host>-<pid>.jsonl)",
        web_ui=False,
    )  # fmt: skip
    step_start: int = declare(
        10, "step shape: first user count", cli="--capacity-start-users", group="capacity"
    )
    step_users: int = declare(
        10, "step shape: users added per step", cli="--capacity-step-users", group="capacity"
    )
    step_duration: float = declare(
        30.0, "step shape: seconds per step", cli="--capacity-step-duration",
        group="capacity", duration=True, metavar="DURATION",
    )  # fmt: skip
    step_max: int = declare(
        200, "step shape: last user count", cli="--capacity-max-users", group="capacity"
    )
    # chatkit-pg loadtest's ramp spawns at its --spawn-rate (a Locust option of its own).
    step_rate: float = declare(10.0, "step shape: users spawned per second")
    capacity_request: str = declare(
        CAPACITY_DEFAULT_REQUEST,
        "capacity shape: the Locust entry whose p95 is held to the SLO",
        cli=True, group="capacity", metavar="NAME",
        cli_help="the Locust entry held to the SLO (the default is a reply's whole stream, "
        "every store call of the turn included; e.g. 'ttft threads.add_user_message', "
        "'threads.list')",
    )  # fmt: skip
    capacity_slo_p95_ms: float = declare(
        CAPACITY_DEFAULT_SLO_P95_MS,
        "capacity shape: a step breaks the SLO when that entry's p95 exceeds this (ms)",
        cli=True, group="capacity",
    )  # fmt: skip
    capacity_max_fail_ratio: float = declare(
        0.0,
        "capacity shape: a step breaks the SLO when more of its requests failed (0..1)",
        cli=True, group="capacity",
    )  # fmt: skip
    capacity_out: str = declare("", "capacity shape: write the steps here (JSON)", web_ui=False)
    # Not a setting: the pairs of --auth-tokens-file, read once.
    tokens: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.auth_tokens_file and not self.tokens:
            object.__setattr__(self, "tokens", read_tokens(self.auth_tokens_file))
        if not self.auth_template and self.auth_header:
            default = "Bearer {token}" if self.auth_token or self.tokens else "Bearer {user}"
            object.__setattr__(self, "auth_template", default)
        if not self.chatkit_path.startswith("/"):
            raise ValueError(f"--chatkit-path must start with '/', got {self.chatkit_path!r}")
        if self.auth_header and not HEADER_NAME.match(self.auth_header):
            raise ValueError(f"--auth-header must be a header name, got {self.auth_header!r}")
        if self.auth_token and self.tokens:
            raise ValueError("give --auth-token or --auth-tokens-file, not both")
        placeholders = template_fields(self.auth_template, "--auth-template")
        if "token" in placeholders and not (self.auth_token or self.tokens):
            raise ValueError(
                "--auth-template uses {token}: give --auth-token or --auth-tokens-file"
            )
        if (self.auth_token or self.tokens) and self.auth_header and "token" not in placeholders:
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
                raise ValueError(f"{option_name(name)} must be at least 1")
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
        if self.warmup < 0:
            raise ValueError(f"--warmup must be >= 0 s, got {self.warmup:g}")
        if self.arrival_rate < 0:
            raise ValueError(
                f"--arrival-rate must be >= 0 (0: closed loop), got {self.arrival_rate:g}"
            )
        if not self.arrival_burstiness > 0:
            raise ValueError(
                f"--arrival-burstiness must be > 0 (1.0 = Poisson), got {self.arrival_burstiness:g}"
            )
        if self.arrival_generators < 1 or self.arrival_cap < self.arrival_generators:
            raise ValueError(
                f"need 1 <= --arrival-generators <= --arrival-cap, got {self.arrival_generators} "
                f"and {self.arrival_cap}"
            )
        if self.seed_thread_length < 2:
            raise ValueError("--seed-thread-length must be at least 2")

    @classmethod
    def from_options(cls, options: Any) -> ScenarioSettings:
        """Build from Locust's ``parsed_options`` (text as Locust parses it: booleans as
        ``true``/``false``, repeatable options as lists of strings).

        Raises:
            ValueError: a bad value, naming its option.
        """
        return cls(**{f.name: parse_value(f, getattr(options, f.name)) for f in declared()})

    # -- what leaves this object ----------------------------------------------------------------

    def to_options(self) -> list[str]:
        """The settings as Locust options, secrets left out (:meth:`to_env` carries them):
        what :meth:`from_options` reads back."""
        command: list[str] = []
        for f in declared():
            if f.metadata["secret"]:
                continue
            for text in as_text(f, getattr(self, f.name)):
                command += [option_name(f.name), text]
        return command

    def to_env(self) -> dict[str, str]:
        """The secret settings as Locust's ``CHATKIT_LT_*`` variables (lists as JSON)."""
        env: dict[str, str] = {}
        for f in declared():
            value = getattr(self, f.name)
            if not f.metadata["secret"] or not value:
                continue
            texts = as_text(f, value)
            env[env_name(f)] = json.dumps(texts) if isinstance(f.default, tuple) else texts[0]
        return env

    def redacted(self) -> dict[str, Any]:
        """The settings as they may be logged or written: no token, header value or cookie
        value (their names stay), no static auth value (a template stays)."""
        values = {f.name: getattr(self, f.name) for f in declared()}
        values["auth_token"] = REDACTED if self.auth_token else ""
        placeholders = template_fields(self.auth_template, "--auth-template")
        values["auth_template"] = self.auth_template if placeholders else REDACTED
        values["header"] = [f"{n}: {REDACTED}" for n, _ in self.header]
        values["cookie"] = [f"{n}={REDACTED}" for n, _ in self.cookie]
        values["slo_p95"] = [format_slo(pair) for pair in self.slo_p95]
        values["tokens_file_users"] = len(self.tokens)
        return values

    # -- identity -------------------------------------------------------------------------------

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

    def arrivals_of_one_generator(self) -> tuple[float, int]:
        """One open-loop user's share of the rate and of the cap (the cap rounded up, so
        the generators together never hold fewer than ``--arrival-cap``)."""
        generators = self.arrival_generators
        return self.arrival_rate / generators, -(-self.arrival_cap // generators)

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


# -- derived from the declaration -------------------------------------------------------------


@cache
def declared() -> tuple[Field[Any], ...]:
    """Every declared setting (``tokens`` is read, not set); the declaration is fixed, so
    it is read once."""
    return tuple(f for f in fields(ScenarioSettings) if "help" in f.metadata)


def add_arguments(parser: Any) -> None:
    """Register every setting on Locust's argument parser."""
    # Locust's own parser (not a group): only it understands include_in_web_ui.
    for setting in declared():
        meta, default = setting.metadata, text_default(setting)
        common = {
            "env_var": env_name(setting),
            "include_in_web_ui": meta["web_ui"],
            "is_secret": meta["secret"],
        }
        if isinstance(setting.default, tuple):
            parser.add_argument(
                option_name(setting.name), action="append", default=[], help=meta["help"],
                **common,
            )  # fmt: skip
        else:
            parser.add_argument(
                option_name(setting.name), type=type(default), default=default,
                help=f"{meta['help']} (default {default!r})", **common,
            )  # fmt: skip


def text_defaults(local: bool = False) -> dict[str, Any]:
    """Every setting's default as text, by field name; ``local``: the local run's."""
    values = {f.name: text_default(f) for f in declared()}
    if local:
        values.update({f.name: f.metadata["local"] for f in declared() if f.metadata["local"]})
    return values


def from_values(local: bool = False, **given: Any) -> ScenarioSettings:
    """Settings from the defaults (``local``: the local run's) and ``given`` (field names,
    text or typed), checked like Locust's.

    Raises:
        ValueError: a bad value, naming its option.
    """
    values = {**text_defaults(local), **given}
    return ScenarioSettings.from_options(SimpleNamespace(**values))


def cli_name(setting: Field[Any]) -> str | None:
    """The option of ``chatkit-pg loadtest`` for a setting (None: it offers none)."""
    cli = setting.metadata["cli"]
    if cli is True:
        return option_name(setting.name)
    return cli or None


def in_cli_terms(message: str) -> str:
    """A settings error as ``chatkit-pg loadtest`` users know the options."""
    for setting in declared():
        name = cli_name(setting) or ("--spawn-rate" if setting.name == "step_rate" else None)
        if name and name != option_name(setting.name):
            message = re.sub(rf"{re.escape(option_name(setting.name))}\b", name, message)
    return message
