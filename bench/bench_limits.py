"""The database's own limit, same run, same server: what each Python layer costs.

One client appends items to its own thread through, from the floor up: the store's exact
statement on a raw asyncpg connection; BEGIN/SELECT/INSERT/COMMIT on raw asyncpg; the same
two through SQLAlchemy Core; the design sketch's ORM path; and the store itself. pgbench
(``-M prepared``) runs the equivalent workloads at the bench's client counts on the same
server (``bench/pgbench.json``). summary.json turns these into the issue's ratios.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg
import pytest
from chatkit.types import ThreadItem, ThreadMetadata
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from chatkit_pg import sql
from chatkit_pg.engine import async_url
from chatkit_pg.harness.provision import ProvisioningError
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import (
    ADD_ITEM_COUNTER_SQL_LABEL,
    ADD_THREAD_ITEM,
    BEGIN_SELECT_INSERT_COMMIT,
    LIMIT,
    LIMIT_PATHS,
    MIXED_PAGE,
    ORM_SKETCH,
    PGBENCH_COUNTER,
    RAW_ASYNCPG,
    SESSION_GET_ADD_COMMIT,
    SQLALCHEMY_CORE,
    STORE,
)

from . import baselines, pgbench_runner
from .databases import BenchDatabases
from .measure import record, time_reads, timed_stats
from .mixed_items import mixed_items
from .profiles import Profile
from .seed import make_item
from .writers import WRITER_CONTEXT

USER = WRITER_CONTEXT["user_id"]
THREAD_ITEM: Final = TypeAdapter(ThreadItem)  # what the store validates each row with


@dataclass
class Limits:
    """The module's database, one store and one raw connection on it, and an item source."""

    dsn: str
    store: Any
    raw: asyncpg.Connection
    engine: AsyncEngine
    rng: random.Random

    def thread(self, loop: asyncio.AbstractEventLoop, label: str) -> str:
        thread_id = f"thr_limit_{label}"
        loop.run_until_complete(
            self.store.save_thread(
                ThreadMetadata(id=thread_id, created_at=datetime.now(UTC)), WRITER_CONTEXT
            )
        )
        return thread_id

    def item(self, thread_id: str) -> ThreadItem:
        # Short user messages: the row the pgbench scripts insert is of the same kind.
        item_id = f"msg_{self.rng.getrandbits(96):024x}"
        return make_item(self.rng, thread_id, item_id, 0, datetime.now(UTC))


@pytest.fixture(scope="module")
def limits(databases: BenchDatabases, loop: asyncio.AbstractEventLoop) -> Iterator[Limits]:
    dsn = databases.scratch("bench_limits")
    store = databases.store(dsn, pool_size=1)
    raw = loop.run_until_complete(asyncpg.connect(dsn))
    engine = create_async_engine(async_url(dsn), pool_size=1, max_overflow=0)
    try:
        yield Limits(dsn, store, raw, engine, random.Random(4))
    finally:
        loop.run_until_complete(raw.close())
        loop.run_until_complete(engine.dispose())


def _insert(
    benchmark: Any,
    loop: asyncio.AbstractEventLoop,
    profile: Profile,
    make_args: Callable[[], tuple[Any, ...]],
    call: Callable[..., Any],
    method: str,
    query: str,
) -> None:
    benchmark.group = "limit add_item 1 client"
    benchmark.pedantic(
        lambda *args: loop.run_until_complete(call(*args)),
        setup=lambda: (make_args(), {}),
        rounds=profile.single_rounds,
        warmup_rounds=min(20, profile.single_rounds),
    )
    record(
        benchmark,
        profile.name,
        kind=LIMIT,
        method=method,
        strategy="counter" if "counter" in query or method == STORE else None,
        concurrency=1,
        query=query,
        **timed_stats(benchmark),
    )


InsertCall = tuple[Callable[[], tuple[Any, ...]], Callable[..., Any]]


def insert_paths(limits: Limits, thread_id: str) -> dict[tuple[str, str], InsertCall]:
    """Every insert path of ``LIMIT_PATHS`` (method, query): the arguments of one call (a
    fresh item each) and what it calls, appending to ``thread_id``."""

    def params() -> dict[str, Any]:
        return baselines.item_params(thread_id, USER, limits.item(thread_id))

    def core_args() -> tuple[Any, ...]:
        item = limits.item(thread_id)
        params = baselines.item_params(thread_id, USER, item)
        return limits.engine, params, item.model_dump(mode="json")

    sessions = baselines.orm_sessions(limits.engine)
    return {
        # BEGIN; SELECT max(sort_key)+1; INSERT; COMMIT (four round trips)
        (RAW_ASYNCPG, BEGIN_SELECT_INSERT_COMMIT): (
            lambda: (limits.raw, params()),
            baselines.raw_two_step_insert,
        ),
        # the store's ADD_ITEM_COUNTER_SQL, one statement, implicit transaction
        (RAW_ASYNCPG, ADD_ITEM_COUNTER_SQL_LABEL): (
            lambda: (limits.raw, params()),
            baselines.raw_counter_insert,
        ),
        # engine.begin(); SELECT max()+1; insert(); commit
        (SQLALCHEMY_CORE, BEGIN_SELECT_INSERT_COMMIT): (core_args, baselines.core_two_step_insert),
        # the store's counter statement as text() inside engine.begin()
        (SQLALCHEMY_CORE, ADD_ITEM_COUNTER_SQL_LABEL): (
            lambda: (limits.engine, params()),
            baselines.core_counter_insert,
        ),
        # the design sketch's ORM path: session.get(thread) + session.add(item) + commit
        (ORM_SKETCH, SESSION_GET_ADD_COMMIT): (
            lambda: (sessions, thread_id, USER, limits.item(thread_id)),
            baselines.orm_sketch_insert,
        ),
        # PostgresStore.add_thread_item (default strategy), warm pool
        (STORE, ADD_THREAD_ITEM): (
            lambda: (thread_id, limits.item(thread_id), WRITER_CONTEXT),
            limits.store.add_thread_item,
        ),
    }


@pytest.mark.benchmark(group="limit")
@pytest.mark.parametrize(("method", "query"), LIMIT_PATHS)
def test_insert(
    benchmark: Any, loop: Any, limits: Limits, profile: Profile, method: str, query: str
) -> None:
    """One client appending to its own thread through one insert path, floor to store."""
    thread_id = limits.thread(loop, f"{method}_{query}")
    make_args, call = insert_paths(limits, thread_id)[(method, query)]
    _insert(benchmark, loop, profile, make_args, call, method, query)


MIXED_PAGE_SIZE: Final = 50


@pytest.fixture(scope="module")
def mixed_thread(loop: asyncio.AbstractEventLoop, limits: Limits) -> str:
    """A thread of mixed SDK items (widgets, workflows, tool calls, messages, tasks)."""
    thread_id = limits.thread(loop, "mixed_page")
    for item in mixed_items(thread_id, MIXED_PAGE_SIZE + 10, datetime.now(UTC)):
        loop.run_until_complete(limits.store.add_thread_item(thread_id, item, WRITER_CONTEXT))
    return thread_id


def _page(benchmark: Any, loop: Any, profile: Profile, call: Callable[[], Any], method: str) -> Any:
    page = time_reads(benchmark, loop, profile, call)
    record(
        benchmark,
        profile.name,
        kind=LIMIT,
        method=method,
        query=MIXED_PAGE,
        page_size=MIXED_PAGE_SIZE,
        order="desc",
        **timed_stats(benchmark),
    )
    return page


@pytest.mark.benchmark(group="limit page")
def test_store_mixed_page(
    benchmark: Any, loop: Any, limits: Limits, profile: Profile, mixed_thread: str
) -> None:
    """PostgresStore.load_thread_items: the newest 50 mixed items of a thread."""
    page = _page(
        benchmark,
        loop,
        profile,
        lambda: limits.store.load_thread_items(
            mixed_thread, None, MIXED_PAGE_SIZE, "desc", WRITER_CONTEXT
        ),
        STORE,
    )
    assert len(page.data) == MIXED_PAGE_SIZE


@pytest.mark.benchmark(group="limit page")
def test_floor_mixed_page(
    benchmark: Any, loop: Any, limits: Limits, profile: Profile, mixed_thread: str
) -> None:
    """The floor: raw asyncpg fetching the same rows, pydantic validating the same JSON."""
    statement = sql.SELECT_ITEMS_FIRST_PAGE_SQL["desc"]
    fetch = MIXED_PAGE_SIZE + 1

    async def floor() -> list[ThreadItem]:
        rows = await limits.raw.fetch(statement, mixed_thread, USER, fetch)
        return [THREAD_ITEM.validate_json(row["data"]) for row in rows[:MIXED_PAGE_SIZE]]

    items = _page(benchmark, loop, profile, floor, RAW_ASYNCPG)
    assert len(items) == MIXED_PAGE_SIZE


def test_pgbench_limit(
    pytestconfig: pytest.Config,
    loop: asyncio.AbstractEventLoop,
    databases: BenchDatabases,
    profile: Profile,
) -> None:
    """pgbench -M prepared: one-row insert and the hot-thread counter, same client counts."""
    try:
        pgbench = pgbench_runner.find_pgbench(databases.server)
    except ProvisioningError as exc:
        pytest.skip(f"no pgbench for the database's own limit: {exc}")
    dsn = databases.scratch("bench_pgbench")
    conn = loop.run_until_complete(asyncpg.connect(dsn))
    try:
        loop.run_until_complete(pgbench_runner.prepare_database(conn))
        scripts = pgbench_runner.write_scripts(
            databases.results.directory(RunFolder.PGBENCH_SCRIPTS_DIR)
        )
        runs = [
            pgbench_runner.run(pgbench, dsn, name, scripts[name], clients, profile.pgbench_seconds)
            for name in pgbench_runner.SCRIPTS
            for clients in profile.concurrency
        ]
        counter_rows = loop.run_until_complete(
            conn.fetchval(
                "SELECT count(*) FROM chatkit_thread_items WHERE thread_id = $1",
                pgbench_runner.HOT_THREAD,
            )
        )
        last_key = loop.run_until_complete(
            conn.fetchval(
                "SELECT last_sort_key FROM chatkit_threads WHERE id = $1",
                pgbench_runner.HOT_THREAD,
            )
        )
    finally:
        loop.run_until_complete(conn.close())
    documents = [r.as_dict() for r in runs]
    pytestconfig.stash[pgbench_runner.RUNS_KEY] = documents
    conditions = {
        **databases.conditions,
        "pgbench": str(pgbench),
        "protocol": "prepared",
        "scripts": pgbench_runner.scripts(),
        "scale": profile.as_dict(),
    }
    databases.results.write_json(RunFolder.PGBENCH_FILE, {"runs": documents}, conditions)
    assert all(r.transactions > 0 and r.failed_transactions == 0 for r in runs), documents
    # The counter script is the store's statement: gapless keys, one per committed row.
    counter_transactions = sum(r.transactions for r in runs if r.script == PGBENCH_COUNTER)
    assert counter_rows == last_key >= counter_transactions
