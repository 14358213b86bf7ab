"""Index variants: THE one place that defines the index layouts the bench compares.

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
    """

    name: str
    description: str
    ddl: tuple[str, ...]
    sort_key_unique: bool


RECOMMENDED: Final = IndexVariant(
    name="recommended",
    description="what the migration creates: items UNIQUE (thread_id, sort_key); "
    "threads (user_id, created_at, id)",
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
    description="primary keys only: items (thread_id, id), threads (id)",
    ddl=_DROP_STORE_PAGE_INDEXES,
    sort_key_unique=False,
)

# Every next page first resolves its cursor by primary key ((thread_id, id) for items, id for
# threads) and then reads the heap for sort_key / (user_id, created_at). Carrying those
# columns in the primary-key index makes that lookup an index-only scan. The item documents
# themselves are TOASTed and cannot be covered, so the page itself is unchanged.
COVERING: Final = IndexVariant(
    name="covering",
    description="recommended + primary keys that INCLUDE the cursor columns "
    "(items: sort_key; threads: user_id, created_at) for index-only cursor lookups",
    ddl=(
        f"ALTER TABLE {ITEMS} DROP CONSTRAINT {sql.ITEMS_PRIMARY_KEY}",
        f"ALTER TABLE {ITEMS} ADD CONSTRAINT {sql.ITEMS_PRIMARY_KEY} "
        "PRIMARY KEY (thread_id, id) INCLUDE (sort_key)",
        # The foreign keys depend on the threads' primary key: drop and re-add them by name.
        f"ALTER TABLE {THREADS} DROP CONSTRAINT pk_chatkit_threads CASCADE",
        f"ALTER TABLE {THREADS} ADD CONSTRAINT pk_chatkit_threads "
        "PRIMARY KEY (id) INCLUDE (user_id, created_at)",
        f"ALTER TABLE {ITEMS} ADD CONSTRAINT {sql.ITEMS_THREAD_FOREIGN_KEY} "
        f"FOREIGN KEY (thread_id) REFERENCES {THREADS} (id) ON DELETE CASCADE",
        f"ALTER TABLE {ATTACHMENTS} ADD CONSTRAINT {sql.ATTACHMENTS_THREAD_FOREIGN_KEY} "
        f"FOREIGN KEY (thread_id) REFERENCES {THREADS} (id) ON DELETE CASCADE",
    ),
    sort_key_unique=True,
)

VARIANTS: Final[dict[str, IndexVariant]] = {
    v.name: v for v in (RECOMMENDED, SKETCH, PK_ONLY, COVERING)
}

# Sizes per table: heap + TOAST, all its indexes, and each index by name.
SIZES_SQL: Final = """
SELECT c.relname AS table_name,
       pg_table_size(c.oid) AS table_bytes,
       pg_indexes_size(c.oid) AS index_bytes,
       COALESCE(
           (SELECT json_object_agg(ic.relname, pg_relation_size(ic.oid))
              FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid
             WHERE x.indrelid = c.oid),
           '{}'::json
       )::text AS indexes
  FROM pg_class c
 WHERE c.relname = ANY($1::text[]) AND c.relkind = 'r'
   AND c.relnamespace = 'public'::regnamespace
"""


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
        {"variants": {name: asdict(variant) for name, variant in VARIANTS.items()}},
        conditions,
    )
