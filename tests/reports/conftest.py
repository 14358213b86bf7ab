"""Fixtures for the report tests: private copies of the checked-in fixture results.

The report writes into its results folder, so every test works on a copy in ``tmp_path``
and the checked-in files stay untouched.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from chatkit_pg.reports.build import BuiltReport, build

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def run_a(tmp_path: Path) -> Path:
    """A complete results folder (copy)."""
    return Path(shutil.copytree(FIXTURES / "run_a", tmp_path / "run_a"))


@pytest.fixture
def run_b(tmp_path: Path) -> Path:
    """The baseline results folder with the planted regressions (copy)."""
    return Path(shutil.copytree(FIXTURES / "run_b", tmp_path / "run_b"))


@pytest.fixture(scope="session")
def built_a(tmp_path_factory: pytest.TempPathFactory) -> BuiltReport:
    """run_a built once per session (figures take a few seconds); treat as read-only."""
    folder = tmp_path_factory.mktemp("built") / "run_a"
    shutil.copytree(FIXTURES / "run_a", folder)
    return build(folder)


@pytest.fixture
def remove(run_a: Path) -> Callable[[str], Path]:
    """Delete one part (file or folder) of the run_a copy and return the folder."""

    def _remove(relative: str) -> Path:
        target = run_a / relative
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()
        return run_a

    return _remove
