"""What a test needs beyond Python: skipped with the reason here, a failure in CI.

``make test`` must pass on a machine that has only Python 3.11+, so a test that needs Debian's
PostgreSQL 15, PgBouncer, Chromium or the package registry skips there, saying what is
missing and how to enable it. CI (``CI=true``, as ``.ci/run`` runs) installs all of them, so
there a missing one is a failure: a leg that CI is meant to run can never pass by skipping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, TypeVar

import pytest

from chatkit_pg.harness.provision import MissingProgramError, flag

T = TypeVar("T")


def in_ci() -> bool:
    """Whether this is a CI run (``CI=true``), where nothing the README's legs need may skip."""
    return flag("CI")


def missing(reason: str) -> NoReturn:
    """Skip (in CI: fail) for ``reason``, which says what is missing and how to enable it."""
    if in_ci():
        pytest.fail(f"CI must run this, but: {reason}")
    pytest.skip(f"not run here (CI runs it): {reason}")


def need(probe: Callable[[], T]) -> T:
    """``probe()``, or skip (in CI: fail) with its :class:`MissingProgramError` message."""
    try:
        return probe()
    except MissingProgramError as exc:
        missing(str(exc))
