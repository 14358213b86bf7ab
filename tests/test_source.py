"""The source itself: no SQL built from values by string formatting, and typed store code."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from chatkit_pg import sql

ROOT = Path(__file__).resolve().parents[1]


def test_no_sql_is_built_by_string_formatting() -> None:
    """ruff's S608 flags SQL assembled with f-strings, % or .format anywhere in the tree."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    done = subprocess.run(
        [ruff, "check", "--select", "S608", "--output-format", "concise", str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_store_sql_is_constant_apart_from_the_two_sort_directions() -> None:
    """Every statement in store/sql.py is a literal or one of the per-direction variants."""
    tree = ast.parse(Path(sql.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            pytest.fail(f"f-string at store/sql.py:{node.lineno}")
    for name, value in vars(sql).items():
        if name.endswith("_SQL") and isinstance(value, dict):
            assert set(value) == {"asc", "desc"}, name


def test_store_type_checks() -> None:
    mypy = shutil.which("mypy", path=str(Path(sys.executable).parent))
    if mypy is None:
        pytest.skip("mypy is not installed")
    done = subprocess.run(
        [mypy, "store", "harness", "cli", "reports"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _setuptools_table() -> dict[str, object]:
    return dict(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"])


def test_every_package_folder_is_installed_under_chatkit_pg() -> None:
    """Each folder with an __init__.py below a mapped folder is a listed chatkit_pg.* package."""
    table = _setuptools_table()
    package_dir: dict[str, str] = table["package-dir"]  # type: ignore[assignment]
    expected = set()
    for package, folder in package_dir.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            expected.add(".".join((package, *relative)))
    assert set(table["packages"]) == expected  # type: ignore[arg-type]
    assert all(name == "chatkit_pg" or name.startswith("chatkit_pg.") for name in expected)


def test_the_library_exports_what_it_lists() -> None:
    import chatkit_pg

    assert sorted(chatkit_pg.__all__) == sorted(chatkit_pg._EXPORTS)
    for name in chatkit_pg.__all__:
        assert getattr(chatkit_pg, name) is not None


def test_no_child_process_gets_a_dsn_on_its_command_line() -> None:
    """Command lines are readable by anyone with ps: DSNs travel in the environment.

    Only the option's definition may spell ``--dsn``; the command the load test starts its
    server with carries no DSN, whatever the settings hold.
    """
    spelled = [
        path.relative_to(ROOT).as_posix()
        for folder in ("cli", "loadtest", "harness", "bench")
        for path in (ROOT / folder).rglob("*.py")
        if '"--dsn"' in path.read_text()
    ]
    assert spelled == ["cli/commands/_common.py"]

    from chatkit_pg.loadtest.orchestration.run import serve_command
    from chatkit_pg.loadtest.server.settings import ServerSettings

    dsn = "postgresql://app:s3cret@db.example.com:5432/chatkit"
    command = serve_command(ServerSettings(dsn=dsn), 8123, 2)
    assert not any("s3cret" in part or "db.example.com" in part for part in command), command
