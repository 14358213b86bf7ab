"""Deterministic seeding with COPY: one long thread, a user with thousands of threads, bulk.

Rows are built from ``chatkit.types`` models and dumped exactly as the store dumps them, so a
seeded row reads back through ``PostgresStore`` like any other. The RNG is seeded, so two runs
(and every index variant, which copies the same template) hold byte-identical data:

* the deep thread: user messages (a sentence), assistant messages (1-4 KB), and widgets
  (5-20 KB, every 10th item, so every measured page holds the same mix), alternating like a
  conversation, with ``sort_key`` 1..N;
* the heavy user's thread list, a share of it sharing one ``created_at`` (the keyset tie case);
* background threads of other users with a few items each.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import asyncpg
from chatkit.types import (
    ThreadItem,
    ThreadMetadata,
    WidgetItem,
)
from pydantic import TypeAdapter
from tqdm import tqdm

from chatkit_pg.harness.items import assistant_message, user_message

from .profiles import Profile

SEED: Final = 20261126
USER_ID: Final = "bench_user"
DEEP_THREAD_ID: Final = "thr_bench_deep"
BASE_TIME: Final = datetime(2026, 1, 1, tzinfo=UTC)
COPY_BATCH: Final = 2_000
WIDGET_SHARE: Final = 0.15  # of assistant turns, placed at random (background, writers)
WIDGET_PERIOD: Final = 10  # the deep thread: every 10th item is a widget ...
WIDGET_SIZES_KB: Final = (5, 10, 15, 20)  # ... of these sizes in turn
SPREAD_SAMPLE: Final = 16_384  # background items remembered, evenly spaced, for spread reads

THREAD_COLUMNS: Final = ("id", "user_id", "created_at", "last_sort_key", "data")
ITEM_COLUMNS: Final = ("thread_id", "id", "sort_key", "type", "created_at", "data")

_ITEM: Final = TypeAdapter(ThreadItem)
_THREAD: Final = TypeAdapter(ThreadMetadata)

WORDS: Final = (
    "the database keeps every message in order while the assistant streams its answer to a "
    "user who asked about keyset pagination indexes vacuum latency throughput commit write "
    "ahead log buffer page tuple heap btree planner statistics connection pool transaction "
    "isolation snapshot lock row thread item widget card list chart summary result query "
    "cursor offset limit sort key counter sequence retry conflict deadlock replica backup "
    "schema migration column json document payload token model tool call reasoning search "
    "weather flight hotel invoice report meeting calendar reminder recipe travel budget"
).split()


@dataclass
class SeedResult:
    """What was written, for benchmarks that need ids at known positions.

    Attributes:
        deep_item_ids: ids of the deep thread's items by sort_key (index 0 = sort_key 1).
        heavy_thread_ids: the heavy user's thread ids in ``(created_at, id)`` ascending order
            (the deep thread included).
        spread_items: ``(thread_id, user_id, item_id)`` of up to :data:`SPREAD_SAMPLE`
            background items, evenly spaced over all of them (in the order written).
        threads / items / bytes: totals written.
    """

    deep_item_ids: list[str] = field(default_factory=list)
    heavy_thread_ids: list[str] = field(default_factory=list)
    spread_items: list[tuple[str, str, str]] = field(default_factory=list)
    threads: int = 0
    items: int = 0
    bytes: int = 0


def _text(rng: random.Random, target_bytes: int) -> str:
    words = rng.choices(WORDS, k=max(3, target_bytes // 7))
    return " ".join(words)[:target_bytes]


def _hex_id(rng: random.Random, prefix: str) -> str:
    return f"{prefix}_{rng.getrandbits(96):024x}"


def make_item(
    rng: random.Random,
    thread_id: str,
    item_id: str,
    position: int,
    created_at: datetime,
    *,
    periodic: bool = False,
) -> ThreadItem:
    """A realistic item for ``position`` in a conversation (even: user, odd: assistant).

    User messages are a sentence; assistant turns are 1-4 KB of text or, for
    :data:`WIDGET_SHARE` of them, a 5-20 KB list widget.

    Args:
        periodic: place widgets by position instead of at random: every
            :data:`WIDGET_PERIOD`-th item is a widget whose size cycles through
            :data:`WIDGET_SIZES_KB`. Parsing a widget costs ~100x a message, so with random
            placement a page's latency would follow how many widgets it happens to hold;
            periodic placement gives every page that starts at a multiple of
            ``WIDGET_PERIOD * len(WIDGET_SIZES_KB)`` the same mix, so depth is the only
            thing that changes between the pagination benchmarks.
    """
    if periodic and position % WIDGET_PERIOD == WIDGET_PERIOD - 1:
        cycle = (position // WIDGET_PERIOD) % len(WIDGET_SIZES_KB)
        return _widget(rng, thread_id, item_id, created_at, WIDGET_SIZES_KB[cycle] * 1024)
    if position % 2 == 0:
        return user_message(
            item_id, thread_id, _text(rng, rng.randint(20, 240)), created_at=created_at
        )
    if not periodic and rng.random() < WIDGET_SHARE:
        return _widget(rng, thread_id, item_id, created_at, rng.randint(5 * 1024, 20 * 1024))
    return assistant_message(
        item_id, thread_id, _text(rng, rng.randint(1024, 4096)), created_at=created_at
    )


def _widget(
    rng: random.Random, thread_id: str, item_id: str, created_at: datetime, target: int
) -> ThreadItem:
    rows: list[dict[str, Any]] = []
    size = 0
    while size < target:
        title, detail = _text(rng, 40), _text(rng, rng.randint(80, 400))
        size += len(title) + len(detail) + 120
        rows.append(
            {
                "type": "ListViewItem",
                "children": [
                    {"type": "Text", "value": title, "weight": "semibold"},
                    {"type": "Text", "value": detail, "size": "sm", "color": "secondary"},
                ],
            }
        )
    document = {
        "type": "widget",
        "id": item_id,
        "thread_id": thread_id,
        "created_at": created_at,
        "widget": {"type": "ListView", "children": rows},
        "copy_text": _text(rng, 200),
    }
    # Validating from data avoids the SDK's deprecation warning on named widget classes.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return WidgetItem.model_validate(document)


def item_record(item: ThreadItem, sort_key: int) -> tuple[Any, ...]:
    """The COPY row of ``item``, its document dumped exactly as the store dumps it."""
    data = _ITEM.dump_json(item).decode()
    return (item.thread_id, item.id, sort_key, item.type, item.created_at, data)


def thread_record(thread_id: str, user_id: str, created_at: datetime, last_key: int) -> tuple:
    data = _THREAD.dump_json(
        ThreadMetadata(id=thread_id, created_at=created_at, title=f"thread {thread_id[-6:]}")
    ).decode()
    return (thread_id, user_id, created_at, last_key, data)


# Background items come from a pool of documents made by make_item and dumped once, with
# placeholder ids and time that each row substitutes: byte-for-byte what the store would
# write for such an item, at a fraction of the cost (10^7 rows in the large profile).
TEMPLATES_PER_PARITY: Final = 64
_ITEM_PLACEHOLDER: Final = "msg_" + "0" * 24
_THREAD_PLACEHOLDER: Final = "thr_" + "0" * 24
_TIME_PLACEHOLDER: Final = datetime(1999, 9, 9, 9, 9, 9, tzinfo=UTC)
_TIME: Final = TypeAdapter(datetime)


def _dumped_time(value: datetime) -> str:
    return _TIME.dump_json(value).decode()


class _Templates:
    """Dumped user (even positions) and assistant/widget (odd) documents to fill in."""

    def __init__(self, rng: random.Random) -> None:
        stamp = _dumped_time(_TIME_PLACEHOLDER)
        self.pools: tuple[list[tuple[str, str]], ...] = ([], [])
        for parity in (0, 1):
            for _ in range(TEMPLATES_PER_PARITY):
                item = make_item(
                    rng, _THREAD_PLACEHOLDER, _ITEM_PLACEHOLDER, parity, _TIME_PLACEHOLDER
                )
                text = _ITEM.dump_json(item).decode()
                # Each placeholder appears exactly once (its field), so replace() is exact.
                for placeholder in (_ITEM_PLACEHOLDER, _THREAD_PLACEHOLDER, stamp):
                    assert text.count(placeholder) == 1, placeholder
                self.pools[parity].append((item.type, text.replace(stamp, "\x00TIME\x00")))

    def record(
        self,
        rng: random.Random,
        thread_id: str,
        item_id: str,
        position: int,
        created_at: datetime,
        stamp: str,
    ) -> tuple[Any, ...]:
        """The COPY row of a background item at ``position`` (see :func:`item_record`)."""
        kind, text = rng.choice(self.pools[position % 2])
        data = (
            text.replace(_ITEM_PLACEHOLDER, item_id)
            .replace(_THREAD_PLACEHOLDER, thread_id)
            .replace("\x00TIME\x00", stamp)
        )
        return (thread_id, item_id, position + 1, kind, created_at, data)


def _thread_rows(profile: Profile, rng: random.Random, result: SeedResult) -> list[tuple]:
    rows = [thread_record(DEEP_THREAD_ID, USER_ID, BASE_TIME, profile.deep_thread_items)]
    heavy = [(BASE_TIME, DEEP_THREAD_ID)]
    shared = int(profile.heavy_user_threads * profile.shared_created_at_fraction)
    tie_time = BASE_TIME + timedelta(days=30)
    for n in range(1, profile.heavy_user_threads):
        created = tie_time if n <= shared else BASE_TIME + timedelta(minutes=n)
        thread_id = _hex_id(rng, "thr")
        heavy.append((created, thread_id))
        rows.append(thread_record(thread_id, USER_ID, created, 0))
    # Ids compare byte-wise (COLLATE "C"), as Python compares ASCII strings.
    result.heavy_thread_ids = [thread_id for _, thread_id in sorted(heavy)]
    for n in range(profile.background_threads):
        created = BASE_TIME + timedelta(seconds=n)
        rows.append(
            thread_record(
                _hex_id(rng, "thr"),
                f"user_{n % 997}",
                created,
                profile.background_items_per_thread,
            )
        )
    return rows


def _item_rows(
    profile: Profile, rng: random.Random, background: list[tuple], result: SeedResult
) -> Iterator[tuple[Any, ...]]:
    for n in range(profile.deep_thread_items):
        item_id = _hex_id(rng, "msg")
        result.deep_item_ids.append(item_id)
        created = BASE_TIME + timedelta(seconds=n)
        item = make_item(rng, DEEP_THREAD_ID, item_id, n, created, periodic=True)
        yield item_record(item, n + 1)
    templates = _Templates(rng)
    stride = max(1, len(background) * profile.background_items_per_thread // SPREAD_SAMPLE)
    written = 0
    for thread_id, user_id, created, _last, _data in background:
        stamp = _dumped_time(created)
        for n in range(profile.background_items_per_thread):
            item_id = _hex_id(rng, "msg")
            if written % stride == 0 and len(result.spread_items) < SPREAD_SAMPLE:
                result.spread_items.append((thread_id, user_id, item_id))
            written += 1
            yield templates.record(rng, thread_id, item_id, n, created, stamp)


async def seed(conn: asyncpg.Connection, profile: Profile, *, progress: bool = True) -> SeedResult:
    """COPY the profile's data into a migrated, empty database and VACUUM ANALYZE it.

    Args:
        conn: a connection to the database (its schema at the store's head revision).
        profile: the sizes to write.
        progress: show a tqdm progress bar (on stderr).

    Returns:
        The ids benchmarks need and the totals written.
    """
    rng = random.Random(SEED)
    result = SeedResult()
    threads = _thread_rows(profile, rng, result)
    background = threads[profile.heavy_user_threads :]
    total_items = profile.deep_thread_items + len(background) * profile.background_items_per_thread
    await conn.copy_records_to_table("chatkit_threads", records=threads, columns=THREAD_COLUMNS)
    result.threads = len(threads)
    bar = tqdm(total=total_items, desc=f"seeding {profile.name}", unit="item", disable=not progress)
    batch: list[tuple[Any, ...]] = []
    try:
        for record in _item_rows(profile, rng, background, result):
            batch.append(record)
            result.bytes += len(record[-1])
            if len(batch) == COPY_BATCH:
                await _copy_items(conn, batch)
                bar.update(len(batch))
                batch = []
        if batch:
            await _copy_items(conn, batch)
            bar.update(len(batch))
    finally:
        bar.close()
    result.items = total_items
    # Visibility map and statistics as a long-running database would have them.
    await conn.execute("VACUUM (ANALYZE) chatkit_threads, chatkit_thread_items")
    return result


async def _copy_items(conn: asyncpg.Connection, batch: list[tuple[Any, ...]]) -> None:
    await conn.copy_records_to_table("chatkit_thread_items", records=batch, columns=ITEM_COLUMNS)
