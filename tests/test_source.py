"""The source itself: no SQL built from values by string formatting, and typed store code."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from store import sql

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
        [mypy, "store", "chatkit_pg"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
