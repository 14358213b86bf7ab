"""Primary keys that carry the cursor columns, for index-only cursor lookups.

Every next page first resolves its cursor: an item by (thread_id, id) for its sort_key, a
thread by id for its (user_id, created_at). With those columns INCLUDEd in the primary-key
indexes, the lookup reads the index only (bench/: the ``covering`` layout, see bench/README.md).

Written for populated, live databases:
1. the new unique indexes are built with CREATE UNIQUE INDEX CONCURRENTLY, outside any
   transaction, while writers keep writing (a leftover INVALID index from an interrupted
   run is dropped first);
2. one short transaction swaps them in as the primary keys. It takes its locks in the
   order appends take them (items, threads, attachments), waits at most LOCK_TIMEOUT for
   them and is retried, so a long transaction elsewhere cannot queue every writer behind it;
3. the foreign keys that depend on the threads' primary key come back NOT VALID inside that
   transaction and are validated afterwards, which blocks no writer.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from alembic import op
from sqlalchemy import exc, text

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Lock timings go here (chatkit_pg.harness.online_upgrade collects them).
log = logging.getLogger("chatkit_pg.migrations")

THREADS = "chatkit_threads"
ITEMS = "chatkit_thread_items"
ATTACHMENTS = "chatkit_attachments"
# The swap waits at most this long for its locks, while writers queue behind its request.
LOCK_TIMEOUT = "2s"
SWAP_ATTEMPTS = 30
RETRIED_SQLSTATES = ("55P03", "40P01")  # lock_not_available, deadlock_detected


# (table, constraint, definition). Plain tuples: alembic loads this file outside
# sys.modules, where dataclasses cannot resolve their annotations.
COVERING = (
    (THREADS, "pk_chatkit_threads", "(id) INCLUDE (user_id, created_at)"),
    (ITEMS, "pk_chatkit_thread_items", "(thread_id, id) INCLUDE (sort_key)"),
)
PLAIN = (
    (THREADS, "pk_chatkit_threads", "(id)"),
    (ITEMS, "pk_chatkit_thread_items", "(thread_id, id)"),
)
# (table, constraint) of the foreign keys that depend on the threads' primary key.
FOREIGN_KEYS = (
    (ITEMS, "fk_chatkit_thread_items_thread_id_chatkit_threads"),
    (ATTACHMENTS, "fk_chatkit_attachments_thread_id_chatkit_threads"),
)
PrimaryKeys = tuple[tuple[str, str, str], ...]


def upgrade() -> None:
    """Swap in primary keys that INCLUDE the cursor columns, without blocking writes."""
    _replace_primary_keys(COVERING)


def downgrade() -> None:
    """Back to 0001's plain primary keys, the same way."""
    _replace_primary_keys(PLAIN)


def _replace_primary_keys(keys: PrimaryKeys) -> None:
    # Every step below commits on its own: nothing holds a lock across the index builds.
    with op.get_context().autocommit_block():
        for table, name, definition in keys:
            # An interrupted CONCURRENTLY build leaves an INVALID index behind.
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}_next")
            op.execute(f"CREATE UNIQUE INDEX CONCURRENTLY {name}_next ON {table} {definition}")
        _swap(keys)
        for table, name in FOREIGN_KEYS:
            # SHARE UPDATE EXCLUSIVE on the table, ROW SHARE on threads: writers go on.
            op.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")


def _swap(keys: PrimaryKeys) -> None:
    """The one write-blocking step: a short transaction, retried when its locks are busy."""
    statements = [
        f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'",
        # The order an append locks in: its statement locks its INSERT target (items) before
        # the threads it updates. Threads first made a soft deadlock with appenders that
        # only the deadlock detector untangled, after deadlock_timeout (1 s measured).
        f"LOCK TABLE {ITEMS}, {THREADS}, {ATTACHMENTS} IN ACCESS EXCLUSIVE MODE",
        *(f"ALTER TABLE {table} DROP CONSTRAINT {name}" for table, name in FOREIGN_KEYS),
        *(
            f"ALTER TABLE {table} DROP CONSTRAINT {name}, "
            f"ADD CONSTRAINT {name} PRIMARY KEY USING INDEX {name}_next"
            for table, name, _ in keys
        ),
        # NOT VALID: no scan under these locks; validated after the commit.
        *(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY (thread_id) "
            f"REFERENCES {THREADS} (id) ON DELETE CASCADE NOT VALID"
            for table, name in FOREIGN_KEYS
        ),
    ]
    bind = op.get_bind()
    for attempt in range(1, SWAP_ATTEMPTS + 1):
        bind.execute(text("BEGIN"))
        # From the lock request (writers queue behind it) to the commit that releases it.
        requested = time.perf_counter()
        try:
            for statement in statements:
                bind.execute(text(statement))
        except exc.DBAPIError as error:
            bind.execute(text("ROLLBACK"))
            if getattr(error.orig, "sqlstate", None) not in RETRIED_SQLSTATES:
                raise
            if attempt == SWAP_ATTEMPTS:
                raise RuntimeError(
                    f"could not lock {THREADS}, {ITEMS} and {ATTACHMENTS} within {LOCK_TIMEOUT} "
                    f"in {SWAP_ATTEMPTS} attempts: a long transaction holds them. End it and "
                    "run the migration again (what was done so far is kept and redone safely)"
                ) from error
            time.sleep(min(0.1 * attempt, 2.0))
        else:
            bind.execute(text("COMMIT"))
            held_ms = round(1000 * (time.perf_counter() - requested), 1)
            locked = f"ACCESS EXCLUSIVE on {ITEMS}, {THREADS}, {ATTACHMENTS}"
            log.info(
                "primary-key swap held %s for %.1f ms (attempt %d)",
                locked,
                held_ms,
                attempt,
                # For tools that collect lock holds (chatkit_pg.harness.online_upgrade).
                extra={"lock_hold": {"what": locked, "milliseconds": held_ms, "attempt": attempt}},
            )
            return
