"""What the shipped migration costs a live database: the upgrade to head under appends.

A copy of the seeded data is put back to the layout before migration 0002 (the
``plain_keys`` variant, stamped 0001) and upgraded to head while writers append. Written to
``bench/upgrade.json``: the longest write-blocking lock the migration held (its primary-key
swap, timed by the migration from lock request to commit), and the appends' latency
before and during the upgrade. A measurement, not a timed test: it asserts only that no
append failed and the database reached head.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from chatkit_pg import migrate
from chatkit_pg.harness.online_upgrade import upgrade_under_appends
from chatkit_pg.harness.results import RunFolder

from .databases import BenchDatabases
from .profiles import Profile
from .variants import PLAIN_KEYS

FROM_REVISION = "0001"
WRITERS = 4


async def _back_to_0001(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in PLAIN_KEYS.ddl:
            await conn.execute(statement)
        await conn.execute("UPDATE chatkit_alembic_version SET version_num = $1", FROM_REVISION)
    finally:
        await conn.close()


@pytest.mark.benchmark(group="online upgrade")
def test_upgrade_to_head_under_appends(
    loop: asyncio.AbstractEventLoop,
    databases: BenchDatabases,
    profile: Profile,
    results: RunFolder,
    conditions: dict[str, Any],
) -> None:
    dsn = databases.seeded_copy("bench_upgrade")
    loop.run_until_complete(_back_to_0001(dsn))
    measured = loop.run_until_complete(upgrade_under_appends(dsn, writers=WRITERS))
    assert measured.append_failures == []
    assert measured.from_revision == FROM_REVISION
    assert measured.to_revision == migrate.head_revision()
    print(
        f"\nupgrade {FROM_REVISION} -> {measured.to_revision} on {measured.items_before:,} items: "
        f"{measured.upgrade_seconds} s, longest write-blocking lock {measured.longest_lock_ms} ms, "
        f"longest append {measured.longest_append_ms} ms"
    )
    results.write_json(
        RunFolder.UPGRADE_FILE,
        {"upgrade": measured.as_dict()},
        {**conditions, "profile": profile.name},
    )
