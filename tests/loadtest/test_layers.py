"""The Locust side imports nothing of the orchestration, the server, the store or a driver.

Locust processes run under gevent; asyncpg, SQLAlchemy or asyncio server code imported
there would be monkey-patched into trouble, and a Locust worker on another machine needs
nothing but Locust. A fresh interpreter imports every scenario module and lists what came
with them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Final

SCENARIO_MODULES: Final = (
    "locustfile",
    "shapes",
    "capacity",
    "capacity_steps",
    "client",
    "sse",
    "acks",
    "seed_http",
    "settings",
)
# The only chatkit_pg modules the Locust side may load: its own and the plain vocabulary.
ALLOWED: Final = (
    "chatkit_pg",
    "chatkit_pg.harness",
    "chatkit_pg.harness.vocabulary",
    "chatkit_pg.loadtest",
    "chatkit_pg.loadtest.scenarios",
)
FORBIDDEN_PACKAGES: Final = ("asyncpg", "sqlalchemy", "alembic", "fastapi", "uvicorn", "chatkit")

PROBE: Final = f"""
import importlib, json, sys
for name in {SCENARIO_MODULES!r}:
    importlib.import_module("chatkit_pg.loadtest.scenarios." + name)
print(json.dumps(sorted(sys.modules)))
"""


def test_scenarios_import_no_store_server_or_driver() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    ours = [m for m in modules if m.split(".")[0] == "chatkit_pg"]
    foreign = [
        m for m in ours if m not in ALLOWED and not m.startswith("chatkit_pg.loadtest.scenarios.")
    ]
    assert not foreign, f"the Locust side imported {foreign}"
    drivers = sorted({m.split(".")[0] for m in modules} & set(FORBIDDEN_PACKAGES))
    assert not drivers, f"the Locust side imported {drivers}"
    assert "locust" in modules  # the probe did import the locustfile
