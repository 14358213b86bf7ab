"""Cancellation under load: users that hang up mid-stream, and what the SDK then promises.

The ``cancel`` users (``CancellingUser``) cut a reply after a random number of text deltas
and read the thread back (``items.list``): the user message and the partial assistant
message must be there (``cancel_lost`` otherwise); the integrity check then finds the
SDK's hidden cancellation item in the database. Each way a promise can break is planted
and must be caught: a server that saves nothing on cancel (the docs-style server's
``X-Plant: drop-cancel``), and threads that lack the hidden item, the partial message or the
user message (written straight into the database for the integrity check).
"""

from __future__ import annotations

import csv
import json
import random
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    SDKHiddenContextItem,
    ThreadMetadata,
)

from chatkit_pg import PostgresStore
from chatkit_pg.harness.items import user_message
from chatkit_pg.harness.provision import PostgresServer
from chatkit_pg.harness.vocabulary import CANCEL_READ_BACK, CANCELLED_ADD_USER_MESSAGE
from chatkit_pg.loadtest.orchestration.integrity import check_integrity
from chatkit_pg.loadtest.scenarios.acks import read_records
from chatkit_pg.loadtest.scenarios.client import SeenText, broken_promise, cut_point

from .test_docs_server import IDENTITY, PATH, locust
from .test_smoke import run_loadtest

SLOW_STREAM = ("--header", "X-Reply-Mode: streamed", "--header", "X-Chunk-Delay-Ms: 40")


# -- the rules, on their own ------------------------------------------------------------------


def test_the_cut_falls_inside_the_reply() -> None:
    rng = random.Random(7)
    cuts = {cut_point(8, rng) for _ in range(500)}
    assert cuts == set(range(1, 8))  # never after the last delta: the server would finish
    assert cut_point(1, rng) == cut_point(0, rng) == 0


def _delta(item_id: str, text: str) -> dict[str, Any]:
    update = {"type": "assistant_message.content_part.text_delta", "content_index": 0,
              "delta": text}  # fmt: skip
    return {"type": "thread.item.updated", "item_id": item_id, "update": update}


def _item(item_id: str, kind: str, text: str = "") -> dict[str, Any]:
    return {"id": item_id, "type": kind, "content": [{"type": "output_text", "text": text}]}


def test_the_read_back_judges_the_promise() -> None:
    seen = SeenText()
    for event in (_delta("msg_a", "Hel"), _delta("msg_a", "lo ")):
        seen.observe(event)
    assert (seen.item_id, seen.text) == ("msg_a", "Hello ")
    user = _item("msg_u", "user_message", "hi")
    # newest first, as the read-back asks for them
    assert (
        broken_promise([_item("msg_a", "assistant_message", "Hello wor"), user], "msg_u", seen)
        is None
    )
    assert "user message" in str(broken_promise([], "msg_u", seen))
    assert "not in the thread" in str(broken_promise([user], "msg_u", seen))
    shorter = _item("msg_a", "assistant_message", "Hel")
    assert "does not begin" in str(broken_promise([shorter, user], "msg_u", seen))
    before = [user, _item("msg_a", "assistant_message", "Hello world")]
    assert "before the user message" in str(broken_promise(before, "msg_u", seen))
    assert broken_promise([user], "msg_u", SeenText()) is None  # no text read: none due


# -- the integrity check, with each broken promise planted in the database -------------------


def _cancel(n: int, seen: str, reply_chars: int = 12) -> dict[str, Any]:
    return {"op": "cancel", "req": f"r{n}", "type": "threads.add_user_message", "user": "u",
            "thread_id": "thr_c", "user_message_id": f"msg_u{n}",
            "assistant_message_id": f"msg_a{n}" if seen else None, "seen_text": seen,
            "reply_chars": reply_chars}  # fmt: skip


async def test_integrity_catches_each_broken_cancel(database_dsn: str, tmp_path: Path) -> None:
    store: PostgresStore[Any] = PostgresStore(database_dsn, pool_size=1, max_overflow=0)
    context = {"user_id": "u"}
    thread = ThreadMetadata(id="thr_c", created_at=datetime.now())

    async def add(item: Any) -> None:
        await store.add_thread_item(thread.id, item, context)

    def assistant(n: int, text: str) -> AssistantMessageItem:
        return AssistantMessageItem(id=f"msg_a{n}", thread_id=thread.id, created_at=datetime.now(),
                                    content=[AssistantMessageContent(text=text)])  # fmt: skip

    def hidden(n: int) -> SDKHiddenContextItem:
        return SDKHiddenContextItem(id=f"shcx_{n}", thread_id=thread.id, created_at=datetime.now(),
                                    content="The user cancelled the stream.")  # fmt: skip

    try:
        await store.save_thread(thread, context)
        # 1 kept; 2 no hidden item; 3 no partial; 4 finished first (whole reply, no hidden
        # item due); 5 partial and hidden kept, no text read; 6 the user message never stored
        await add(user_message("msg_u1", thread.id, "one"))
        await add(assistant(1, "Hello"))
        await add(hidden(1))
        await add(user_message("msg_u2", thread.id, "two"))
        await add(assistant(2, "Hel"))
        await add(user_message("msg_u3", thread.id, "three"))
        await add(hidden(3))
        await add(user_message("msg_u4", thread.id, "four"))
        await add(assistant(4, "Hello world!"))
        await add(user_message("msg_u5", thread.id, "five"))
        await add(hidden(5))
        cancels = [_cancel(1, "Hell"), _cancel(2, "He"), _cancel(3, "Hi"), _cancel(4, "Hello"),
                   _cancel(5, ""), _cancel(6, "")]  # fmt: skip
        folder = tmp_path / "acks"
        folder.mkdir()
        lines = [{"op": "attempt", **{k: c[k] for k in ("req", "type", "user", "thread_id")}}
                 for c in cancels] + cancels  # fmt: skip
        (folder / "acks-test-1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
        result = await check_integrity(database_dsn, folder, "counter")
        assert result["cancellations"] == {
            "checked": 6, "kept": 2, "finished_first": 1, "user_message_missing": 1,
            "partial_missing": 1, "hidden_item_missing": 1,
        }  # fmt: skip
        verdict = {c["name"]: c for c in result["checks"]}
        assert not result["passed"] and not verdict["cancellations_kept"]["passed"]
        assert "3 problem(s)" in verdict["cancellations_kept"]["detail"]
        # the same thread judged on its kept cancels alone passes
        (folder / "acks-test-1.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in lines if r["req"] in ("r1", "r4", "r5"))
        )
        kept = await check_integrity(database_dsn, folder, "counter")
        assert kept["passed"], kept["checks"]
        assert kept["cancellations"]["kept"] == 2 and kept["cancellations"]["finished_first"] == 1
    finally:
        await store.close()


# -- under load: the docs-style server (not ours), and our own with the integrity check -------


def _cancel_load(url: str, out: Path, *plant: str) -> tuple[int, list[dict[str, Any]], int]:
    """Locust's exit status, the records and the ``cancel_lost`` failures of a cancel run."""
    done, _ = locust(
        url, out, "--chatkit-path", PATH, *IDENTITY, "--tags", "cancel", *SLOW_STREAM, *plant,
        "--records-dir", str(out / "requests"), seconds=8,
    )  # fmt: skip
    with (out / "locust_failures.csv").open(newline="") as handle:
        failures = list(csv.DictReader(handle))
    lost = sum(int(f["Occurrences"]) for f in failures if "cancel_lost:" in f["Error"])
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done.returncode, list(read_records(out / "requests")), lost


@pytest.mark.slow
def test_cancelled_streams_keep_the_promise_on_the_docs_server(
    docs_url: str, tmp_path: Path
) -> None:
    status, records, lost = _cancel_load(docs_url, tmp_path)
    cut = [r for r in records if r["type"] == CANCELLED_ADD_USER_MESSAGE and r.get("cancelled")]
    read_backs = [r for r in records if r["type"] == CANCEL_READ_BACK]
    assert status == 0 and lost == 0
    assert len(cut) > 0 and len(read_backs) == len(cut)
    assert all(r["status"] == "ok" for r in read_backs)
    # five 40 ms deltas a reply: cut after 1 to 4, never at the end
    assert {r["cut_after"] for r in cut} <= {1, 2, 3, 4}
    assert all(r["deltas"] == r["cut_after"] for r in cut)
    print(f"{len(cut)} streams cut, 0 cancel_lost")


@pytest.mark.slow
def test_a_server_that_drops_the_cancel_fails_as_cancel_lost(docs_url: str, tmp_path: Path) -> None:
    status, records, lost = _cancel_load(docs_url, tmp_path, "--header", "X-Plant: drop-cancel")
    failed = [r for r in records if r["type"] == CANCEL_READ_BACK and r["status"] == "failed"]
    assert status == 1 and lost > 0
    assert failed and all(r["failure"] == "cancel_lost" for r in failed)
    assert all("partial assistant message is not in the thread" in r["detail"] for r in failed)
    print(f"{len(failed)} read-backs failed as cancel_lost")


@pytest.mark.slow
def test_cancel_load_on_our_server_passes_integrity(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    completed = run_loadtest(
        pg_server, tmp_path, "--users", "6", "--run-time", "10s", "--tags", "cancel",
        "--think-min", "0.05", "--think-max", "0.2", "--delta-delay-ms", "10",
    )  # fmt: skip
    out = tmp_path / "loadtest"
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    integrity = json.loads((out / "integrity.json").read_text())
    assert integrity["passed"], integrity["checks"]
    counts = integrity["cancellations"]
    assert counts["checked"] > 0 and counts["kept"] > 0, counts
    assert counts["kept"] + counts["finished_first"] == counts["checked"], counts
    hidden = integrity["found"]["items_by_type"].get("sdk_hidden_context", 0)
    assert hidden >= counts["kept"]
    records = list(read_records(out / "requests"))
    cut = [r for r in records if r["type"] == CANCELLED_ADD_USER_MESSAGE and r.get("cancelled")]
    read_backs = [r for r in records if r["type"] == CANCEL_READ_BACK]
    assert len(cut) == counts["checked"] and all(r["status"] == "ok" for r in read_backs)
    print(f"cancellations: {counts}")
