"""The SDK's own test suites pass with ``PostgresStore`` in the slot of the SDK's test store.

``tests/test_store.py``, ``tests/test_chatkit_server.py`` and ``tests/test_agents.py`` of the
installed openai-chatkit's sdist, downloaded from the package registry at test time
(:mod:`tests.sdk.suites`), each run against this session's server: PostgreSQL 18 by default,
15 and PgBouncer in their legs of ``make test``. Every SDK test must pass, except the listed
known differences, which must fail exactly as documented. Offline, this skips saying so; in
CI it fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatkit_pg.harness.provision import PostgresServer

from .requirements import missing
from .sdk.known_differences import KNOWN_DIFFERENCES, KnownDifference
from .sdk.suites import (
    SUITES,
    Outcome,
    SdistUnavailableError,
    download_sdk_tests,
    problems,
    run_suite,
)


@pytest.fixture(scope="session")
def sdk_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        return download_sdk_tests(tmp_path_factory.mktemp("openai_chatkit_sdist"))
    except SdistUnavailableError as exc:
        missing(f"{exc}: the SDK's suites come from the package registry (pip must reach it)")


@pytest.mark.timeout(1500)
@pytest.mark.parametrize("suite", SUITES)
def test_the_sdks_own_suite_passes_with_our_store(
    suite: str,
    sdk_root: Path,
    pg_server: PostgresServer,
    template_database: str,
    store_options: dict[str, Any],
    tmp_path: Path,
) -> None:
    env = {
        "CHATKIT_PG_SDK_ADMIN_DSN": pg_server.dsn,
        "CHATKIT_PG_SDK_TEMPLATE": template_database,
        "CHATKIT_PG_SDK_CLIENT_DSN": pg_server.client_dsn(
            pg_server.database_dsn(template_database)
        ),
        "CHATKIT_PG_SDK_PGBOUNCER": "true" if store_options.get("pgbouncer") else "false",
    }
    log = tmp_path / f"{suite}.log"
    outcomes = run_suite(sdk_root, suite, env, tmp_path / f"{suite}.xml", log)
    known = [difference for difference in KNOWN_DIFFERENCES if difference.suite == suite]
    assert len(outcomes) > 10, f"{suite} ran only {len(outcomes)} tests:\n{log.read_text()}"
    assert problems(outcomes, known) == []
    print(f"the SDK's {suite}: {len(outcomes) - len(known)} passed, {len(known)} known differences")


def test_a_known_difference_must_fail_exactly_as_documented() -> None:
    documented = KnownDifference("s", "T::test_x", r"Thread \S+ not found", "wording")
    as_documented = Outcome("T::test_x", "failed", "AssertionError: Thread thr_1 not found")
    assert problems({"T::test_x": as_documented}, [documented]) == []
    for outcome in (
        Outcome("T::test_x", "passed", ""),
        Outcome("T::test_x", "failed", "KeyError: 'user_id'"),
        Outcome("T::test_x", "error", "Thread thr_1 not found"),
    ):
        assert len(problems({"T::test_x": outcome}, [documented])) == 1
    assert len(problems({}, [documented])) == 1  # the test was renamed or removed
    unknown = Outcome("T::test_y", "failed", "boom")
    assert problems({"T::test_y": unknown, "T::test_x": as_documented}, [documented]) == [
        "T::test_y: failed: boom"
    ]
