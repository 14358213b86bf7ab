"""The integrity check finds lost and doubled messages (it is not a rubber stamp)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from chatkit.types import ThreadMetadata, UserMessageItem

from chatkit_pg import PostgresStore
from chatkit_pg.harness.items import user_message
from chatkit_pg.loadtest.orchestration.integrity import check_integrity
from chatkit_pg.loadtest.scenarios.acks import RecordLog, read_records


def message(thread: ThreadMetadata, n: int) -> UserMessageItem:
    """User message ``msg_<n>`` in ``thread``."""
    return user_message(f"msg_{n}", thread.id, f"m{n}")


def write_acks(folder: Path, records: list[dict[str, Any]]) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "acks-test-1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def ack(req: str, thread_id: str, user_msg: str) -> list[dict[str, Any]]:
    base = {"req": req, "type": "threads.add_user_message", "user": "u", "thread_id": thread_id}
    return [
        {"op": "attempt", **base},
        {"op": "ack", **base, "user_message_id": user_msg, "assistant_message_id": None,
         "items": [[user_msg, "user_message"]]},
    ]  # fmt: skip


async def test_detects_lost_and_doubled(database_dsn: str, tmp_path: Path) -> None:
    store: PostgresStore[Any] = PostgresStore(database_dsn, pool_size=1, max_overflow=0)
    context = {"user_id": "u"}
    thread = ThreadMetadata(id="thr_a", created_at=datetime.now())
    try:
        await store.save_thread(thread, context)
        await store.add_thread_item(thread.id, message(thread, 1), context)
        # acknowledged msg_1 (stored) and msg_2 (never stored) -> lost
        write_acks(tmp_path / "lost", ack("r1", "thr_a", "msg_1") + ack("r2", "thr_a", "msg_2"))
        lost = await check_integrity(database_dsn, tmp_path / "lost", "counter")
        verdict = {c["name"]: c["passed"] for c in lost["checks"]}
        assert not lost["passed"] and not verdict["acknowledged_items_stored"]

        # one more stored user message nobody was told about -> doubled
        await store.add_thread_item(thread.id, message(thread, 3), context)
        write_acks(tmp_path / "extra", ack("r1", "thr_a", "msg_1"))
        extra = await check_integrity(database_dsn, tmp_path / "extra", "counter")
        verdict = {c["name"]: c["passed"] for c in extra["checks"]}
        assert verdict["acknowledged_items_stored"] and not verdict["no_extra_messages"]
        assert verdict["sort_keys_unique"] and verdict["no_orphans"]
    finally:
        await store.close()


def test_request_records_round_trip_and_skip_a_torn_line(tmp_path: Path) -> None:
    log = RecordLog(tmp_path)
    log.write({"type": "threads.list", "status": "ok", "e2e_ms": 3.5})
    log.close()
    assert log.path is not None
    with log.path.open("a", encoding="utf-8") as torn:
        torn.write('{"type": "threads.li')  # a process killed mid-write
    assert list(read_records(tmp_path)) == [{"type": "threads.list", "status": "ok", "e2e_ms": 3.5}]
    assert list(read_records(tmp_path / "none")) == []
