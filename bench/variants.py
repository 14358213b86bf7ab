"""Layout variants: THE one place that defines the index and storage layouts the bench compares.

Each variant is DDL applied to a database already migrated to the store's head revision and
seeded (a copy of the seeded template), so every variant holds the same rows. Production has
one migration chain; these are experiments, never revisions.

The store's ``UNIQUE (thread_id, sort_key)`` is also its page index. Variants that drop it
still work with the default ``counter`` strategy (which never relies on the constraint);
only ``unique_retry`` needs it, and the bench runs strategies on ``recommended`` only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import asyncpg

from chatkit_pg import sql
from chatkit_pg.harness.results import RunFolder

ITEMS: Final = "chatkit_thread_items"
THREADS: Final = "chatkit_threads"
ATTACHMENTS: Final = "chatkit_attachments"
TABLES: Final = (THREADS, ITEMS, ATTACHMENTS)

_DROP_STORE_PAGE_INDEXES: Final = (
    f"ALTER TABLE {ITEMS} DROP CONSTRAINT {sql.ITEMS_SORT_KEY_UNIQUE}",
    "DROP INDEX ix_chatkit_threads_user_id_created_at_id",
)


@dataclass(frozen=True)
class IndexVariant:
    """A named index layout.

    Attributes:
        name: short name used in benchmark ids, result files and reports.
        description: one line for humans.
        ddl: statements that turn the migrated schema into this layout.
        sort_key_unique: whether ``UNIQUE (thread_id, sort_key)`` still exists.
        requires: ``(setting, value)`` the server must offer in ``pg_settings.enumvals``
            (e.g. lz4 TOAST compression, which not every build has); else it is skipped.
    """

    name: str
    description: str
    ddl: tuple[str, ...]
    sort_key_unique: bool
    requires: tuple[str, str] | None = None


RECOMMENDED: Final = IndexVariant(
    name="recommended",
    description="what the migrations create: items PK (thread_id, id) INCLUDE (sort_key) and "
    "UNIQUE (thread_id, sort_key); threads PK (id) INCLUDE (user_id, created_at) and "
    "(user_id, created_at, id)",
    ddl=(),
    sort_key_unique=True,
)

SKETCH: Final = IndexVariant(
    name="sketch",
    description="the original design sketch: items (thread_id, sort_key) and "
    "(thread_id, created_at); threads (user_id) and (user_id, created_at); no uniqueness",
    ddl=(
        *_DROP_STORE_PAGE_INDEXES,
        f"CREATE INDEX ix_sketch_items_thread_id_sort_key ON {ITEMS} (thread_id, sort_key)",
        f"CREATE INDEX ix_sketch_items_thread_id_created_at ON {ITEMS} (thread_id, created_at)",
        f"CREATE INDEX ix_sketch_threads_user_id ON {THREADS} (user_id)",
        f"CREATE INDEX ix_sketch_threads_user_id_created_at ON {THREADS} (user_id, created_at)",
    ),
    sort_key_unique=False,
)

PK_ONLY: Final = IndexVariant(
    name="pk_only",
    description="the shipped primary keys only: items (thread_id, id) INCLUDE (sort_key), "
    "threads (id) INCLUDE (user_id, created_at)",
    ddl=_DROP_STORE_PAGE_INDEXES,
    sort_key_unique=False,
)

# The primary keys before migration 0002. Every next page first resolves its cursor by
# primary key ((thread_id, id) for items, id for threads); 0002 INCLUDEs the cursor columns
# (sort_key; user_id, created_at) so that lookup reads the index only. This variant puts the
# plain keys back, to keep measuring what that decision bought.
PLAIN_KEYS: Final = IndexVariant(
    name="plain_keys",
    description="recommended with 0001's plain primary keys: items (thread_id, id), threads (id), "
    "no INCLUDE columns (cursor lookups read the heap)",
    ddl=(
        f"ALTER TABLE {ITEMS} DROP CONSTRAINT {sql.ITEMS_PRIMARY_KEY}",
        f"ALTER TABLE {ITEMS} ADD CONSTRAINT {sql.ITEMS_PRIMARY_KEY} PRIMARY KEY (thread_id, id)",
        # The foreign keys depend on the threads' primary key: drop and re-add them by name.
        f"ALTER TABLE {THREADS} DROP CONSTRAINT pk_chatkit_threads CASCADE",
        f"ALTER TABLE {THREADS} ADD CONSTRAINT pk_chatkit_threads PRIMARY KEY (id)",
        f"ALTER TABLE {ITEMS} ADD CONSTRAINT {sql.ITEMS_THREAD_FOREIGN_KEY} "
        f"FOREIGN KEY (thread_id) REFERENCES {THREADS} (id) ON DELETE CASCADE",
        f"ALTER TABLE {ATTACHMENTS} ADD CONSTRAINT {sql.ATTACHMENTS_THREAD_FOREIGN_KEY} "
        f"FOREIGN KEY (thread_id) REFERENCES {THREADS} (id) ON DELETE CASCADE",
    ),
    sort_key_unique=True,
)

PARTITIONS: Final = 8

# The items table hash-partitioned by thread_id: every statement of the store names the
# thread, so each touches one partition, and each partition's indexes are an eighth the size.
# (Unique violations then name a partition's index, not the parent constraint: shipping this
# would need the store to map those names.)
HASH_PARTITIONED: Final = IndexVariant(
    name="hash_partitioned",
    description="recommended indexes on an items table hash-partitioned by thread_id "
    f"({PARTITIONS} partitions)",
    ddl=(
        """
        CREATE TABLE chatkit_thread_items_partitioned
            (LIKE chatkit_thread_items INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
            PARTITION BY HASH (thread_id)
        """,
        """
        DO $$
        BEGIN
            FOR n IN 0..7 LOOP
                EXECUTE format(
                    'CREATE TABLE chatkit_thread_items_p%s PARTITION OF '
                    'chatkit_thread_items_partitioned FOR VALUES WITH (MODULUS 8, REMAINDER %s)',
                    n, n);
            END LOOP;
        END $$
        """,
        "INSERT INTO chatkit_thread_items_partitioned SELECT * FROM chatkit_thread_items",
        "DROP TABLE chatkit_thread_items",
        "ALTER TABLE chatkit_thread_items_partitioned RENAME TO chatkit_thread_items",
        """
        ALTER TABLE chatkit_thread_items
            ADD CONSTRAINT pk_chatkit_thread_items PRIMARY KEY (thread_id, id) INCLUDE (sort_key),
            ADD CONSTRAINT uq_chatkit_thread_items_thread_id_sort_key UNIQUE (thread_id, sort_key),
            ADD CONSTRAINT fk_chatkit_thread_items_thread_id_chatkit_threads
                FOREIGN KEY (thread_id) REFERENCES chatkit_threads (id) ON DELETE CASCADE
        """,
    ),
    sort_key_unique=True,
)

# SET COMPRESSION / SET STORAGE apply to values written afterwards, so every document is
# rewritten (json -> text -> json makes a fresh datum) and VACUUM FULL drops the old versions.
_REWRITE_DOCUMENTS: Final = (
    "UPDATE chatkit_threads SET data = data::text::json",
    "UPDATE chatkit_thread_items SET data = data::text::json",
    "VACUUM FULL chatkit_threads",
    "VACUUM FULL chatkit_thread_items",
)

# The documents' storage. The shipped layout is `json` with the server's default TOAST
# compression (pglz unless default_toast_compression says otherwise).
LZ4: Final = IndexVariant(
    name="lz4",
    description="recommended, with the documents (threads and items data) TOAST-compressed "
    "with lz4 instead of the default pglz",
    ddl=(
        "ALTER TABLE chatkit_threads ALTER COLUMN data SET COMPRESSION lz4",
        "ALTER TABLE chatkit_thread_items ALTER COLUMN data SET COMPRESSION lz4",
        *_REWRITE_DOCUMENTS,
    ),
    sort_key_unique=True,
    requires=("default_toast_compression", "lz4"),
)

UNCOMPRESSED: Final = IndexVariant(
    name="uncompressed",
    description="recommended, with the documents stored out of line without compression "
    "(STORAGE EXTERNAL)",
    ddl=(
        "ALTER TABLE chatkit_threads ALTER COLUMN data SET STORAGE EXTERNAL",
        "ALTER TABLE chatkit_thread_items ALTER COLUMN data SET STORAGE EXTERNAL",
        *_REWRITE_DOCUMENTS,
    ),
    sort_key_unique=True,
)

VARIANTS: Final[dict[str, IndexVariant]] = {
    v.name: v
    for v in (RECOMMENDED, SKETCH, PK_ONLY, PLAIN_KEYS, HASH_PARTITIONED, LZ4, UNCOMPRESSED)
}

# Sizes per table: heap + TOAST, all its indexes, and each index by name. A partitioned
# table's sizes are its partitions' (pg_partition_tree lists a plain table as itself).
SIZES_SQL: Final = """
SELECT c.relname AS table_name,
       sum(pg_table_size(r.relid)) AS table_bytes,
       sum(pg_indexes_size(r.relid)) AS index_bytes,
       COALESCE(
           (SELECT json_object_agg(ic.relname, pg_relation_size(ic.oid))
              FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid
             WHERE ic.relkind = 'i'
               AND x.indrelid IN (SELECT c.oid UNION SELECT relid FROM pg_partition_tree(c.oid))),
           '{}'::json
       )::text AS indexes
  FROM pg_class c
 CROSS JOIN LATERAL (
       SELECT c.oid AS relid
        UNION
       SELECT t.relid FROM pg_partition_tree(c.oid) t
       ) r
 WHERE c.relname = ANY($1::text[]) AND c.relkind IN ('r', 'p')
   AND c.relnamespace = 'public'::regnamespace
 GROUP BY c.oid, c.relname
"""

# The shipped layout: what the migrations create. The report calls this variant "shipped";
# tests/bench/test_shipped_layout.py checks that it is exactly what the migrations produce.
SHIPPED: Final = RECOMMENDED.name

# A layout as the catalog sees it: each table's kind (plain or partitioned), every index
# definition, and how the documents are stored (TOAST compression and storage strategy).
LAYOUT_SQL: Final = """
SELECT c.relname AS table_name,
       c.relkind::text AS kind,
       (SELECT array_agg(pg_get_indexdef(x.indexrelid) ORDER BY 1)
          FROM pg_index x WHERE x.indrelid = c.oid) AS indexes,
       (SELECT a.attcompression::text || '/' || a.attstorage::text
          FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'data') AS documents
  FROM pg_class c
 WHERE c.relname = ANY($1::text[]) AND c.relkind IN ('r', 'p')
   AND c.relnamespace = 'public'::regnamespace
 ORDER BY c.relname
"""


async def layout(conn: asyncpg.Connection) -> dict[str, Any]:
    """The database's layout of the store's tables (see :data:`LAYOUT_SQL`)."""
    rows = await conn.fetch(LAYOUT_SQL, list(TABLES))
    return {
        row["table_name"]: {
            "kind": row["kind"],
            "indexes": list(row["indexes"] or []),
            "documents": row["documents"],
        }
        for row in rows
    }


# What the server can offer a variant (enum settings such as default_toast_compression).
SETTING_CHOICES_SQL: Final = "SELECT enumvals FROM pg_settings WHERE name = $1"


async def unsupported_reason(conn: asyncpg.Connection, variant: IndexVariant) -> str | None:
    """Why this server cannot hold ``variant`` (e.g. a build without lz4), or None."""
    if variant.requires is None:
        return None
    setting, value = variant.requires
    choices = await conn.fetchval(SETTING_CHOICES_SQL, setting)
    if choices is not None and value in choices:
        return None
    return f"variant {variant.name} needs {setting}={value}; this server offers {choices}"


def get_variant(name: str) -> IndexVariant:
    """Look up a variant by name, with an error that lists the valid names."""
    try:
        return VARIANTS[name]
    except KeyError:
        choices = ", ".join(VARIANTS)
        raise ValueError(f"unknown index variant {name!r}; choose one of {choices}") from None


def write_variant_catalog(folder: RunFolder, conditions: dict[str, Any]) -> Path:
    """Write ``bench/variants.json``: each variant's definition, as this run applied it.

    The report reads a variant's description and uniqueness from here, so an old run is
    judged by the layouts it measured, not by today's definitions.
    """
    return folder.write_json(
        RunFolder.VARIANTS_FILE,
        {
            "shipped": SHIPPED,
            "variants": {name: asdict(variant) for name, variant in VARIANTS.items()},
        },
        conditions,
    )
