"""How a scenario setting is declared and how its values are read and written as text.

:func:`declare` is the declaration (:mod:`.settings` holds the declared fields); the rest
turns one setting's value into Locust option text and back: numbers and words, the
``true``/``false`` switches, and the values that are more than that (header and cookie
templates, SLO limits, the tokens file). Each parser raises ``ValueError`` naming its option
and never quoting a secret value."""

from __future__ import annotations

import re
import string
from dataclasses import Field, field
from pathlib import Path
from typing import Any, Final, Literal

from chatkit_pg.harness.vocabulary import parse_on_off

HEADER_NAME: Final = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an RFC 9110 token
TEMPLATE_FIELDS: Final = frozenset({"user", "token"})
ENV_PREFIX: Final = "CHATKIT_LT_"
Group = Literal["load", "target", "capacity", "arrivals"]


def template_fields(template: str, option: str) -> set[str]:
    """The ``{fields}`` of a header/cookie template; only {user} and {token} are allowed."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"{option}: {exc} (write a literal brace as {{{{ or }}}})") from None
    names = {name for _, name, _, _ in parsed if name is not None}
    unknown = names - TEMPLATE_FIELDS
    if unknown:
        raise ValueError(
            f"{option}: unknown placeholder {{{sorted(unknown)[0]}}}; only {{user}} and "
            "{token} are filled in"
        )
    return names


def _template_pair(value: str, separator: str, option: str, form: str) -> tuple[str, str]:
    """``name<separator>template`` as ``(name, template)``; the error quotes the name only
    (the value is a secret)."""
    name, sep, rest = value.partition(separator)
    name = name.strip()
    if not sep or not HEADER_NAME.match(name) or any(c in rest for c in "\r\n"):
        shown = f"name {name!r}" if sep else f"a value without {separator!r}"
        raise ValueError(f"{option} must be {form}, got {shown}")
    template_fields(rest, option)
    return name, rest.strip()


def parse_header(value: str) -> tuple[str, str]:
    """``'Name: value'`` as ``(name, value)``.

    Raises:
        ValueError: naming ``--header`` when it is not ``Name: value``.
    """
    return _template_pair(value, ":", "--header", "'Name: value' with a header name")


def format_header(pair: tuple[str, str]) -> str:
    return f"{pair[0]}: {pair[1]}"


def parse_cookie(value: str) -> tuple[str, str]:
    """``'name=value'`` as ``(name, value)``.

    Raises:
        ValueError: naming ``--cookie`` when it is not ``name=value`` (no ``;`` in it).
    """
    if ";" in value:
        raise ValueError("--cookie must be 'name=value' without ';' (one cookie an option)")
    return _template_pair(value, "=", "--cookie", "'name=value' without ';'")


def format_cookie(pair: tuple[str, str]) -> str:
    return f"{pair[0]}={pair[1]}"


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


def format_slo(pair: tuple[str, float]) -> str:
    name, ms = pair
    short = f"{ms:g}"
    return f"{name}={short if float(short) == ms else repr(ms)}"


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


# How the repeatable options read and write one value.
_LIST_VALUES: Final = {
    "header": (parse_header, format_header),
    "cookie": (parse_cookie, format_cookie),
    "slo_p95": (parse_slo, format_slo),
}


def declare(
    default: Any,
    help_text: str,
    *,
    env: str = "",
    secret: bool = False,
    web_ui: bool = True,
    cli: bool | str = False,
    group: Group | None = None,
    local: Any = None,
    duration: bool = False,
    cli_help: str = "",
    metavar: str | None = None,
) -> Any:
    """A scenario setting: a Locust option ``--<field>`` and ``CHATKIT_LT_<env or FIELD>``.

        ``secret``: never on a command line or in a written file (Locust's environment only).
        ``web_ui``: shown in Locust's web UI. ``cli``: offered by ``chatkit-pg loadtest`` in
        ``group`` (True: under the same name; a string: under that name; a boolean setting is a
        switch that flips its default). ``local``: the default of ``chatkit-pg loadtest``'s
        local run where it differs. ``duration``: the CLI reads it as ``30s``/``1m``. ``cli_help``
    and ``metavar``: how the CLI shows it, where that differs.
    """
    return field(
        default=default,
        repr=not secret,
        metadata={
            "help": help_text,
            "env": env,
            "secret": secret,
            "web_ui": web_ui,
            "cli": cli,
            "group": group,
            "local": local,
            "duration": duration,
            "cli_help": cli_help,
            "metavar": metavar,
        },
    )


def option_name(name: str) -> str:
    """The Locust option of field ``name``: ``seed_threads`` -> ``--seed-threads``."""
    return "--" + name.replace("_", "-")


def env_name(setting: Field[Any]) -> str:
    """The environment variable of a setting: ``CHATKIT_LT_`` + its ``env`` or its name."""
    return ENV_PREFIX + (setting.metadata["env"] or setting.name.upper())


def text_default(setting: Field[Any]) -> Any:
    """A setting's default as Locust's parser holds it (``true``/``false``, ``[]``)."""
    if isinstance(setting.default, bool):
        return "true" if setting.default else "false"
    if isinstance(setting.default, tuple):
        return []
    return setting.default


def as_text(setting: Field[Any], value: Any) -> list[str]:
    """A parsed value as the option texts that give it back (none for an empty one)."""
    if isinstance(setting.default, tuple):
        _, write = _LIST_VALUES[setting.name]
        return [write(pair) for pair in value]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [] if value == "" else [str(value)]


def parse_value(setting: Field[Any], raw: Any) -> Any:
    """A setting's value from text (or an already typed value).

    Raises:
        ValueError: naming the option.
    """
    option = option_name(setting.name)
    if isinstance(setting.default, tuple):
        read, _ = _LIST_VALUES[setting.name]
        return tuple(read(text) if isinstance(text, str) else tuple(text) for text in raw or ())
    if isinstance(setting.default, bool):
        return raw if isinstance(raw, bool) else parse_on_off(raw, option)
    kind = type(setting.default)
    try:
        return kind(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{option} must be a {kind.__name__}, got {raw!r}") from None
