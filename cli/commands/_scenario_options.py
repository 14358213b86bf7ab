"""The scenario settings as options of ``chatkit-pg loadtest``, built from their one
declaration (``loadtest/scenarios/settings.py``) and read back as field values.

An option not given takes its ``CHATKIT_LT_*`` variable when set (a repeatable one as a
JSON list of strings), else the declared default (a local run's own where it has one). A
boolean setting is a switch that flips its default (``--insecure`` turns TLS verification
off). Only parsing happens here; the values are checked once, by ``ScenarioSettings``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import Field
from typing import Any

from chatkit_pg.loadtest.scenarios.option_values import env_name, text_default
from chatkit_pg.loadtest.scenarios.settings import cli_name, declared


def add_scenario_options(groups: Mapping[str, argparse._ArgumentGroup]) -> None:
    """One option per setting the declaration offers, in its group (``target``, ``load``
    or ``capacity``)."""
    for setting in declared():
        name = cli_name(setting)
        if name is None:
            continue
        meta, env = setting.metadata, env_name(setting)
        group = groups[meta["group"]]
        shown = {"dest": setting.name, "help": _help(setting, env)}
        if not isinstance(setting.default, bool):
            shown["metavar"] = meta["metavar"] or name.lstrip("-").replace("-", "_").upper()
        from_env = os.environ.get(env) or None
        if isinstance(setting.default, bool):
            flipped = "false" if setting.default else "true"
            group.add_argument(name, action="store_const", const=flipped, default=from_env, **shown)
        elif isinstance(setting.default, tuple):
            group.add_argument(name, action="append", default=_env_list(env), **shown)
        else:
            group.add_argument(name, type=_reader(setting), default=from_env, **shown)


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given by option or environment (field name -> value), for
    ``from_values``; the others keep their declared defaults."""
    given = {}
    for setting in declared():
        value = getattr(args, setting.name, None) if cli_name(setting) else None
        if value is not None:
            given[setting.name] = value
    return given


def _help(setting: Field[Any], env: str) -> str:
    meta = setting.metadata
    text = meta["cli_help"] or meta["help"]
    if isinstance(setting.default, bool | tuple) or setting.default == "":
        return f"{text} (env {env})"
    default = text_default(setting)
    if meta["local"] is not None:
        return f"{text} (default {meta['local']}; --host: {default}; env {env})"
    return f"{text} (default {default!r}; env {env})"


def _reader(setting: Field[Any]) -> Callable[[str], Any]:
    if not setting.metadata["duration"]:
        return type(setting.default)

    def seconds(text: str) -> float:
        from chatkit_pg.loadtest.orchestration.chaos import parse_seconds

        try:
            return parse_seconds(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return seconds


def _env_list(name: str) -> list[str]:
    value = os.environ.get(name, "")
    if not value:
        return []
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if not isinstance(parsed, list):
        raise SystemExit(f"chatkit-pg loadtest: {name} must be a JSON list of strings")
    return [str(v) for v in parsed]
