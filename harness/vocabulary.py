"""The one vocabulary of the harness: names that producers write and the report reads.

Percentiles, benchmark kinds, race scenarios, request and failure names of the load test, the
goals the summaries print, and the environment variables. One place, so a producer, a table,
a figure and the verdict never disagree on what "p95" or "hot thread" means (pgbench's
``format_report`` keeps its percentiles in one constant the same way). Plain constants only:
the report imports this on a machine without chatkit, SQLAlchemy or asyncpg.
"""

from __future__ import annotations

from typing import Final

PERCENTILES: Final = (50, 95, 99)
"""Latency percentiles every table and figure reports, in this order."""


def bench_percentile_key(p: int) -> str:
    """The ``extra_info`` key of percentile ``p`` in bench/benchmark.json (``p95_ms``)."""
    return f"p{p}_ms"


def locust_percentile_column(p: int) -> str:
    """The Locust CSV column of percentile ``p`` (``95%``)."""
    return f"{p}%"


# Benchmark kinds (bench/benchmark.json extra_info["kind"]).
SORT_KEY: Final = "sort_key"
ITEMS_PAGE: Final = "items_page"
THREADS_PAGE: Final = "threads_page"
INDEX_READ: Final = "index_read"
INDEX_WRITE: Final = "index_write"
LIMIT: Final = "limit"

# Where concurrent writers append: all on one thread, or spread over many.
HOT_THREAD: Final = "hot_thread"
SPREAD: Final = "spread"
SCENARIOS: Final = (HOT_THREAD, SPREAD)
SCENARIO_TITLES: Final = {"hot_thread": "one hot thread", "spread": "spread over many threads"}

# Insert paths compared against the database's own limit, fastest-expected first.
LIMIT_METHODS: Final = ("raw_asyncpg", "store", "sqlalchemy_core", "orm_sketch")
LIMIT_TITLES: Final = {
    "raw_asyncpg": "raw asyncpg (same SQL)",
    "store": "PostgresStore",
    "sqlalchemy_core": "SQLAlchemy Core",
    "orm_sketch": "ORM (design sketch)",
}
# Some layers run two insert paths, told apart by extra_info["query"].
LIMIT_QUERY_TITLES: Final = {
    "add_item_counter_sql": "the store's statement",
    "begin_select_insert_commit": "BEGIN/SELECT/INSERT/COMMIT",
}


def limit_label(method: object, query: object) -> str:
    """Label of one insert path: the layer, and which SQL it ran when the bench says."""
    title = LIMIT_TITLES.get(str(method), str(method))
    if method == "raw_asyncpg":
        title = "raw asyncpg"
    detail = LIMIT_QUERY_TITLES.get(str(query)) if query else None
    return f"{title} ({detail})" if detail else title


PGBENCH_INSERT: Final = "insert_one_row"
PGBENCH_COUNTER: Final = "hot_thread_counter"

# Load-test failure kinds: the first word of every failure message Locust records; the report
# files anything else under OTHER_FAILURE.
TIMEOUT: Final = "timeout"
CONNECTION_ERROR: Final = "connection_error"
HTTP_4XX: Final = "http_4xx"
HTTP_5XX: Final = "http_5xx"
INVALID_EVENT: Final = "invalid_event"
EARLY_END: Final = "early_end"
ERROR_EVENT: Final = "error_event"
FAILURE_KINDS: Final = (
    TIMEOUT,
    CONNECTION_ERROR,
    HTTP_4XX,
    HTTP_5XX,
    INVALID_EVENT,
    EARLY_END,
    ERROR_EVENT,
)
OTHER_FAILURE: Final = "other"

# Load-test request names (Locust's Name column): the ChatKit request types we send.
THREADS_LIST: Final = "threads.list"
ITEMS_LIST: Final = "items.list"
THREADS_UPDATE: Final = "threads.update"
THREADS_DELETE: Final = "threads.delete"
THREADS_CREATE: Final = "threads.create"
THREADS_ADD_USER_MESSAGE: Final = "threads.add_user_message"
STREAMING_REQUESTS: Final = (THREADS_CREATE, THREADS_ADD_USER_MESSAGE)
# Streams are also recorded as Locust entries of type SSE_TYPE named "<prefix><request type>".
SSE_TYPE: Final = "SSE"
TTFE_PREFIX: Final = "ttfe "
STREAM_PREFIX: Final = "stream "
LOCUST_TOTAL_NAME: Final = "Aggregated"

# The goals of the bench issue, checked against bench/summary.json: (key path, op, target).
SUMMARY_GOALS: Final = {
    ("python_layer", "ratio"): (">=", 0.5, "store / raw asyncpg, same SQL, 1 client"),
    ("python_layer", "ratio_vs_orm"): (">=", 4.0, "store / design-sketch ORM path, 1 client"),
    ("contention", "store_32_over_1"): (
        ">=",
        ("contention", "pgbench_counter_32_over_1"),
        "store hot thread: 32 writers / 1 writer (goal: at least pgbench's)",
    ),
    ("contention", "pgbench_counter_32_over_1"): (None, None, "pgbench counter: 32 / 1 clients"),
    ("pagination", "keyset_deep_over_shallow"): ("<=", 1.5, "keyset page: deepest / depth 0"),
    ("pagination", "offset_deep_over_keyset_deep"): (
        ">=",
        10.0,
        "OFFSET / keyset at the deepest depth",
    ),
}


# Environment variables the harness reads (each also has a command-line option).
DSN_ENV: Final = "CHATKIT_PG_DSN"
PROVIDER_ENV: Final = "CHATKIT_PG_PROVIDER"
IMAGE_ENV: Final = "CHATKIT_PG_IMAGE"
BENCH_PROFILE_ENV: Final = "CHATKIT_PG_BENCH_PROFILE"
RACE_FULL_ENV: Final = "CHATKIT_PG_RACE_FULL"
