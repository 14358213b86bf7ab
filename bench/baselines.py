"""Baselines the store is measured against; kept here, never in the store.

* OFFSET/LIMIT pages: what a naive store does; every skipped row is read and thrown away.
* The store's exact SQL through raw asyncpg: the floor of the Python side.
* BEGIN / SELECT max()+1 / INSERT / COMMIT through raw asyncpg and through SQLAlchemy Core.
* The design sketch's ORM path: ``session.get`` + ``session.add`` + ``commit``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Final

import asyncpg
import sqlalchemy as sa
from chatkit.types import Page, ThreadItem, ThreadMetadata
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from chatkit_pg import sql

_ITEM: Final = TypeAdapter(ThreadItem)
_THREAD: Final = TypeAdapter(ThreadMetadata)

# -- OFFSET/LIMIT pages (the same rows and order as the store's keyset pages) ---------------

_ITEMS_OFFSET_PAGE = """
SELECT i.data::text AS data
  FROM chatkit_thread_items i
  JOIN chatkit_threads t ON t.id = i.thread_id
 WHERE i.thread_id = $1 AND t.user_id = $2
 ORDER BY i.sort_key {dir}
 LIMIT $3 OFFSET $4
"""

_THREADS_OFFSET_PAGE = """
SELECT t.data::text AS data
  FROM chatkit_threads t
 WHERE t.user_id = $1
 ORDER BY t.created_at {dir}, t.id {dir}
 LIMIT $2 OFFSET $3
"""

ITEMS_OFFSET_PAGE_SQL: Final = {
    order: _ITEMS_OFFSET_PAGE.format(dir=direction)
    for order, (direction, _) in sql.DIRECTIONS.items()
}
THREADS_OFFSET_PAGE_SQL: Final = {
    order: _THREADS_OFFSET_PAGE.format(dir=direction)
    for order, (direction, _) in sql.DIRECTIONS.items()
}


async def offset_items_page(
    conn: asyncpg.Connection, thread_id: str, user_id: str, limit: int, offset: int, order: str
) -> Page[ThreadItem]:
    """One page of items by OFFSET, parsed like the store parses its pages."""
    rows = await conn.fetch(ITEMS_OFFSET_PAGE_SQL[order], thread_id, user_id, limit + 1, offset)
    return _page(rows, limit, _ITEM)


async def offset_threads_page(
    conn: asyncpg.Connection, user_id: str, limit: int, offset: int, order: str
) -> Page[ThreadMetadata]:
    """One page of a user's threads by OFFSET, parsed like the store parses its pages."""
    rows = await conn.fetch(THREADS_OFFSET_PAGE_SQL[order], user_id, limit + 1, offset)
    return _page(rows, limit, _THREAD)


def _page(rows: list[asyncpg.Record], limit: int, adapter: TypeAdapter[Any]) -> Page[Any]:
    data = [adapter.validate_json(row["data"]) for row in rows[:limit]]
    has_more = len(rows) > limit
    return Page(data=data, has_more=has_more, after=data[-1].id if has_more else None)


# -- keyset page through raw asyncpg: the store's statement, no store around it ---------------


async def raw_items_page(
    conn: asyncpg.Connection,
    thread_id: str,
    user_id: str,
    limit: int,
    after: str | None,
    order: str,
) -> list[asyncpg.Record]:
    """The store's page statement on a raw connection; rows only, no JSON parsing."""
    if after is None:
        return await conn.fetch(
            sql.SELECT_ITEMS_FIRST_PAGE_SQL[order], thread_id, user_id, limit + 1
        )
    return await conn.fetch(
        sql.SELECT_ITEMS_NEXT_PAGE_SQL[order], thread_id, user_id, limit + 1, after
    )


# -- inserts: parameters are (thread_id, user_id, item_id, type, created_at, data) -------------

ItemParams = tuple[str, str, str, str, datetime, str]


def item_params(thread_id: str, user_id: str, item: ThreadItem) -> ItemParams:
    """The store's item parameters for ``item`` (document dumped as the store dumps it)."""
    return (
        thread_id,
        user_id,
        item.id,
        item.type,
        item.created_at,
        _ITEM.dump_json(item).decode(),
    )


async def raw_counter_insert(conn: asyncpg.Connection, params: ItemParams) -> int:
    """The store's ADD_ITEM_COUNTER_SQL, one statement in an implicit transaction."""
    return int(await conn.fetchval(sql.ADD_ITEM_COUNTER_SQL, *params))


async def raw_two_step_insert(conn: asyncpg.Connection, params: ItemParams) -> int:
    """BEGIN; SELECT max(sort_key)+1; INSERT; COMMIT on a raw asyncpg connection."""
    thread_id, user_id, item_id, item_type, created_at, data = params
    async with conn.transaction():
        next_key = await conn.fetchval(sql.SELECT_NEXT_SORT_KEY_SQL, thread_id, user_id)
        await conn.execute(
            sql.INSERT_ITEM_SQL, thread_id, item_id, next_key, item_type, created_at, data
        )
    return int(next_key)


def _named(statement: str) -> str:
    # $n -> :pn for sqlalchemy.text(); "$6::json" becomes CAST(...) because text() does not
    # treat ":p6::json" as a bind parameter.
    statement = re.sub(r"\$(\d+)::json", r"CAST(:p\1 AS json)", statement)
    return re.sub(r"\$(\d+)", r":p\1", statement)


CORE_COUNTER_SQL: Final = sa.text(_named(sql.ADD_ITEM_COUNTER_SQL))
CORE_NEXT_KEY_SQL: Final = sa.text(_named(sql.SELECT_NEXT_SORT_KEY_SQL))

_metadata = sa.MetaData()
ITEMS_TABLE: Final = sa.Table(
    "chatkit_thread_items",
    _metadata,
    sa.Column("thread_id", sa.Text, primary_key=True),
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("sort_key", sa.BigInteger, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("created_at", sa.TIMESTAMP(timezone=True), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
)


async def core_counter_insert(engine: AsyncEngine, params: ItemParams) -> int:
    """The store's counter statement through SQLAlchemy Core (engine.begin: BEGIN/COMMIT)."""
    binds = {f"p{n}": value for n, value in enumerate(params, start=1)}
    async with engine.begin() as conn:
        return int((await conn.execute(CORE_COUNTER_SQL, binds)).scalar_one())


async def core_two_step_insert(engine: AsyncEngine, params: ItemParams, document: Any) -> int:
    """BEGIN; SELECT max()+1; INSERT; COMMIT through SQLAlchemy Core."""
    thread_id, user_id, item_id, item_type, created_at, _ = params
    async with engine.begin() as conn:
        result = await conn.execute(CORE_NEXT_KEY_SQL, {"p1": thread_id, "p2": user_id})
        next_key = int(result.scalar_one())
        await conn.execute(
            ITEMS_TABLE.insert().values(
                thread_id=thread_id,
                id=item_id,
                sort_key=next_key,
                type=item_type,
                created_at=created_at,
                data=document,
            )
        )
    return next_key


# -- the design sketch's ORM path --------------------------------------------------------------


class _Base(DeclarativeBase):
    pass


class ThreadRow(_Base):
    """The sketch's thread model (same table as the store)."""

    __tablename__ = "chatkit_threads"
    id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.TIMESTAMP(timezone=True))
    last_sort_key: Mapped[int] = mapped_column(sa.BigInteger)
    data: Mapped[Any] = mapped_column(sa.JSON)


class ItemRow(_Base):
    """The sketch's item model (same table as the store)."""

    __tablename__ = "chatkit_thread_items"
    thread_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    sort_key: Mapped[int] = mapped_column(sa.BigInteger)
    type: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.TIMESTAMP(timezone=True))
    data: Mapped[Any] = mapped_column(sa.JSON)


def orm_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions as the sketch makes them (SA examples/asyncio style)."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def orm_sketch_insert(
    sessions: async_sessionmaker[AsyncSession], thread_id: str, user_id: str, item: ThreadItem
) -> int:
    """session.get(thread) + bump its counter + session.add(item) + commit."""
    async with sessions() as session:
        thread = await session.get(ThreadRow, thread_id)
        if thread is None or thread.user_id != user_id:
            raise LookupError(f"thread {thread_id!r} not found")
        thread.last_sort_key += 1
        session.add(
            ItemRow(
                thread_id=thread_id,
                id=item.id,
                sort_key=thread.last_sort_key,
                type=item.type,
                created_at=item.created_at,
                data=item.model_dump(mode="json"),
            )
        )
        await session.commit()
        return thread.last_sort_key
