"""docker-compose.yml and the Dockerfile are wired as documented (parsed, not run)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def command(service: dict[str, Any]) -> list[str]:
    value = service.get("command", [])
    return value.split() if isinstance(value, str) else [str(v) for v in value]


def test_services_and_wiring() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "server", "master", "worker"}

    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])

    server = services["server"]
    assert server["build"] == "."
    assert server["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "@postgres:5432/" in server["environment"]["CHATKIT_PG_DSN"]
    assert "/healthz" in " ".join(server["healthcheck"]["test"])

    master = services["master"]
    args = command(master)
    assert "--master" in args and args[args.index("--host") + 1] == "http://server:8000"
    assert "loadtest/scenarios/locustfile.py" in args
    assert any(p.endswith(":8089") or p.endswith(":8089:8089") for p in master["ports"])
    assert master["depends_on"]["server"]["condition"] == "service_healthy"

    worker = services["worker"]
    args = command(worker)
    assert "--worker" in args and args[args.index("--master-host") + 1] == "master"
    # scalable: no fixed name and no host ports
    assert "container_name" not in worker and "ports" not in worker
    # images: the server builds it, Locust services reuse it
    assert master["image"] == worker["image"] == server["image"]


def test_dockerfile_installs_the_package() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11" in text
    assert 'pip install ".[harness]"' in text
    assert "chatkit-pg serve" in text and "0.0.0.0" in text
    package_dirs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"
    ]
    for folder in package_dirs.values():  # every folder the chatkit_pg namespace maps
        assert f"COPY {folder} ./{folder}" in text


def header_commands() -> list[str]:
    """The ``docker compose`` commands in the file's header comment."""
    header = []
    for line in (ROOT / "docker-compose.yml").read_text().splitlines():
        if not line.startswith("#"):
            break
        header.append(line.lstrip("#").strip())
    return [line for line in header if "docker compose " in line and not line.startswith("open")]


def test_the_header_commands_are_the_readmes() -> None:
    readme = (ROOT / "loadtest" / "README.md").read_text()
    commands = header_commands()
    assert len(commands) == 3, commands
    for command_line in commands:
        assert f"\n{command_line}" in readme, command_line


def test_locust_settings_reach_master_and_workers() -> None:
    """Headless runs set LOCUST_* and CHATKIT_LT_* in the shell: both services pass the same
    names through, and every CHATKIT_LT_* one is a setting of the locustfile."""
    from chatkit_pg.loadtest.scenarios.option_values import env_name
    from chatkit_pg.loadtest.scenarios.settings import declared

    services = compose()["services"]
    passed = services["master"]["environment"]
    assert passed == services["worker"]["environment"]
    assert all("=" not in name for name in passed)  # unset in the shell: unset in Locust
    known = {env_name(setting) for setting in declared()}
    ours = {name for name in passed if name.startswith("CHATKIT_LT_")}
    assert ours and ours <= known, ours - known
    used = " ".join(header_commands())
    assert all(name in passed for name in re.findall(r"\b((?:LOCUST|CHATKIT_LT)_[A-Z_]+)=", used))
