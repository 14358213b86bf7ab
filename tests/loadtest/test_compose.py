"""docker-compose.yml and the Dockerfile are wired as documented (parsed, not run)."""

from __future__ import annotations

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
