"""The scenario settings are declared once: everything else is derived and agrees.

Locust's options, the ``CHATKIT_LT_*`` variables, the options of ``chatkit-pg loadtest``,
what it hands its Locust (command line and environment) and what may be written all come
from ``ScenarioSettings``'s declaration; these tests hold the derived views to it.
"""

from __future__ import annotations

import argparse
import configparser
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chatkit_pg.cli.commands.loadtest import scenario_of
from chatkit_pg.cli.main import build_parser
from chatkit_pg.loadtest.orchestration.config import CapacityOptions, local_scenario
from chatkit_pg.loadtest.orchestration.locust_command import LOCUST_CONF
from chatkit_pg.loadtest.scenarios.capacity_steps import Ramp
from chatkit_pg.loadtest.scenarios.option_values import env_name, option_name, text_default
from chatkit_pg.loadtest.scenarios.settings import (
    REDACTED,
    ScenarioSettings,
    add_arguments,
    declared,
    from_values,
)

SECRETS = {
    "auth_token": "tok-s3cret",
    "auth_template": "Token {token}",
    "header": ["X-Api-Key: hdr-s3cret"],
    "cookie": ["sid=ck-s3cret"],
}
# The variable names users already set; the rest are CHATKIT_LT_<FIELD>.
HISTORICAL_ENV = {
    "chatkit_path": "CHATKIT_LT_PATH",
    "request_timeout": "CHATKIT_LT_TIMEOUT",
    "message_min_chars": "CHATKIT_LT_MESSAGE_MIN",
    "message_max_chars": "CHATKIT_LT_MESSAGE_MAX",
    "seed_thread_length": "CHATKIT_LT_SEED_LENGTH",
    "header": "CHATKIT_LT_HEADERS",
    "cookie": "CHATKIT_LT_COOKIES",
}
# Options of Locust itself that locust.conf may set.
LOCUST_KEYS = {"users", "spawn-rate", "run-time", "stop-timeout"}


class LocustLikeParser:
    """Locust's parser as the settings use it: ``env_var`` is a default, and
    ``include_in_web_ui``/``is_secret`` are accepted (configargparse's behaviour)."""

    def __init__(self) -> None:
        self.parser = argparse.ArgumentParser()
        self.env: dict[str, str] = {}
        self.secret: set[str] = set()
        self.hidden: set[str] = set()

    def add_argument(self, name: str, *, env_var: str, include_in_web_ui: bool,
                     is_secret: bool, **kwargs: Any) -> None:  # fmt: skip
        action = self.parser.add_argument(name, **kwargs)
        self.env[action.dest] = env_var
        if is_secret:
            self.secret.add(action.dest)
        if not include_in_web_ui:
            self.hidden.add(action.dest)

    def parse(self, argv: list[str], environ: dict[str, str]) -> argparse.Namespace:
        import json

        options = self.parser.parse_args(argv)
        for dest, variable in self.env.items():
            if variable in environ and getattr(options, dest) in (None, [], text_default_of(dest)):
                raw = environ[variable]
                setattr(options, dest, json.loads(raw) if raw.startswith("[") else raw)
        return options


def text_default_of(name: str) -> Any:
    return next(text_default(f) for f in declared() if f.name == name)


def parse_cli(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["loadtest", *argv])


def test_command_line_and_environment_give_the_same_settings_back() -> None:
    settings = from_values(
        **SECRETS, think_min=0.1, think_max=0.3, seed="true", slo_p95=["ttft x=1500.5"],
        chatkit_path="/api/chatkit",
    )  # fmt: skip
    parser = LocustLikeParser()
    add_arguments(parser)
    parsed = parser.parse(settings.to_options(), settings.to_env())
    assert ScenarioSettings.from_options(parsed) == settings


def test_secrets_go_through_the_environment_only() -> None:
    settings = from_values(**SECRETS)
    written = " ".join(settings.to_options()) + repr(settings.redacted()) + repr(settings)
    assert "s3cret" not in written
    assert set(settings.to_env()) == {env_name(f) for f in declared() if f.name in SECRETS}
    assert "tok-s3cret" in settings.to_env()["CHATKIT_LT_AUTH_TOKEN"]
    redacted = settings.redacted()
    assert redacted["auth_token"] == REDACTED
    assert redacted["header"] == [f"X-Api-Key: {REDACTED}"]  # the name stays
    parser = LocustLikeParser()
    add_arguments(parser)
    assert parser.secret == set(SECRETS)  # masked in Locust's web UI too
    assert set(SECRETS) - {"auth_template", "auth_token"} <= parser.hidden


def test_environment_variable_names() -> None:
    names = {f.name: env_name(f) for f in declared()}
    assert len(set(names.values())) == len(names)
    for name, variable in names.items():
        assert variable == HISTORICAL_ENV.get(name, f"CHATKIT_LT_{name.upper()}")


def test_the_commands_defaults_are_the_declared_ones() -> None:
    remote = scenario_of(parse_cli("--host", "http://127.0.0.1:9"), remote=True)
    assert remote == ScenarioSettings()
    local = scenario_of(parse_cli(), remote=False)
    assert (local.seed_threads, local.seed_thread_length) == (2, 2000)
    assert local == replace(ScenarioSettings(), seed_threads=2, seed_thread_length=2000)
    assert local == local_scenario()
    ramp = CapacityOptions()
    assert (ramp.start_users, ramp.max_users, ramp.step_users) == (10, 200, 10)


def test_the_command_reads_the_environment_and_its_switches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHATKIT_LT_THINK_MAX", "4.5")
    monkeypatch.setenv("CHATKIT_LT_HEADERS", '["X-Tenant: {user}"]')
    args = parse_cli("--insecure", "--seed", "--capacity-step-duration", "1m", "--host", "x")
    settings = scenario_of(args, remote=True)
    assert settings.think_max == 4.5
    assert settings.header == (("X-Tenant", "{user}"),)
    assert settings.tls_verify is False and settings.seed is True
    assert settings.step_duration == 60.0
    assert scenario_of(parse_cli("--seed"), remote=False).seed is False  # seeds via the store


def test_a_bad_value_names_the_commands_option() -> None:
    args = parse_cli("--find-capacity", "--capacity-start-users", "50", "--capacity-max-users", "5")
    with pytest.raises(SystemExit, match="--capacity-start-users <= --capacity-max-users"):
        scenario_of(args, remote=False)
    with pytest.raises(SystemExit, match="--hot-threads must be at least 1"):
        scenario_of(parse_cli("--hot-threads", "0"), remote=False)
    with pytest.raises(ValueError, match="--capacity-max-users"):
        CapacityOptions(start_users=10, max_users=5)


def test_the_ramp_is_written_once() -> None:
    ramp = Ramp(start_users=10, step_users=30, step_duration_s=5.0, max_users=250, spawn_rate=1)
    assert ramp.steps == 9 and ramp.longest_s == 45.0
    assert [ramp.users_at(i) for i in (0, 1, 8, 9)] == [10, 40, 250, 250]
    assert ramp.index_at(9.99) == 1
    options = CapacityOptions(start_users=10, step_users=30, max_users=250, step_duration=5.0)
    assert options.steps == ramp.steps
    assert Ramp.of(replace(ScenarioSettings(), **options.scenario_values())) == replace(
        ramp, spawn_rate=options.spawn_rate
    )


def test_locust_conf_sets_only_locust_options_or_declared_defaults() -> None:
    conf = configparser.ConfigParser()
    conf.read_string("[top]\n" + Path(LOCUST_CONF).read_text())
    declared_defaults = {option_name(f.name)[2:]: str(text_default(f)) for f in declared()}
    for key, value in conf["top"].items():
        if key in LOCUST_KEYS:
            continue
        assert key in declared_defaults, f"locust.conf: {key} is no option"
        assert value == declared_defaults[key], f"locust.conf: {key} = {value} is not its default"


def test_every_setting_offered_by_the_command_is_documented(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        parse_cli("--help")
    text = capsys.readouterr().out
    for f in declared():
        if f.metadata["cli"]:
            name = f.metadata["cli"] if isinstance(f.metadata["cli"], str) else option_name(f.name)
            assert name in text
            assert env_name(f) in text


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("header", "X-Key hdr-s3cret", "--header must be 'Name: value'"),
        ("header", "Bad Name: hdr-s3cret", "--header must be 'Name: value'"),
        ("header", "X-Key: hdr-s3cret\r\nX-Evil: 1", "--header must be 'Name: value'"),
        ("cookie", "sid=ck-s3cret; other=1", "--cookie must be 'name=value' without ';'"),
        ("cookie", "sid ck-s3cret", "--cookie must be 'name=value'"),
        ("header", "X-Key: {password}", "--header: unknown placeholder {password}"),
        ("slo_p95", "ttft=0", "--slo-p95 must be 'NAME=MS' with MS > 0"),
    ],
)
def test_a_bad_value_is_named_and_never_quoted(option: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        from_values(**{option: [value]})
    assert "s3cret" not in str(caught.value)
