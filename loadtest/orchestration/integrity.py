"""The integrity check after a load test: what clients were told against what is stored.

Inputs are the ack log (:mod:`chatkit_pg.loadtest.scenarios.acks`) and the database.
:func:`check_integrity` folds the log into one outcome per request (:func:`fold`), reads the
stored state in one go (:func:`fetch_state`), then runs one small function per check:

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
  :class:`chatkit_pg.strategies.Guarantees` promise it.
* ``no_orphans``: no item or attachment without its thread; no item whose document names
  another thread; no item id in two threads.
* ``cancellations_kept``: every stream the client hung up on (a ``cancel`` record) left what
  the SDK's ``handle_stream_cancelled`` promises, in sort-key order: its user message, the
  pending assistant message when the client had read text (stored under the id the stream
  named, its text beginning with the text read) and an ``SDKHiddenContextItem`` after them
  (one per cancel: ``items.list`` hides these, so only the database can show them).
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
from chatkit_pg.harness.vocabulary import THREADS_ADD_USER_MESSAGE, THREADS_CREATE, THREADS_DELETE
from chatkit_pg.loadtest.scenarios.acks import read_acks
from chatkit_pg.loadtest.scenarios.sse import text_of
from chatkit_pg.strategies import Guarantees, strategy_class

MAX_EXAMPLES: Final = 5
MESSAGE_KINDS: Final = ("user_message", "assistant_message")
HIDDEN_CONTEXT: Final = "sdk_hidden_context"  # chatkit.types.SDKHiddenContextItem.type

SELECT_ITEMS_OF_THREADS_SQL: Final = """
SELECT thread_id, id, sort_key, type, data::text AS data
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
    # Streams the client hung up on (their attempts also count as unconfirmed: the client
    # never learned what the turn stored).
    cancelled: list[dict[str, Any]] = field(default_factory=list)

    @property
    def live(self) -> list[dict[str, Any]]:
        """Acknowledged writes to threads that were not deleted afterwards."""
        return [a for a in self.acked if a.get("thread_id") not in self.deleted]

    @property
    def threads(self) -> list[str]:
        """The threads those writes went to, sorted."""
        return sorted({a["thread_id"] for a in self.live if a.get("thread_id")})


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
            result.counts[THREADS_DELETE] += 1
        elif op == "cancel":
            result.cancelled.append(record)
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


@dataclass
class StoredState:
    """What the database holds, read once after the run (the server stopped).

    Attributes:
        items: ``(thread_id, id) -> (type, document)`` of every item of the checked threads;
            ``stored`` counts each pair (more than 1 is a doubled item), ``per_thread`` the
            items of each type in each thread.
        owners: thread id -> owning user, for the checked threads.
        deleted_leftovers: rows left behind by threads whose delete was acknowledged.
        duplicate_sort_keys: ``(thread_id, sort_key, n)`` with n > 1 (first 20).
        gapped_threads: ``(thread_id, low, high, n)`` whose keys are not 1..n (first 20;
            read only when the strategy promises gapless keys).
        orphans: counts of orphan, misfiled and shared items and attachments.
        found: totals of threads, items, attachments and items by type.
        keys: ``(thread_id, id) -> sort_key`` of those items (the order within a thread);
            ``markers`` the ``(sort_key, type)`` of each thread's user messages and SDK
            hidden context items, in key order.
    """

    items: dict[tuple[str, str], tuple[str, str]]
    stored: Counter[tuple[str, str]]
    owners: dict[str, str]
    deleted_leftovers: int
    duplicate_sort_keys: list[tuple[str, int, int]]
    gapped_threads: list[tuple[str, int, int, int]]
    orphans: dict[str, int]
    found: dict[str, Any]
    per_thread: dict[str, Counter[str]] = field(default_factory=dict)  # thread -> type -> n
    keys: dict[tuple[str, str], int] = field(default_factory=dict)
    # thread -> (sort_key, type) of its user messages and hidden items, in key order
    markers: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def count(self, thread_id: str, kind: str) -> int:
        """Stored items of type ``kind`` in ``thread_id``."""
        return self.per_thread.get(thread_id, Counter())[kind]


async def fetch_state(dsn: str, requests: Requests, gapless: bool) -> StoredState:
    """Read everything the checks compare against, in one connection."""
    threads = sorted({*requests.threads, *(c["thread_id"] for c in requests.cancelled)})
    conn = await asyncpg.connect(to_libpq_url(dsn))
    try:
        rows = await conn.fetch(SELECT_ITEMS_OF_THREADS_SQL, threads)
        owners = await conn.fetch(SELECT_THREAD_OWNERS_SQL, threads)
        leftovers = await conn.fetchval(COUNT_DELETED_LEFTOVERS_SQL, list(requests.deleted))
        duplicates = await conn.fetch(DUPLICATE_SORT_KEYS_SQL)
        gapped = await conn.fetch(GAPPED_THREADS_SQL) if gapless else []
        orphans = dict(await conn.fetchrow(ORPHANS_SQL))
        found = dict(await conn.fetchrow(FOUND_SQL))
        found["items_by_type"] = {r["type"]: r["n"] for r in await conn.fetch(ITEM_TYPES_SQL)}
    finally:
        await conn.close()
    per_thread: dict[str, Counter[str]] = defaultdict(Counter)
    markers: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for r in rows:
        per_thread[r["thread_id"]][r["type"]] += 1
        if r["type"] in (HIDDEN_CONTEXT, "user_message"):
            markers[r["thread_id"]].append((r["sort_key"], r["type"]))
    return StoredState(
        items={(r["thread_id"], r["id"]): (r["type"], r["data"]) for r in rows},
        stored=Counter((r["thread_id"], r["id"]) for r in rows),
        owners={r["id"]: r["user_id"] for r in owners},
        deleted_leftovers=leftovers,
        duplicate_sort_keys=[(r["thread_id"], r["sort_key"], r["n"]) for r in duplicates],
        gapped_threads=[(r["thread_id"], r["low"], r["high"], r["n"]) for r in gapped],
        orphans=orphans,
        found=found,
        per_thread=dict(per_thread),
        keys={(r["thread_id"], r["id"]): r["sort_key"] for r in rows},
        markers={thread: sorted(marks) for thread, marks in markers.items()},
    )


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


def _text(document: str) -> str:
    """The text of a stored item's document (the stream check's own reading of an item)."""
    return text_of(json.loads(document))


def _assistant_sha1(document: str) -> str:
    return hashlib.sha1(_text(document).encode()).hexdigest()


def _missing_items(ack: dict[str, Any], state: StoredState) -> list[str]:
    """Items the write's stream reported done that are not stored exactly once."""
    thread_id = ack["thread_id"]
    return [i for i, _kind in ack.get("items", []) if state.stored[(thread_id, i)] != 1]


def writes_found_intact(requests: Requests, state: StoredState) -> int:
    """Acknowledged writes whose every reported item is stored exactly once."""
    return sum(not _missing_items(ack, state) for ack in requests.live)


# -- the checks: one function each, (requests, state) -> {"name", "passed", "detail"} --------


def check_items_stored(requests: Requests, state: StoredState) -> dict[str, Any]:
    lost = [
        f"{ack['type']} {item_id} in {ack['thread_id']} stored "
        f"{state.stored[(ack['thread_id'], item_id)]}x"
        for ack in requests.live
        for item_id in _missing_items(ack, state)
    ]
    return _check(
        "acknowledged_items_stored",
        lost,
        f"{len(requests.live)} acknowledged writes, every reported item stored exactly once",
    )


def check_no_extra_messages(requests: Requests, state: StoredState) -> dict[str, Any]:
    # Every acknowledged write stored one user and one assistant message.
    expected = Counter(ack["thread_id"] for ack in requests.live)
    extra = []
    for thread_id in requests.threads:
        allowed = requests.unconfirmed[thread_id]
        for kind in MESSAGE_KINDS:
            stored = state.count(thread_id, kind)
            surplus = stored - expected[thread_id]
            if surplus < 0 or surplus > allowed:
                extra.append(
                    f"{thread_id}: {stored} {kind}s, "
                    f"{expected[thread_id]} acknowledged, {allowed} unconfirmed"
                )
    return _check(
        "no_extra_messages",
        extra,
        f"{len(requests.threads)} threads hold exactly the acknowledged messages "
        f"(+ at most {requests.unconfirmed_total} unconfirmed requests)",
    )


def check_assistant_text(requests: Requests, state: StoredState) -> dict[str, Any]:
    texts = []
    for ack in requests.live:
        key = (ack["thread_id"], ack.get("assistant_message_id"))
        if key in state.items and ack.get("assistant_sha1"):
            if _assistant_sha1(state.items[key][1]) != ack["assistant_sha1"]:
                texts.append(f"assistant {key[1]} in {key[0]}")
    return _check("assistant_text_matches", texts, "stored assistant text equals streamed text")


def check_threads_owned(requests: Requests, state: StoredState) -> dict[str, Any]:
    creators = {a["thread_id"]: a["user"] for a in requests.live if a["type"] == THREADS_CREATE}
    foreign = [
        f"{t} owned by {state.owners.get(t)!r}, created by {u!r}"
        for t, u in creators.items()
        if state.owners.get(t) != u
    ]
    return _check("threads_owned", foreign, f"{len(creators)} created threads owned by creator")


def check_deleted_threads_gone(requests: Requests, state: StoredState) -> dict[str, Any]:
    leftovers = state.deleted_leftovers
    return _check(
        "deleted_threads_gone",
        [f"{leftovers} rows left"] if leftovers else [],
        f"{len(requests.deleted)} deleted threads left no rows",
    )


def check_sort_keys_unique(requests: Requests, state: StoredState) -> dict[str, Any]:
    return _check(
        "sort_keys_unique",
        [f"{thread} sort_key {key} x{n}" for thread, key, n in state.duplicate_sort_keys],
        "no duplicate (thread_id, sort_key)",
    )


def check_sort_keys_gapless(state: StoredState, strategy: str, gapless: bool) -> dict[str, Any]:
    return _check(
        "sort_keys_gapless",
        [f"{t} keys {low}..{high} for {n} items" for t, low, high, n in state.gapped_threads],
        f"every thread's keys are 1..n (strategy {strategy} promises it)"
        if gapless
        else f"not checked: strategy {strategy} does not promise gapless keys",
    )


def check_no_orphans(requests: Requests, state: StoredState) -> dict[str, Any]:
    problems = [f"{k}={v}" for k, v in state.orphans.items() if v]
    return _check("no_orphans", problems, "no orphan or misfiled items or attachments")


CANCEL_OUTCOMES: Final = (
    "kept", "finished_first", "user_message_missing", "partial_missing", "hidden_item_missing"
)  # fmt: skip


def _partial(cancel: dict[str, Any], state: StoredState, user_key: int) -> int | None:
    """Sort key of the cancel's stored assistant message when it is after the user message
    and begins with the text the client read; None otherwise."""
    key = (cancel["thread_id"], cancel.get("assistant_message_id") or "")
    stored = state.items.get(key)
    if stored is None or state.keys[key] < user_key:
        return None
    return state.keys[key] if _text(stored[1]).startswith(cancel["seen_text"]) else None


def _finished_first(cancel: dict[str, Any], state: StoredState) -> bool:
    """The server ended the turn before it saw the hang-up (the SDK's cancel handler never
    ran, so no hidden item is due): the message stored under the streamed id is as long as
    a whole reply of the thread (our server's replies all have one length)."""
    stored = state.items.get((cancel["thread_id"], cancel.get("assistant_message_id") or ""))
    whole = cancel.get("reply_chars") or 0
    return stored is not None and whole > 0 and len(_text(stored[1])) >= whole


def _hidden_after(state: StoredState, thread_id: str, user_key: int, after: int) -> bool:
    """A hidden item follows ``after`` in the turn of the user message at ``user_key`` (before
    the thread's next user message: each cancelled turn holds its own)."""
    for key, kind in state.markers.get(thread_id, []):
        if key <= user_key:
            continue
        if kind == "user_message":
            return False
        if key > after:
            return True
    return False


def cancellations(requests: Requests, state: StoredState) -> tuple[dict[str, int], list[str]]:
    """The ``cancellations`` section of ``integrity.json`` (how many cancels were checked,
    and of them: kept, finished first, and each way one was broken) and the problems.

    A cancel is kept when its user message is stored, its partial message too (when the
    client read text) and a hidden item after them within the turn. Without a hidden item, a
    turn the server finished before it saw the hang-up (:func:`_finished_first`) is
    counted, not a problem.
    """
    counts = Counter(dict.fromkeys(("checked", *CANCEL_OUTCOMES), 0))
    problems: list[str] = []
    for cancel in requests.cancelled:
        counts["checked"] += 1
        thread_id = cancel["thread_id"]
        where = f"cancel of {cancel['user_message_id']} in {thread_id}"
        user_key = state.keys.get((thread_id, cancel["user_message_id"]))
        if user_key is None:
            counts["user_message_missing"] += 1
            problems.append(f"{where}: the user message is not stored")
            continue
        partial = _partial(cancel, state, user_key) if cancel.get("seen_text") else user_key
        hidden = _hidden_after(state, thread_id, user_key, user_key if partial is None else partial)
        if not hidden and partial is not None and _finished_first(cancel, state):
            counts["finished_first"] += 1
            continue
        broken: list[tuple[str, str]] = []
        if partial is None:
            broken.append(("partial_missing", "no partial message with the text read"))
        if not hidden:
            broken.append(("hidden_item_missing", "no hidden cancellation item after it"))
        for outcome, text in broken:
            counts[outcome] += 1
            problems.append(f"{where}: {text}")
        counts["kept"] += not broken
    return dict(counts), problems


def check_cancellations(problems: list[str], counts: dict[str, int]) -> dict[str, Any]:
    return _check(
        "cancellations_kept",
        problems,
        f"{counts['kept']} streams cut by the client left their user message, partial "
        "assistant message (when text was read) and hidden cancellation item; "
        f"{counts['finished_first']} the server finished before it saw the hang-up",
    )


def acknowledged(requests: Requests, state: StoredState, guarantees: Guarantees) -> dict[str, Any]:
    """The ``acknowledged`` section of ``integrity.json``."""
    return {
        THREADS_CREATE: requests.counts[THREADS_CREATE],
        THREADS_ADD_USER_MESSAGE: requests.counts[THREADS_ADD_USER_MESSAGE],
        THREADS_DELETE: requests.counts[THREADS_DELETE],
        "unconfirmed": requests.unconfirmed_total,
        "writes": len(requests.live),
        "writes_found_intact": writes_found_intact(requests, state),
        "threads_checked": len(requests.threads),
        "strategy_guarantees": {
            "race_free": guarantees.race_free,
            "gapless": guarantees.gapless,
            "commit_order": guarantees.commit_order,
        },
    }


async def check_integrity(dsn: str, ack_dir: Path, strategy: str) -> dict[str, Any]:
    """Compare the ack log in ``ack_dir`` with the database at ``dsn``.

    Args:
        dsn: the database the server wrote to.
        ack_dir: folder of ``acks-*.jsonl`` files from every Locust process.
        strategy: the server's sort-key strategy (decides whether gaps are an error).

    Returns:
        ``{"passed", "checks": [{"name", "passed", "detail"}], "acknowledged",
        "cancellations", "found"}``.
    """
    requests = fold(list(read_acks(ack_dir)))
    guarantees = strategy_class(strategy).guarantees
    state = await fetch_state(dsn, requests, guarantees.gapless)
    cancelled, cancel_problems = cancellations(requests, state)
    checks = [
        check_items_stored(requests, state),
        check_no_extra_messages(requests, state),
        check_assistant_text(requests, state),
        check_threads_owned(requests, state),
        check_deleted_threads_gone(requests, state),
        check_sort_keys_unique(requests, state),
        check_sort_keys_gapless(state, strategy, guarantees.gapless),
        check_no_orphans(requests, state),
        check_cancellations(cancel_problems, cancelled),
    ]
    return {
        "passed": all(c["passed"] for c in checks),
        "checks": checks,
        "acknowledged": acknowledged(requests, state, guarantees),
        "cancellations": cancelled,
        "found": state.found,
    }
