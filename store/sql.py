"""Every SQL statement the store runs, as constants named by intent.

Conventions (so a database engineer can read each statement on its own):

* Statements run on the asyncpg connection with ``$n`` parameters; asyncpg prepares each
  once per connection and caches it, so the hot paths cost one round trip.
* Item statements share one parameter order:
  ``$1 thread_id, $2 user_id, $3 item_id, $4 type, $5 created_at, $6 data (JSON text)``.
* Ownership is part of every statement: a row is reached only through a thread whose
  ``user_id`` matches the caller, so another user's ids behave as if they did not exist.
* Documents are stored as ``json`` (exact text), read back with ``::text`` so the JSON codec
  of whoever owns the engine does not matter. ``jsonb`` would reject the ``\\u0000`` escape
  that users can type; ``json`` keeps it.
* Nothing here is built from request values. The only templating is the sort direction,
  chosen from the two fixed entries of :data:`DIRECTIONS` when this module is imported.
"""

from __future__ import annotations

from typing import Final

# order -> (SQL direction, comparison that walks past the cursor in that direction)
DIRECTIONS: Final[dict[str, tuple[str, str]]] = {"asc": ("ASC", ">"), "desc": ("DESC", "<")}

# -- threads --------------------------------------------------------------------------

# Upsert owned by $2. A thread id held by another user matches the conflict but fails the
# WHERE, so nothing is written and no row comes back: the caller reports NotFoundError.
UPSERT_THREAD_SQL: Final = """
INSERT INTO chatkit_threads AS t (id, user_id, created_at, data)
VALUES ($1, $2, $3, $4::json)
ON CONFLICT (id) DO UPDATE
   SET created_at = EXCLUDED.created_at,
       data       = EXCLUDED.data,
       updated_at = now()
 WHERE t.user_id = EXCLUDED.user_id
RETURNING t.id
"""

SELECT_THREAD_SQL: Final = """
SELECT data::text AS data
  FROM chatkit_threads
 WHERE id = $1 AND user_id = $2
"""

# ON DELETE CASCADE removes the thread's items and attachments in the same statement.
DELETE_THREAD_SQL: Final = """
DELETE FROM chatkit_threads
 WHERE id = $1 AND user_id = $2
RETURNING id
"""

# Thread pages are keyset pages over the row value (created_at, id), served by the index
# (user_id, created_at, id): threads that share a created_at are never skipped or repeated.
_THREADS_FIRST_PAGE = """
SELECT true AS cursor_found, t.data::text AS data
  FROM chatkit_threads t
 WHERE t.user_id = $1
 ORDER BY t.created_at {dir}, t.id {dir}
 LIMIT $2
"""

# One round trip including cursor resolution: the cursor row is looked up in a CTE and the
# page is a LATERAL join on it. An unknown cursor yields exactly one row with
# cursor_found = false; a known cursor at the end yields one row with data NULL.
_THREADS_NEXT_PAGE = """
WITH cursor AS (
    SELECT created_at, id
      FROM chatkit_threads
     WHERE id = $3 AND user_id = $1
)
SELECT cursor.id IS NOT NULL AS cursor_found, page.data
  FROM (SELECT 1) AS one
  LEFT JOIN cursor ON true
  LEFT JOIN LATERAL (
        SELECT t.data::text AS data, t.created_at, t.id
          FROM chatkit_threads t
         WHERE t.user_id = $1
           AND (t.created_at, t.id) {cmp} (cursor.created_at, cursor.id)
         ORDER BY t.created_at {dir}, t.id {dir}
         LIMIT $2
  ) AS page ON true
 ORDER BY page.created_at {dir}, page.id {dir}
"""

# -- thread items: reads ----------------------------------------------------------------

SELECT_ITEM_SQL: Final = """
SELECT i.data::text AS data
  FROM chatkit_thread_items i
  JOIN chatkit_threads t ON t.id = i.thread_id
 WHERE i.thread_id = $1 AND i.id = $3 AND t.user_id = $2
"""

_ITEMS_FIRST_PAGE = """
SELECT true AS cursor_found, i.data::text AS data
  FROM chatkit_thread_items i
  JOIN chatkit_threads t ON t.id = i.thread_id
 WHERE i.thread_id = $1 AND t.user_id = $2
 ORDER BY i.sort_key {dir}
 LIMIT $3
"""

# Same shape as the thread page: cursor resolved in the same statement, seek on sort_key.
_ITEMS_NEXT_PAGE = """
WITH cursor AS (
    SELECT c.sort_key
      FROM chatkit_thread_items c
      JOIN chatkit_threads t ON t.id = c.thread_id
     WHERE c.thread_id = $1 AND c.id = $4 AND t.user_id = $2
)
SELECT cursor.sort_key IS NOT NULL AS cursor_found, page.data
  FROM (SELECT 1) AS one
  LEFT JOIN cursor ON true
  LEFT JOIN LATERAL (
        SELECT i.data::text AS data, i.sort_key
          FROM chatkit_thread_items i
         WHERE i.thread_id = $1 AND i.sort_key {cmp} cursor.sort_key
         ORDER BY i.sort_key {dir}
         LIMIT $3
  ) AS page ON true
 ORDER BY page.sort_key {dir}
"""


def _by_order(template: str) -> dict[str, str]:
    return {
        order: template.format(dir=direction, cmp=comparison)
        for order, (direction, comparison) in DIRECTIONS.items()
    }


# Parameters: $1 user_id, $2 limit (+1 to learn has_more), $3 cursor thread id.
SELECT_THREADS_FIRST_PAGE_SQL: Final = _by_order(_THREADS_FIRST_PAGE)
SELECT_THREADS_NEXT_PAGE_SQL: Final = _by_order(_THREADS_NEXT_PAGE)
# Parameters: $1 thread_id, $2 user_id, $3 limit (+1), $4 cursor item id.
SELECT_ITEMS_FIRST_PAGE_SQL: Final = _by_order(_ITEMS_FIRST_PAGE)
SELECT_ITEMS_NEXT_PAGE_SQL: Final = _by_order(_ITEMS_NEXT_PAGE)

# -- thread items: deletes --------------------------------------------------------------

# Reports whether the thread is the caller's, so a foreign thread is NotFoundError while a
# missing item in an owned thread is a no-op (the SDK deletes items it may never have saved).
DELETE_ITEM_SQL: Final = """
WITH thread AS (
    SELECT id FROM chatkit_threads WHERE id = $1 AND user_id = $2
), deleted AS (
    DELETE FROM chatkit_thread_items i
     USING thread
     WHERE i.thread_id = thread.id AND i.id = $3
    RETURNING i.id
)
SELECT EXISTS (SELECT 1 FROM thread) AS thread_found,
       (SELECT count(*) FROM deleted) AS deleted
"""

# -- thread items: sort_key allocation ----------------------------------------------------
# One family of statements per strategy; store/strategies.py says which strategy runs which.

# counter (the default): bump the thread's last_sort_key and insert in one statement. The
# UPDATE takes the thread's row lock until commit, so appends to one thread commit in key
# order, keys are gapless, and a reader paging by sort_key never skips a late commit.
# Zero rows back means the thread is not the caller's (or does not exist). A duplicate
# item id fails the primary key and rolls the bump back with it.
# GREATEST(..., max(sort_key)) lets counter take over a thread that another strategy wrote
# (those never advance last_sort_key): one descent of the (thread_id, sort_key) index.
ADD_ITEM_COUNTER_SQL: Final = """
WITH bumped AS (
    UPDATE chatkit_threads t
       SET last_sort_key = GREATEST(
               t.last_sort_key,
               (SELECT max(i.sort_key) FROM chatkit_thread_items i WHERE i.thread_id = t.id)
           ) + 1
     WHERE t.id = $1 AND t.user_id = $2
    RETURNING t.last_sort_key
)
INSERT INTO chatkit_thread_items (thread_id, id, sort_key, type, created_at, data)
SELECT $1, $3, bumped.last_sort_key, $4, $5, $6::json
  FROM bumped
RETURNING sort_key
"""

# counter upsert: an existing item is updated in place and keeps its key; only a new item
# bumps the counter. Two racing saves of the same new id both bump (the second after the
# first commits), and ON CONFLICT turns the second insert into an update: one row, last
# write wins, one key (the counter keeps a gap, which ordering does not mind).
UPSERT_ITEM_COUNTER_SQL: Final = """
WITH thread AS (
    SELECT id FROM chatkit_threads WHERE id = $1 AND user_id = $2
), updated AS (
    UPDATE chatkit_thread_items i
       SET type = $4, created_at = $5, data = $6::json
      FROM thread
     WHERE i.thread_id = thread.id AND i.id = $3
    RETURNING i.sort_key
), bumped AS (
    UPDATE chatkit_threads t
       SET last_sort_key = GREATEST(
               t.last_sort_key,
               (SELECT max(m.sort_key) FROM chatkit_thread_items m WHERE m.thread_id = t.id)
           ) + 1
      FROM thread
     WHERE t.id = thread.id AND NOT EXISTS (SELECT 1 FROM updated)
    RETURNING t.last_sort_key
), inserted AS (
    INSERT INTO chatkit_thread_items AS i (thread_id, id, sort_key, type, created_at, data)
    SELECT $1, $3, bumped.last_sort_key, $4, $5, $6::json
      FROM bumped
    ON CONFLICT (thread_id, id) DO UPDATE
       SET type = EXCLUDED.type, created_at = EXCLUDED.created_at, data = EXCLUDED.data
    RETURNING i.sort_key
)
SELECT sort_key FROM updated
UNION ALL
SELECT sort_key FROM inserted
"""

# Serialise writers of one thread for the rest of the transaction (locked_max).
LOCK_THREAD_ROW_SQL: Final = """
SELECT id FROM chatkit_threads WHERE id = $1 AND user_id = $2 FOR UPDATE
"""

# Serialise writers of one thread without touching its row (advisory). Two threads whose
# ids hash alike merely share a lock; correctness does not depend on the hash.
LOCK_THREAD_ADVISORY_SQL: Final = """
SELECT pg_advisory_xact_lock(hashtextextended($1, 0))
"""

# The read half of a max()+1 allocation: no row when the thread is not the caller's.
# It runs as its own statement so that, after a lock was taken, it sees the rows that the
# previous lock holder committed (a statement's snapshot predates any lock it waits for).
SELECT_NEXT_SORT_KEY_SQL: Final = """
SELECT COALESCE((SELECT max(i.sort_key) FROM chatkit_thread_items i WHERE i.thread_id = t.id), 0)
       + 1 AS next_sort_key
  FROM chatkit_threads t
 WHERE t.id = $1 AND t.user_id = $2
"""

# The write half, with its own parameters (no user_id: the read checked ownership):
# $1 thread_id, $2 item_id, $3 sort_key read above, $4 type, $5 created_at, $6 data.
INSERT_ITEM_SQL: Final = """
INSERT INTO chatkit_thread_items (thread_id, id, sort_key, type, created_at, data)
VALUES ($1, $2, $3, $4, $5, $6::json)
RETURNING sort_key
"""

# The upsert twin of INSERT_ITEM_SQL (the key is ignored when the item exists).
UPSERT_ITEM_SQL: Final = """
INSERT INTO chatkit_thread_items AS i (thread_id, id, sort_key, type, created_at, data)
VALUES ($1, $2, $3, $4, $5, $6::json)
ON CONFLICT (thread_id, id) DO UPDATE
   SET type = EXCLUDED.type, created_at = EXCLUDED.created_at, data = EXCLUDED.data
RETURNING i.sort_key
"""

# unique_retry: read max()+1 and insert in one statement. Racing writers can compute the
# same key; UNIQUE (thread_id, sort_key) rejects all but one and the losers retry.
ADD_ITEM_MAX_SQL: Final = """
INSERT INTO chatkit_thread_items (thread_id, id, sort_key, type, created_at, data)
SELECT t.id, $3,
       COALESCE((SELECT max(i.sort_key) FROM chatkit_thread_items i WHERE i.thread_id = t.id), 0)
       + 1,
       $4, $5, $6::json
  FROM chatkit_threads t
 WHERE t.id = $1 AND t.user_id = $2
RETURNING sort_key
"""

UPSERT_ITEM_MAX_SQL: Final = """
INSERT INTO chatkit_thread_items AS i (thread_id, id, sort_key, type, created_at, data)
SELECT t.id, $3,
       COALESCE((SELECT max(m.sort_key) FROM chatkit_thread_items m WHERE m.thread_id = t.id), 0)
       + 1,
       $4, $5, $6::json
  FROM chatkit_threads t
 WHERE t.id = $1 AND t.user_id = $2
ON CONFLICT (thread_id, id) DO UPDATE
   SET type = EXCLUDED.type, created_at = EXCLUDED.created_at, data = EXCLUDED.data
RETURNING i.sort_key
"""

# sequence: one global identity. Unique without locks, but a writer can take a smaller key
# and commit after a reader has paged past it (the late-commit anomaly the tests show).
# The sequence is global; GREATEST keeps a new key above a thread's existing ones when
# another strategy wrote that thread with keys the sequence has not reached yet.
ADD_ITEM_SEQUENCE_SQL: Final = """
INSERT INTO chatkit_thread_items (thread_id, id, sort_key, type, created_at, data)
SELECT t.id, $3,
       GREATEST(
           nextval('chatkit_thread_items_sort_key_seq'),
           (SELECT max(m.sort_key) + 1 FROM chatkit_thread_items m WHERE m.thread_id = t.id)
       ),
       $4, $5, $6::json
  FROM chatkit_threads t
 WHERE t.id = $1 AND t.user_id = $2
RETURNING sort_key
"""

UPSERT_ITEM_SEQUENCE_SQL: Final = """
INSERT INTO chatkit_thread_items AS i (thread_id, id, sort_key, type, created_at, data)
SELECT t.id, $3,
       GREATEST(
           nextval('chatkit_thread_items_sort_key_seq'),
           (SELECT max(m.sort_key) + 1 FROM chatkit_thread_items m WHERE m.thread_id = t.id)
       ),
       $4, $5, $6::json
  FROM chatkit_threads t
 WHERE t.id = $1 AND t.user_id = $2
ON CONFLICT (thread_id, id) DO UPDATE
   SET type = EXCLUDED.type, created_at = EXCLUDED.created_at, data = EXCLUDED.data
RETURNING i.sort_key
"""

# -- attachments ------------------------------------------------------------------------

# Upsert owned by $2; a thread_id must name one of the caller's threads. Zero rows back
# means the id is another user's or the thread is not the caller's.
UPSERT_ATTACHMENT_SQL: Final = """
INSERT INTO chatkit_attachments AS a (id, user_id, thread_id, data)
SELECT $1, $2, $3, $4::json
 WHERE $3::text IS NULL
    OR EXISTS (SELECT 1 FROM chatkit_threads t WHERE t.id = $3 AND t.user_id = $2)
ON CONFLICT (id) DO UPDATE
   SET thread_id = EXCLUDED.thread_id, data = EXCLUDED.data
 WHERE a.user_id = EXCLUDED.user_id
RETURNING a.id
"""

SELECT_ATTACHMENT_SQL: Final = """
SELECT data::text AS data
  FROM chatkit_attachments
 WHERE id = $1 AND user_id = $2
"""

DELETE_ATTACHMENT_SQL: Final = """
DELETE FROM chatkit_attachments
 WHERE id = $1 AND user_id = $2
RETURNING id
"""

# -- constraint names the store translates into its own errors ---------------------------

ITEMS_PRIMARY_KEY: Final = "pk_chatkit_thread_items"
ITEMS_SORT_KEY_UNIQUE: Final = "uq_chatkit_thread_items_thread_id_sort_key"
ITEMS_THREAD_FOREIGN_KEY: Final = "fk_chatkit_thread_items_thread_id_chatkit_threads"
ATTACHMENTS_THREAD_FOREIGN_KEY: Final = "fk_chatkit_attachments_thread_id_chatkit_threads"
