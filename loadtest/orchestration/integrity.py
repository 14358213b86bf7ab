"""The integrity check after a load test: what clients were told against what is stored.

Inputs are the ack log (:mod:`loadtest.acks`) and the database. Checks:

* ``acknowledged_items_stored``: every acknowledged ``threads.create`` /
  ``threads.add_user_message`` left its user message and assistant message (and every
  other item its stream reported done) in its thread, once.
* ``no_extra_messages``: no thread holds more user or assistant messages than were
  acknowledged, apart from requests whose outcome the client never learned (failed or
  cut off) -- nothing doubled.
* ``assistant_text_matches``: the stored assistant text is the text that was streamed.
* ``threads_owned``: acknowledged threads belong to the identity that created them.
* ``deleted_threads_gone``: threads whose ``threads.delete`` succeeded left no rows.
* ``sort_keys_unique``: no thread has two items with one ``sort_key``.
* ``sort_keys_gapless``: keys are 1..n in every thread, checked when the strategy's
  :class:`store.strategies.Guarantees` promise it.
* ``no_orphans``: no item or attachment without its thread; no item whose document names
  another thread; no item id in two threads.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import asyncpg

from chatkit_pg.harness.provision import to_libpq_url
from chatkit_pg.loadtest.scenarios.acks import read_acks
from chatkit_pg.strategies import strategy_class

WRITE_TYPES: Final = ("threads.create", "threads.add_user_message")
MAX_EXAMPLES: Final = 5

SELECT_ITEMS_OF_THREADS_SQL: Final = """
SELECT thread_id, id, type, data::text AS data
  FROM chatkit_thread_items
 WHERE thread_id = ANY($1::text[])
"""
SELECT_THREAD_OWNERS_SQL: Final = """
SELECT id, user_id FROM chatkit_threads WHERE id = ANY($1::text[])
"""
COUNT_DELETED_LEFTOVERS_SQL: Final = """
SELECT (SELECT count(*) FROM chatkit_threads WHERE id = ANY($1::text[]))
     + (SELECT count(*) FROM chatkit_thread_items WHERE thread_id = ANY($1::text[]))
"""
DUPLICATE_SORT_KEYS_SQL: Final = """
SELECT thread_id, sort_key, count(*) AS n
  FROM chatkit_thread_items
 GROUP BY thread_id, sort_key
HAVING count(*) > 1
 LIMIT 20
"""
GAPPED_THREADS_SQL: Final = """
SELECT thread_id, min(sort_key) AS low, max(sort_key) AS high, count(*) AS n
  FROM chatkit_thread_items
 GROUP BY thread_id
HAVING min(sort_key) <> 1 OR max(sort_key) <> count(*)
 LIMIT 20
"""
ORPHANS_SQL: Final = """
SELECT
  (SELECT count(*) FROM chatkit_thread_items i
     WHERE NOT EXISTS (SELECT 1 FROM chatkit_threads t WHERE t.id = i.thread_id))
    AS orphan_items,
  (SELECT count(*) FROM chatkit_attachments a
     WHERE a.thread_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM chatkit_threads t WHERE t.id = a.thread_id))
    AS orphan_attachments,
  (SELECT count(*) FROM chatkit_thread_items i
     WHERE i.data->>'thread_id' IS DISTINCT FROM i.thread_id) AS misfiled_items,
  (SELECT count(*) FROM (SELECT id FROM chatkit_thread_items GROUP BY id HAVING count(*) > 1)
     AS d) AS shared_item_ids
"""
FOUND_SQL: Final = """
SELECT (SELECT count(*) FROM chatkit_threads) AS threads,
       (SELECT count(*) FROM chatkit_thread_items) AS items,
       (SELECT count(*) FROM chatkit_attachments) AS attachments
"""
ITEM_TYPES_SQL: Final = """
SELECT type, count(*) AS n FROM chatkit_thread_items GROUP BY type ORDER BY type
"""


@dataclass
class Requests:
    """The ack log folded into one outcome per request."""

    acked: list[dict[str, Any]] = field(default_factory=list)
    unconfirmed: Counter[str] = field(default_factory=Counter)  # thread -> requests
    unconfirmed_total: int = 0
    deleted: dict[str, str] = field(default_factory=dict)  # thread -> user
    counts: Counter[str] = field(default_factory=Counter)


def fold(records: list[dict[str, Any]]) -> Requests:
    """One outcome per request id: acknowledged, failed, or never finished."""
    attempts: dict[str, dict[str, Any]] = {}
    outcomes: dict[str, dict[str, Any]] = {}
    result = Requests()
    for record in records:
        op = record.get("op")
        if op == "attempt":
            attempts[record["req"]] = record
        elif op in ("ack", "fail"):
            outcomes[record["req"]] = record
        elif op == "delete":
            result.deleted[record["thread_id"]] = record["user"]
            result.counts["threads.delete"] += 1
    for request_id, attempt in attempts.items():
        outcome = outcomes.get(request_id)
        if outcome is not None and outcome["op"] == "ack":
            result.acked.append(outcome)
            result.counts[outcome["type"]] += 1
            continue
        result.unconfirmed_total += 1
        result.counts["unconfirmed"] += 1
        thread_id = (outcome or {}).get("thread_id") or attempt.get("thread_id")
        if thread_id:
            result.unconfirmed[thread_id] += 1
    return result


def _check(name: str, problems: list[str], ok_detail: str) -> dict[str, Any]:
    if problems:
        shown = "; ".join(problems[:MAX_EXAMPLES])
        more = f" (+{len(problems) - MAX_EXAMPLES} more)" if len(problems) > MAX_EXAMPLES else ""
        return {
            "name": name,
            "passed": False,
            "detail": f"{len(problems)} problem(s): {shown}{more}",
        }
    return {"name": name, "passed": True, "detail": ok_detail}


def _assistant_sha1(document: str) -> str:
    content = json.loads(document).get("content", [])
    return hashlib.sha1("".join(p.get("text", "") for p in content).encode()).hexdigest()


async def check_integrity(dsn: str, ack_dir: Path, strategy: str) -> dict[str, Any]:
    """Compare the ack log in ``ack_dir`` with the database at ``dsn``.

    Args:
        dsn: the database the server wrote to.
        ack_dir: folder of ``acks-*.jsonl`` files from every Locust process.
        strategy: the server's sort-key strategy (decides whether gaps are an error).

    Returns:
        ``{"passed", "checks": [{"name", "passed", "detail"}], "acknowledged", "found"}``.
    """
    requests = fold(list(read_acks(ack_dir)))
    live = [a for a in requests.acked if a.get("thread_id") not in requests.deleted]
    threads = sorted({a["thread_id"] for a in live if a.get("thread_id")})
    guarantees = strategy_class(strategy).guarantees
    conn = await asyncpg.connect(to_libpq_url(dsn))
    try:
        rows = await conn.fetch(SELECT_ITEMS_OF_THREADS_SQL, threads)
        owners = {
            r["id"]: r["user_id"] for r in await conn.fetch(SELECT_THREAD_OWNERS_SQL, threads)
        }
        leftovers = await conn.fetchval(COUNT_DELETED_LEFTOVERS_SQL, list(requests.deleted))
        duplicates = await conn.fetch(DUPLICATE_SORT_KEYS_SQL)
        gapped = await conn.fetch(GAPPED_THREADS_SQL) if guarantees.gapless else []
        orphans = dict(await conn.fetchrow(ORPHANS_SQL))
        found = dict(await conn.fetchrow(FOUND_SQL))
        found["items_by_type"] = {r["type"]: r["n"] for r in await conn.fetch(ITEM_TYPES_SQL)}
    finally:
        await conn.close()

    stored: Counter[tuple[str, str]] = Counter((r["thread_id"], r["id"]) for r in rows)
    documents = {(r["thread_id"], r["id"]): r["data"] for r in rows}
    per_thread: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        per_thread[r["thread_id"]][r["type"]] += 1

    lost: list[str] = []
    texts: list[str] = []
    writes_found = 0
    expected: dict[str, Counter[str]] = defaultdict(Counter)
    for ack in live:
        thread_id = ack["thread_id"]
        expected[thread_id]["user_message"] += 1
        expected[thread_id]["assistant_message"] += 1
        missing = [i for i, _kind in ack.get("items", []) if stored[(thread_id, i)] != 1]
        writes_found += not missing
        for item_id in missing:
            lost.append(
                f"{ack['type']} {item_id} in {thread_id} stored {stored[(thread_id, item_id)]}x"
            )
        key = (thread_id, ack.get("assistant_message_id"))
        if key in documents and ack.get("assistant_sha1"):
            if _assistant_sha1(documents[key]) != ack["assistant_sha1"]:
                texts.append(f"assistant {key[1]} in {thread_id}")

    extra = []
    for thread_id in threads:
        allowed = requests.unconfirmed[thread_id]
        for kind in ("user_message", "assistant_message"):
            surplus = per_thread[thread_id][kind] - expected[thread_id][kind]
            if surplus < 0 or surplus > allowed:
                extra.append(
                    f"{thread_id}: {per_thread[thread_id][kind]} {kind}s, "
                    f"{expected[thread_id][kind]} acknowledged, {allowed} unconfirmed"
                )
    creators = {a["thread_id"]: a["user"] for a in live if a["type"] == "threads.create"}
    foreign = [
        f"{t} owned by {owners.get(t)!r}, created by {u!r}"
        for t, u in creators.items()
        if owners.get(t) != u
    ]
    orphan_problems = [f"{k}={v}" for k, v in orphans.items() if v]

    checks = [
        _check(
            "acknowledged_items_stored",
            lost,
            f"{len(live)} acknowledged writes, every reported item stored exactly once",
        ),
        _check(
            "no_extra_messages",
            extra,
            f"{len(threads)} threads hold exactly the acknowledged messages "
            f"(+ at most {requests.unconfirmed_total} unconfirmed requests)",
        ),
        _check("assistant_text_matches", texts, "stored assistant text equals streamed text"),
        _check("threads_owned", foreign, f"{len(creators)} created threads owned by creator"),
        _check(
            "deleted_threads_gone",
            [f"{leftovers} rows left"] if leftovers else [],
            f"{len(requests.deleted)} deleted threads left no rows",
        ),
        _check(
            "sort_keys_unique",
            [f"{r['thread_id']} sort_key {r['sort_key']} x{r['n']}" for r in duplicates],
            "no duplicate (thread_id, sort_key)",
        ),
        _check(
            "sort_keys_gapless",
            [f"{r['thread_id']} keys {r['low']}..{r['high']} for {r['n']} items" for r in gapped],
            f"every thread's keys are 1..n (strategy {strategy} promises it)"
            if guarantees.gapless
            else f"not checked: strategy {strategy} does not promise gapless keys",
        ),
        _check("no_orphans", orphan_problems, "no orphan or misfiled items or attachments"),
    ]
    return {
        "passed": all(c["passed"] for c in checks),
        "checks": checks,
        "acknowledged": {
            "threads.create": requests.counts["threads.create"],
            "threads.add_user_message": requests.counts["threads.add_user_message"],
            "threads.delete": requests.counts["threads.delete"],
            "unconfirmed": requests.unconfirmed_total,
            "writes": len(live),
            "writes_found_intact": writes_found,
            "threads_checked": len(threads),
            "strategy_guarantees": {
                "race_free": guarantees.race_free,
                "gapless": guarantees.gapless,
                "commit_order": guarantees.commit_order,
            },
        },
        "found": found,
    }
