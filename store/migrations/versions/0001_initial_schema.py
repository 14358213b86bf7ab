"""Initial schema: threads, thread items with a per-thread sort_key, attachments.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Ids compare byte-wise (COLLATE "C"): cheaper than a linguistic collation, and the order
# of (created_at, id) pages cannot change with the server's locale.
Id = sa.Text(collation="C")
# btree entries must stay under ~2.7 kB; two ids of at most 1 kB each always fit.
MAX_ID_BYTES = 1024


def _id_check(table: str, column: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(
        f"octet_length({column}) BETWEEN 1 AND {MAX_ID_BYTES}",
        name=f"ck_{table}_{column}_length",
    )


def upgrade() -> None:
    """Create the three tables, their indexes and the sequence of the `sequence` strategy."""
    op.create_table(
        "chatkit_threads",
        sa.Column("id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        # From ThreadMetadata.created_at (naive values are taken as UTC); orders thread pages.
        sa.Column("created_at", sa.TIMESTAMP(timezone=True), nullable=False),
        sa.Column(
            "updated_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        # The `counter` strategy's last allocated sort_key. Not indexed, so its bump is a HOT
        # update when the page has room: hence fillfactor 80 below.
        sa.Column("last_sort_key", sa.BigInteger(), nullable=False, server_default="0"),
        # The whole ThreadMetadata as exact JSON text (see store/sql.py on json vs jsonb).
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chatkit_threads"),
        _id_check("chatkit_threads", "id"),
        _id_check("chatkit_threads", "user_id"),
        postgresql_with={"fillfactor": 80},
    )
    # Thread pages: WHERE user_id = $1 AND (created_at, id) < (...) ORDER BY created_at, id.
    op.create_index(
        "ix_chatkit_threads_user_id_created_at_id",
        "chatkit_threads",
        ["user_id", "created_at", "id"],
    )

    op.create_table(
        "chatkit_thread_items",
        sa.Column("thread_id", Id, nullable=False),
        sa.Column("id", Id, nullable=False),
        # Position within the thread, assigned by the database when the item is added.
        sa.Column("sort_key", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("created_at", sa.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        # Items are keyed per thread: the SDK's default ids carry only 32 random bits.
        sa.PrimaryKeyConstraint("thread_id", "id", name="pk_chatkit_thread_items"),
        # Serves keyset pages (seek on sort_key within a thread, both directions) and makes a
        # duplicate key impossible to store whatever the strategy does.
        sa.UniqueConstraint(
            "thread_id", "sort_key", name="uq_chatkit_thread_items_thread_id_sort_key"
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["chatkit_threads.id"],
            name="fk_chatkit_thread_items_thread_id_chatkit_threads",
            ondelete="CASCADE",
        ),
        _id_check("chatkit_thread_items", "id"),
    )

    op.create_table(
        "chatkit_attachments",
        sa.Column("id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("thread_id", Id, nullable=True),
        sa.Column(
            "created_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chatkit_attachments"),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["chatkit_threads.id"],
            name="fk_chatkit_attachments_thread_id_chatkit_threads",
            ondelete="CASCADE",
        ),
        _id_check("chatkit_attachments", "id"),
        _id_check("chatkit_attachments", "user_id"),
    )
    # Lets ON DELETE CASCADE find a thread's attachments without a scan.
    op.create_index(
        "ix_chatkit_attachments_thread_id",
        "chatkit_attachments",
        ["thread_id"],
        postgresql_where=sa.text("thread_id IS NOT NULL"),
    )

    # Only the `sequence` strategy draws from it; it exists so that any strategy can be
    # chosen at run time without a migration.
    op.execute("CREATE SEQUENCE chatkit_thread_items_sort_key_seq AS bigint")


def downgrade() -> None:
    """Drop everything upgrade() created."""
    op.execute("DROP SEQUENCE IF EXISTS chatkit_thread_items_sort_key_seq")
    op.drop_index("ix_chatkit_attachments_thread_id", table_name="chatkit_attachments")
    op.drop_table("chatkit_attachments")
    op.drop_table("chatkit_thread_items")
    op.drop_index("ix_chatkit_threads_user_id_created_at_id", table_name="chatkit_threads")
    op.drop_table("chatkit_threads")
