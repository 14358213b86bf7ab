"""The one vocabulary of the harness: names that producers write and the report reads.

Percentiles, the benchmarks' kinds, methods and query names, race scenarios, pgbench scripts,
request and failure names of the load test, the goals the summaries print, and the
environment variables. One place, so a producer, a table, a figure and the verdict never
disagree on what "p95" or "hot thread" means (pgbench's ``format_report`` keeps its
percentiles in one constant the same way). Plain constants and small pure functions only:
the report imports this on a machine without chatkit, SQLAlchemy or asyncpg.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

PERCENTILES: Final = (50, 95, 99)
"""Latency percentiles every table and figure reports, in this order."""
STREAM_PERCENTILES: Final = (50, 90, 95, 99)
"""The percentiles of the streamed timings (ttfe, ttft, itl, tpot, stream end), as the
LLM-serving benchmarks report them; Locust's CSVs hold each."""


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
KINDS: Final = (SORT_KEY, ITEMS_PAGE, THREADS_PAGE, INDEX_READ, INDEX_WRITE, LIMIT)

# What ran the measured call (extra_info["method"]).
STORE: Final = "store"
KEYSET: Final = "keyset"
OFFSET: Final = "offset"
RAW_ASYNCPG: Final = "raw_asyncpg"
SQLALCHEMY_CORE: Final = "sqlalchemy_core"
ORM_SKETCH: Final = "orm_sketch"
METHODS: Final = (STORE, KEYSET, OFFSET, RAW_ASYNCPG, SQLALCHEMY_CORE, ORM_SKETCH)
PAGE_METHODS: Final = {ITEMS_PAGE: (KEYSET, RAW_ASYNCPG, OFFSET), THREADS_PAGE: (KEYSET, OFFSET)}

# What was measured (extra_info["query"]): the store call a page or write benchmark times.
ADD_THREAD_ITEM: Final = "add_thread_item"
LOAD_THREAD_ITEMS: Final = "load_thread_items"
LOAD_THREADS: Final = "load_threads"
PAGE_QUERIES: Final = {ITEMS_PAGE: LOAD_THREAD_ITEMS, THREADS_PAGE: LOAD_THREADS}

# The reads every index variant serves (extra_info["query"] of INDEX_READ; the plan file of
# each is bench/plans/<variant>/<query>.json).
ITEMS_PAGE_FIRST: Final = "items_page_first"
ITEMS_PAGE_DEEP: Final = "items_page_deep"
LOAD_ITEM: Final = "load_item"
THREADS_PAGE_FIRST: Final = "threads_page_first"
THREADS_PAGE_DEEP: Final = "threads_page_deep"
# The spread reads take a different thread or item on every call, across all the data: the
# pages they need are rarely in shared_buffers once the data outgrows it (the large profile).
ITEMS_PAGE_SPREAD: Final = "items_page_spread"
LOAD_ITEM_SPREAD: Final = "load_item_spread"
INDEX_READ_QUERIES: Final = (
    ITEMS_PAGE_FIRST,
    ITEMS_PAGE_DEEP,
    LOAD_ITEM,
    THREADS_PAGE_FIRST,
    THREADS_PAGE_DEEP,
    ITEMS_PAGE_SPREAD,
    LOAD_ITEM_SPREAD,
)

# Where concurrent writers append: all on one thread, or spread over many.
HOT_THREAD: Final = "hot_thread"
SPREAD: Final = "spread"
SCENARIOS: Final = (HOT_THREAD, SPREAD)
SCENARIO_TITLES: Final = {HOT_THREAD: "one hot thread", SPREAD: "spread over many threads"}

# Insert paths compared against the database's own limit, fastest-expected first.
LIMIT_METHODS: Final = (RAW_ASYNCPG, STORE, SQLALCHEMY_CORE, ORM_SKETCH)
LIMIT_TITLES: Final = {
    RAW_ASYNCPG: "raw asyncpg (same SQL)",
    STORE: "PostgresStore",
    SQLALCHEMY_CORE: "SQLAlchemy Core",
    ORM_SKETCH: "ORM (design sketch)",
}
# Labels of the SQL each insert path runs (extra_info["query"] of LIMIT), not the SQL itself:
# ADD_ITEM_COUNTER_SQL_LABEL names store/sql.py's ADD_ITEM_COUNTER_SQL, the store's statement.
ADD_ITEM_COUNTER_SQL_LABEL: Final = "add_item_counter_sql"
BEGIN_SELECT_INSERT_COMMIT: Final = "begin_select_insert_commit"
SESSION_GET_ADD_COMMIT: Final = "session_get_add_commit"
LIMIT_PATHS: Final = (
    (RAW_ASYNCPG, BEGIN_SELECT_INSERT_COMMIT),
    (RAW_ASYNCPG, ADD_ITEM_COUNTER_SQL_LABEL),
    (SQLALCHEMY_CORE, BEGIN_SELECT_INSERT_COMMIT),
    (SQLALCHEMY_CORE, ADD_ITEM_COUNTER_SQL_LABEL),
    (ORM_SKETCH, SESSION_GET_ADD_COMMIT),
    (STORE, ADD_THREAD_ITEM),
)
# Some layers run two insert paths, told apart by extra_info["query"].
LIMIT_QUERY_TITLES: Final = {
    ADD_ITEM_COUNTER_SQL_LABEL: "the store's statement",
    BEGIN_SELECT_INSERT_COMMIT: "BEGIN/SELECT/INSERT/COMMIT",
}


def limit_label(method: object, query: object) -> str:
    """Label of one insert path: the layer, and which SQL it ran when the bench says."""
    title = LIMIT_TITLES.get(str(method), str(method))
    if method == RAW_ASYNCPG:
        title = "raw asyncpg"
    detail = LIMIT_QUERY_TITLES.get(str(query)) if query else None
    return f"{title} ({detail})" if detail else title


# pgbench scripts (bench/pgbench.json runs[].script).
PGBENCH_INSERT: Final = "insert_one_row"
PGBENCH_COUNTER: Final = "hot_thread_counter"
PGBENCH_SCRIPTS: Final = (PGBENCH_INSERT, PGBENCH_COUNTER)

# Load-test failure kinds: the first word of every failure message Locust records; the report
# files anything else under OTHER_FAILURE.
TIMEOUT: Final = "timeout"
CONNECTION_ERROR: Final = "connection_error"
HTTP_4XX: Final = "http_4xx"
HTTP_5XX: Final = "http_5xx"
INVALID_EVENT: Final = "invalid_event"
EARLY_END: Final = "early_end"
ERROR_EVENT: Final = "error_event"
NO_REPLY: Final = "no_reply"  # a turn without an assistant message (only when one is required)
# A stream that carries another conversation: events of a thread the request did not ask
# about, a second thread.created, or a user message that is not the text this user sent.
CROSS_TALK: Final = "cross_talk"
# A stream the client hung up on that the thread does not show as the SDK promises after a
# cancel: the user message, and the partial assistant message extending the text seen.
CANCEL_LOST: Final = "cancel_lost"
FAILURE_KINDS: Final = (
    TIMEOUT,
    CONNECTION_ERROR,
    HTTP_4XX,
    HTTP_5XX,
    INVALID_EVENT,
    EARLY_END,
    ERROR_EVENT,
    NO_REPLY,
    CROSS_TALK,
    CANCEL_LOST,
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
# Cancellation under load (tag "cancel"): a threads.add_user_message the client hangs up on
# mid-stream (not a turn: kept out of STREAMING_REQUESTS and its timings), and the read-back
# of its thread over items.list that judges it (one entry however many polls it took).
CANCEL_TAG: Final = "cancel"
CANCELLED_ADD_USER_MESSAGE: Final = "cancel threads.add_user_message"
CANCEL_READ_BACK: Final = "cancel read-back"
# Streams are also recorded as Locust entries of type SSE_TYPE named "<prefix><request type>".
SSE_TYPE: Final = "SSE"
TTFE_PREFIX: Final = "ttfe "  # request start -> first event of any kind
TTFT_PREFIX: Final = "ttft "  # request start -> first assistant text (a delta, or a whole item)
STREAM_PREFIX: Final = "stream "  # request start -> end of a complete stream
# As vLLM's benchmarks/serve.py defines them, a text delta standing for a token: one ITL
# sample per gap between successive text deltas of a stream; one TPOT sample per stream with
# at least two deltas, (stream end - first assistant token) / (deltas - 1).
ITL_PREFIX: Final = "itl "
TPOT_PREFIX: Final = "tpot "
# Not a time: the "response time" columns of this entry hold text deltas per second of one
# stream (first to last delta; streams with at least two deltas only).
TOKENS_PREFIX: Final = "tokens/s "
TIMING_PREFIXES: Final = (TTFE_PREFIX, TTFT_PREFIX, ITL_PREFIX, TPOT_PREFIX, STREAM_PREFIX)
TIMING_TITLES: Final = {
    TTFE_PREFIX: "time to first event",
    TTFT_PREFIX: "time to first assistant token",
    ITL_PREFIX: "inter-token latency",
    TPOT_PREFIX: "time per output token",
    STREAM_PREFIX: "time to stream end",
    TOKENS_PREFIX: "tokens/s (text deltas per second)",
}
LOCUST_TOTAL_NAME: Final = "Aggregated"
# Capacity (``chatkit-pg loadtest --find-capacity``): the request whose p95 is held to the SLO
# by default is a reply's whole stream -- what a user waits for a complete answer, and the
# one timing that spans every store call of a turn (thread load, user message saved,
# assistant message saved on its ``done``); time to first token misses the final write.
CAPACITY_DEFAULT_REQUEST: Final = STREAM_PREFIX + THREADS_ADD_USER_MESSAGE
CAPACITY_DEFAULT_SLO_P95_MS: Final = 1000.0


def capacity_sentence(capacity: dict[str, Any]) -> str:
    """The one line a report and ``chatkit-pg loadtest`` state for ``loadtest/capacity.json``:
    ``sustained capacity: N users, R req/s at p95 <= S ms`` (or why there is none)."""
    slo = capacity.get("slo_p95_ms")
    request = capacity.get("request")
    at = f"at p95 <= {slo:g} ms of {request!r}" if isinstance(slo, int | float) else ""
    sustained, broken = capacity.get("sustained"), capacity.get("broken")
    steps = capacity.get("steps") or []
    if sustained:
        users, rps = sustained.get("users"), sustained.get("rps") or 0.0
        head = "at least " if capacity.get("reached_top") else ""
        text = f"sustained capacity: {head}{users} users, {rps:.1f} req/s {at}"
        if broken:
            text += f"; {broken.get('users')} users broke it ({broken.get('reason')})"
        elif capacity.get("reached_top"):
            text += " (the ramp's top step held: raise --capacity-max-users to find the knee)"
        return text
    if broken:
        return (
            f"sustained capacity: below {broken.get('users')} users {at}; the first step broke "
            f"it ({broken.get('reason')})"
        )
    if not steps:
        return "sustained capacity: not measured (the ramp recorded no step)"
    return f"sustained capacity: undetermined ({capacity.get('why')})"


# The goals of the bench issue, checked against bench/summary.json:
# (group, key) -> (op, target, label); a target that is itself a (group, key) names another
# measure of the same summary, and op None marks a measure printed for reference only.
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


def summary_value(summary: Mapping[str, Any], path: tuple[str, str]) -> Any:
    """The measure at ``(group, key)`` of a bench summary; ``None`` when it is absent."""
    group = summary.get(path[0])
    return group.get(path[1]) if isinstance(group, Mapping) else None


def summary_goal(summary: Mapping[str, Any], path: tuple[str, str]) -> tuple[str, float] | None:
    """``(op, target)`` of the goal on ``path``, a target naming another measure resolved.

    ``None`` when ``path`` has no goal, or names a measure ``summary`` does not hold.
    """
    op, target, _ = SUMMARY_GOALS[path]
    if isinstance(target, tuple):
        target = summary_value(summary, target)
    if op is None or not isinstance(target, int | float) or isinstance(target, bool):
        return None
    return op, float(target)


def summary_goal_text(summary: Mapping[str, Any], path: tuple[str, str]) -> str:
    """The goal on ``path`` as printed beside its measure (``goal >= 0.50x``), or ``""``."""
    op, target, _ = SUMMARY_GOALS[path]
    if op is None:
        return ""
    goal = summary_goal(summary, path)
    reference = f" ({SUMMARY_GOALS[target][2]})" if isinstance(target, tuple) else ""
    if goal is None:
        return f"goal {op}{reference or ' ' + str(target)}"
    return f"goal {goal[0]} {goal[1]:.2f}x{reference}"


# The page-read floor: a page of 50 mixed SDK items, store vs raw asyncpg + pydantic.
MIXED_PAGE: Final = "items_page_mixed50"
# Groups of the interleaved floor comparison (bench/comparisons.json "floors").
FLOOR_APPENDS_GROUP: Final = "add_thread_item, 1 client (adds/s)"
FLOOR_PAGE_GROUP: Final = "page of 50 mixed items (ms)"
# The store against its floor, as ratios store / floor: (op, target).
FLOOR_GOALS: Final = {FLOOR_APPENDS_GROUP: (">=", 0.90), FLOOR_PAGE_GROUP: ("<=", 1.20)}

# Groups of the interleaved mixed-workload comparison (bench/comparisons.json "mixed").
MIXED_READER_GROUP: Final = "reader page p50 under appends (ms)"
MIXED_WRITER_GROUP: Final = "appends/s beside readers"

# Environment variables the harness reads (each also has a command-line option).
DSN_ENV: Final = "CHATKIT_PG_DSN"
PROVIDER_ENV: Final = "CHATKIT_PG_PROVIDER"
IMAGE_ENV: Final = "CHATKIT_PG_IMAGE"
BENCH_PROFILE_ENV: Final = "CHATKIT_PG_BENCH_PROFILE"
RACE_FULL_ENV: Final = "CHATKIT_PG_RACE_FULL"
# Environment only: the Debian PostgreSQL bin dir of CHATKIT_PG_PROVIDER=system (default: the
# newest /usr/lib/postgresql/*/bin), and the tests' switch that puts PgBouncer (transaction
# mode) between every store and the server.
BINDIR_ENV: Final = "CHATKIT_PG_BINDIR"
PGBOUNCER_ENV: Final = "CHATKIT_PG_PGBOUNCER"


# The on/off words every setting accepts: environment variables, CLI and Locust options.
TRUE_WORDS: Final = ("1", "true", "yes", "on")
FALSE_WORDS: Final = ("0", "false", "no", "off")


def parse_on_off(raw: object, what: str) -> bool:
    """``raw`` as a boolean, or ``ValueError`` naming ``what`` and the words it accepts."""
    lowered = str(raw).strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise ValueError(f"{what} must be one of {'/'.join(TRUE_WORDS + FALSE_WORDS)}, got {raw!r}")
