"""``PostgresStore``: the ChatKit ``Store`` on PostgreSQL.

SQLAlchemy provides the engine, the pool and the migrations; each Store call checks out a
pooled connection and runs its one statement (see :mod:`store.sql`) on the asyncpg
connection underneath, because SQLAlchemy's per-statement overhead (~0.45 ms here) would
otherwise cost more than the database does.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Final, TypeVar

import asyncpg
from chatkit.store import Store, StoreItemType
from chatkit.types import Attachment, Page, ThreadItem, ThreadMetadata
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncEngine

from . import migrate, sql
from .connections import ConnectionStack, PoolExhaustedError
from .documents import DocumentType, ordering_time
from .engine import PoolOptions, create_engine, parse_url
from .errors import (
    NotFoundError,
    StoreTimeoutError,
    StoreUnavailableError,
    TransientConflictError,
    thread_not_found,
)
from .strategies import (
    DEFAULT_STRATEGY,
    AllocationCounters,
    RaceHook,
    SortKeyStrategy,
    strategy_class,
)

TContext = TypeVar("TContext")
_T = TypeVar("_T")

DEFAULT_PAGE_LIMIT_MAX: Final = 1000
DEFAULT_MAX_DOCUMENT_BYTES: Final = 16 * 1024 * 1024
MAX_ID_BYTES: Final = 1024  # also a CHECK constraint in the schema
DEFAULT_TRANSIENT_RETRIES: Final = 5

# The SDK's prefixes (chatkit.store._ID_PREFIXES) with 96 random bits instead of 32.
ID_PREFIXES: Final[dict[str, str]] = {
    "thread": "thr",
    "message": "msg",
    "tool_call": "tc",
    "workflow": "wf",
    "task": "tsk",
    "attachment": "atc",
    "sdk_hidden_context": "shcx",
}
ID_RANDOM_BYTES: Final = 12

_THREAD: Final = TypeAdapter(ThreadMetadata)
_ITEM: Final = TypeAdapter(ThreadItem)
_ATTACHMENT: Final = TypeAdapter(Attachment)
_THREAD_DOCUMENT: Final = DocumentType(_THREAD)
_ITEM_DOCUMENT: Final = DocumentType(_ITEM)
_ATTACHMENT_DOCUMENT: Final = DocumentType(_ATTACHMENT)

# SQLSTATE 40001 / 40P01: the statement (or transaction) was rolled back whole, so running
# it again is safe. They occur under SERIALIZABLE defaults or lock-order inversions.
# One XX000 joins them (see _is_transient): PostgreSQL's own multixact race.
_TRANSIENT = (
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.InternalServerError,
)

# A race inside PostgreSQL (seen on 18.6 and 15): an updater of a thread row aborts (say a
# duplicate item id after counter's bump) while other writers key-share-lock the row; one
# check already reads the updater as aborted, another still as running, and the next locker
# fails building the row's multixact. The error aborts that writer's transaction whole, so
# running it again is as safe as after a serialization failure. Any other XX000 is a real
# server fault and is raised.
MULTIXACT_RACE_MESSAGE: Final = "new multixact has more than one updating member"


def _is_transient(exc: asyncpg.PostgresError) -> bool:
    if isinstance(exc, asyncpg.InternalServerError):
        return str(exc).startswith(MULTIXACT_RACE_MESSAGE)
    return True


def default_user_id(context: Any) -> str:
    """Owner of a request: ``context["user_id"]`` or ``context.user_id``.

    Raises:
        ValueError: the context carries no user id.
    """
    if isinstance(context, Mapping):
        user_id = context.get("user_id")
    else:
        user_id = getattr(context, "user_id", None)
    if user_id is None or user_id == "":
        raise ValueError(
            f"cannot tell the owner of this request: the context ({type(context).__name__}) has "
            "no 'user_id'. Pass a mapping with 'user_id', an object with a .user_id attribute, "
            "or PostgresStore(..., user_id=lambda context: ...)."
        )
    return str(user_id)


class PostgresStore(Store[TContext]):
    """A ChatKit ``Store`` backed by PostgreSQL.

    Args:
        url_or_engine: a ``postgresql://`` / ``postgresql+asyncpg://`` URL (unix-socket form
            ``postgresql://user@/db?host=/dir`` included), or an ``AsyncEngine`` the caller
            owns and disposes.
        sort_key_strategy: name from :data:`store.strategies.STRATEGIES`.
        user_id: ``callable(context) -> owner id``; default :func:`default_user_id`.
        max_page_size: larger page limits are capped to this.
        max_document_bytes: a thread, item or attachment whose JSON is larger is rejected
            with ``ValueError`` before anything is written.
        race_hook: test hook awaited at each strategy's read-then-write point.
        transient_retries: attempts for a call that meets a serialization failure or
            deadlock (40001/40P01), or PostgreSQL's multixact race (one XX000), before
            :class:`~store.errors.TransientConflictError`.
        **pool_options: :class:`store.engine.PoolOptions` fields, for a URL only.
    """

    def __init__(
        self,
        url_or_engine: str | AsyncEngine,
        *,
        sort_key_strategy: str = DEFAULT_STRATEGY,
        user_id: Callable[[TContext], str] | None = None,
        max_page_size: int = DEFAULT_PAGE_LIMIT_MAX,
        max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
        race_hook: RaceHook | None = None,
        transient_retries: int = DEFAULT_TRANSIENT_RETRIES,
        **pool_options: Any,
    ) -> None:
        if isinstance(url_or_engine, AsyncEngine):
            if pool_options:
                raise TypeError("pool options apply only when the store creates the engine")
            if url_or_engine.dialect.driver != "asyncpg":
                raise ValueError(
                    "the store runs its statements on asyncpg connections: create the engine "
                    f"with postgresql+asyncpg://, not the {url_or_engine.dialect.driver} driver"
                )
            self._engine: AsyncEngine | None = url_or_engine
            self._owns_engine = False
            self._url: str | None = None
        elif isinstance(url_or_engine, str):
            self._engine = None
            self._owns_engine = True
            self._url = url_or_engine
            self._pool_options = PoolOptions.from_kwargs(pool_options)
            parse_url(url_or_engine)  # a bad URL or parameter fails here, not on first use
        else:
            raise TypeError(
                f"url_or_engine must be a PostgreSQL URL or an AsyncEngine, "
                f"not {type(url_or_engine).__name__}"
            )
        if max_page_size < 1:
            raise ValueError("max_page_size must be at least 1")
        # The pool checkout and idle-connection policy (store.connections); the engine is
        # read only when a call has to check out of the pool.
        self._connections = ConnectionStack(lambda: self.engine)
        self.counters = AllocationCounters()
        self.strategy: SortKeyStrategy = strategy_class(sort_key_strategy)(self.counters, race_hook)
        self._user_id = user_id or default_user_id
        self.max_page_size = max_page_size
        self.max_document_bytes = max_document_bytes
        if transient_retries < 1:
            raise ValueError("transient_retries must be at least 1")
        self.transient_retries = transient_retries

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def engine(self) -> AsyncEngine:
        """The engine, created on first use (creating it connects nothing)."""
        if self._engine is None:
            # No await between the check and the assignment: concurrent first users of one
            # store cannot create two engines (two pools).
            assert self._url is not None
            self._engine = create_engine(self._url, self._pool_options)
            options = self._pool_options
            self._connections.keep_idle_for(
                self._engine, options.pool_recycle, options.pool_pre_ping
            )
        return self._engine

    @property
    def sort_key_strategy(self) -> str:
        return self.strategy.name

    async def create_schema(self) -> None:
        """Upgrade the database to the newest migration (idempotent, concurrency-safe)."""
        await migrate.upgrade(self.engine)

    async def close(self) -> None:
        """Dispose the engine if the store created it; a caller's engine is left alone."""
        if self._owns_engine and self._engine is not None:
            await self._connections.close()
            engine, self._engine = self._engine, None
            await engine.dispose()

    async def __aenter__(self) -> PostgresStore[TContext]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def connection(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A pooled asyncpg connection, returned to the pool afterwards (``async with``).

        A connection whose socket the server closed (restart, idle kill) is discarded and
        replaced before use; one that breaks during use is invalidated, not pooled again.
        For an engine the store made, a healthy connection is then kept out of the pool
        briefly for the store's next call (:mod:`store.connections`).
        """
        return self._connections.borrow()

    def connections_in_use(self) -> int:
        """Connections checked out for a call right now (idle ones kept by the store excluded)."""
        if self._engine is None:
            return 0
        return self._connections.in_use(self._engine)

    async def _run(
        self,
        work: Callable[..., Awaitable[_T]],
        *args: Any,
        idempotent: bool,
    ) -> _T:
        """Run ``work(connection, *args)`` on a pooled connection with the failure policy.

        Serialization failures, deadlocks and PostgreSQL's multixact race
        (:data:`MULTIXACT_RACE_MESSAGE`) are retried (``transient_retries`` attempts in all,
        jittered backoff). A read whose connection died is retried once on a fresh
        connection, on top of those attempts; a write is not, because whether it committed is
        unknown, and the caller gets StoreUnavailableError. A pool that stays exhausted for
        ``pool_timeout`` is StoreUnavailableError at once: waiting again would double the wait.
        """
        transient_failures = 0
        reconnected = False
        while True:
            try:
                async with self._connections.borrow() as conn:
                    return await work(conn, *args)
            except _TRANSIENT as exc:
                if not _is_transient(exc):
                    raise
                transient_failures += 1
                if transient_failures >= self.transient_retries:
                    raise TransientConflictError(
                        f"gave up after {transient_failures} attempts: {exc.sqlstate} {exc}"
                    ) from exc
                self.counters.retries += 1
                await asyncio.sleep(random.uniform(0, 0.002 * 2**transient_failures))
            except PoolExhaustedError:
                raise
            except StoreUnavailableError:
                if not idempotent or reconnected:
                    raise
                reconnected = True  # one more try, not one of the transient attempts
            except asyncpg.QueryCanceledError as exc:
                raise StoreTimeoutError(
                    f"the database cancelled the statement ({exc}); statement_timeout reached "
                    "or the query was cancelled. Nothing from this call was written."
                ) from exc

    # -- ids and context --------------------------------------------------------------------

    def generate_thread_id(self, context: TContext) -> str:
        return f"thr_{secrets.token_hex(ID_RANDOM_BYTES)}"

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: TContext
    ) -> str:
        return f"{ID_PREFIXES[item_type]}_{secrets.token_hex(ID_RANDOM_BYTES)}"

    def generate_attachment_id(self, mime_type: str, context: TContext) -> str:
        """Id for an attachment (used by attachment stores that delegate to this store)."""
        return f"atc_{secrets.token_hex(ID_RANDOM_BYTES)}"

    def _owner(self, context: TContext) -> str:
        owner = self._user_id(context)
        if not isinstance(owner, str) or not owner:
            raise ValueError(f"user_id(context) must return a non-empty str, got {owner!r}")
        return _checked_id("user_id", owner)

    def _document(self, document: DocumentType, value: Any, what: str) -> str:
        return document.dump(value, what, self.max_document_bytes)

    def _item_params(self, thread_id: str, item: ThreadItem, context: TContext) -> tuple[Any, ...]:
        owner = self._owner(context)
        _checked_id("thread_id", thread_id)
        _checked_id("item id", item.id)
        what = f"item {item.id!r}"
        # Stored under the thread_id argument, whatever thread its document names: the SDK's
        # store suite adds an item naming "test_thread" to "shared_thread" and wants it back
        # unchanged. Reads select by the thread_id column, so the item stays invisible to
        # the thread (and user) its document names.
        data = self._document(_ITEM_DOCUMENT, item, what)
        return (thread_id, owner, item.id, item.type, ordering_time(item.created_at, what), data)

    # -- threads ------------------------------------------------------------------------------

    async def load_thread(self, thread_id: str, context: TContext) -> ThreadMetadata:
        owner = self._owner(context)
        if not _could_exist("thread id", thread_id):
            raise thread_not_found(thread_id)
        data = await self._run(
            lambda conn: conn.fetchval(sql.SELECT_THREAD_SQL, thread_id, owner), idempotent=True
        )
        if data is None:
            raise thread_not_found(thread_id)
        return _THREAD.validate_json(data)

    async def save_thread(self, thread: ThreadMetadata, context: TContext) -> None:
        owner = self._owner(context)
        _checked_id("thread id", thread.id)
        # Dumped as ThreadMetadata even when a full Thread (with items) is passed.
        what = f"thread {thread.id!r}"
        data = self._document(_THREAD_DOCUMENT, thread, what)
        params = (thread.id, owner, ordering_time(thread.created_at, what), data)
        # An upsert of the same document is idempotent, so a lost connection may retry it.
        saved = await self._run(
            lambda conn: conn.fetchval(sql.UPSERT_THREAD_SQL, *params), idempotent=True
        )
        if saved is None:
            # The id belongs to another user: refuse without saying so.
            raise thread_not_found(thread.id)

    async def load_threads(
        self,
        limit: int,
        after: str | None,
        order: str,
        context: TContext,
    ) -> Page[ThreadMetadata]:
        owner = self._owner(context)
        fetch = self._page_fetch_size(limit, order)
        if after is not None and not _could_exist("after", after):
            raise NotFoundError(f"cursor thread {after!r} not found")
        params: tuple[Any, ...]
        if after is None:
            statement, params = sql.SELECT_THREADS_FIRST_PAGE_SQL[order], (owner, fetch)
        else:
            statement, params = sql.SELECT_THREADS_NEXT_PAGE_SQL[order], (owner, fetch, after)
        rows = await self._run(lambda conn: conn.fetch(statement, *params), idempotent=True)
        return _page(rows, fetch, _THREAD, after, f"thread {after!r}")

    async def delete_thread(self, thread_id: str, context: TContext) -> None:
        owner = self._owner(context)
        if not _could_exist("thread id", thread_id):
            raise thread_not_found(thread_id)
        deleted = await self._run(
            lambda conn: conn.fetchval(sql.DELETE_THREAD_SQL, thread_id, owner), idempotent=False
        )
        if deleted is None:
            raise thread_not_found(thread_id)

    # -- thread items ---------------------------------------------------------------------------

    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: TContext,
    ) -> Page[ThreadItem]:
        owner = self._owner(context)
        fetch = self._page_fetch_size(limit, order)
        if after is not None and not _could_exist("after", after):
            raise NotFoundError(f"cursor item {after!r} in thread {thread_id!r} not found")
        if not _could_exist("thread id", thread_id):
            return Page(data=[], has_more=False, after=None)  # as for another user's thread
        if after is None:
            statement = sql.SELECT_ITEMS_FIRST_PAGE_SQL[order]
            params: tuple[Any, ...] = (thread_id, owner, fetch)
        else:
            statement = sql.SELECT_ITEMS_NEXT_PAGE_SQL[order]
            params = (thread_id, owner, fetch, after)
        rows = await self._run(lambda conn: conn.fetch(statement, *params), idempotent=True)
        return _page(rows, fetch, _ITEM, after, f"item {after!r} in thread {thread_id!r}")

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: TContext) -> None:
        params = self._item_params(thread_id, item, context)
        try:
            await self._run(self.strategy.add, params, idempotent=False)
        except asyncpg.ForeignKeyViolationError as exc:
            raise _thread_deleted_concurrently(thread_id) from exc

    async def save_item(self, thread_id: str, item: ThreadItem, context: TContext) -> None:
        params = self._item_params(thread_id, item, context)
        try:
            await self._run(self.strategy.save, params, idempotent=False)
        except asyncpg.ForeignKeyViolationError as exc:
            raise _thread_deleted_concurrently(thread_id) from exc

    async def load_item(self, thread_id: str, item_id: str, context: TContext) -> ThreadItem:
        owner = self._owner(context)
        if not _could_exist("thread id or item id", thread_id, item_id):
            raise NotFoundError(f"item {item_id!r} not found in thread {thread_id!r}")
        data = await self._run(
            lambda conn: conn.fetchval(sql.SELECT_ITEM_SQL, thread_id, owner, item_id),
            idempotent=True,
        )
        if data is None:
            raise NotFoundError(f"item {item_id!r} not found in thread {thread_id!r}")
        return _ITEM.validate_json(data)

    async def delete_thread_item(self, thread_id: str, item_id: str, context: TContext) -> None:
        owner = self._owner(context)
        if not _could_exist("thread id", thread_id):
            raise thread_not_found(thread_id)
        if not _could_exist("item id", item_id):
            return  # an item that cannot exist is already gone (a no-op, as for a missing one)
        row = await self._run(
            lambda conn: conn.fetchrow(sql.DELETE_ITEM_SQL, thread_id, owner, item_id),
            idempotent=False,
        )
        if not row["thread_found"]:
            raise thread_not_found(thread_id)

    # -- attachments ------------------------------------------------------------------------------

    async def save_attachment(self, attachment: Attachment, context: TContext) -> None:
        owner = self._owner(context)
        _checked_id("attachment id", attachment.id)
        what = f"attachment {attachment.id!r}"
        data = self._document(_ATTACHMENT_DOCUMENT, attachment, what)
        params = (attachment.id, owner, attachment.thread_id, data)
        try:
            saved = await self._run(
                lambda conn: conn.fetchval(sql.UPSERT_ATTACHMENT_SQL, *params), idempotent=True
            )
        except asyncpg.ForeignKeyViolationError as exc:
            # The thread was deleted between the ownership check and the insert.
            raise thread_not_found(str(attachment.thread_id)) from exc
        if saved is None:
            raise NotFoundError(
                f"attachment {attachment.id!r} or its thread {attachment.thread_id!r} not found"
            )

    async def load_attachment(self, attachment_id: str, context: TContext) -> Attachment:
        owner = self._owner(context)
        if not _could_exist("attachment id", attachment_id):
            raise NotFoundError(f"attachment {attachment_id!r} not found")
        data = await self._run(
            lambda conn: conn.fetchval(sql.SELECT_ATTACHMENT_SQL, attachment_id, owner),
            idempotent=True,
        )
        if data is None:
            raise NotFoundError(f"attachment {attachment_id!r} not found")
        return _ATTACHMENT.validate_json(data)

    async def delete_attachment(self, attachment_id: str, context: TContext) -> None:
        """Delete the caller's attachment metadata; a missing or foreign id is a no-op.

        ``ChatKitServer`` deletes the attachment's file first and then calls this, and the
        SDK's direct-upload example never saves metadata at all: an error here would fail a
        request whose file is already gone. Like ``delete_thread_item``, it reveals nothing
        about ids that are not the caller's.
        """
        owner = self._owner(context)
        if not _could_exist("attachment id", attachment_id):
            return
        await self._run(
            lambda conn: conn.fetchval(sql.DELETE_ATTACHMENT_SQL, attachment_id, owner),
            idempotent=True,  # deleting twice leaves the same state
        )

    # -- helpers ----------------------------------------------------------------------------------

    def _page_fetch_size(self, limit: int, order: str) -> int:
        if order not in sql.DIRECTIONS:
            raise ValueError(f"order must be 'asc' or 'desc', got {order!r}")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        # One extra row tells whether another page exists.
        return min(limit, self.max_page_size) + 1


def _could_exist(what: str, *values: object) -> bool:
    """Whether ids given to a read or delete could name a stored row.

    An id with a NUL, a lone surrogate or over 1 KiB can never have been stored, so such a
    lookup answers "not found" without a round trip (PostgreSQL would reject the value).
    """
    for value in values:
        if not isinstance(value, str):
            raise ValueError(f"{what} must be a string, got {type(value).__name__}")
        try:
            _checked_id(what, value)
        except ValueError:
            return False
    return True


def _checked_id(what: str, value: str) -> str:
    # The common case in one test: ASCII (a flag CPython keeps) is its own UTF-8 length.
    if type(value) is str and value.isascii() and 0 < len(value) <= MAX_ID_BYTES:
        if "\x00" not in value:
            return value
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} contains a lone UTF-16 surrogate, which is not text") from None
    if len(encoded) > MAX_ID_BYTES:
        raise ValueError(f"{what} is longer than {MAX_ID_BYTES} bytes of UTF-8")
    if "\x00" in value:
        raise ValueError(f"{what} must not contain NUL characters")
    return value


def _page(
    rows: list[asyncpg.Record],
    fetch: int,
    adapter: TypeAdapter[_T],
    after: str | None,
    cursor_name: str,
) -> Page[_T]:
    if after is not None and (not rows or not rows[0]["cursor_found"]):
        raise NotFoundError(f"cursor {cursor_name} not found")
    documents = [row["data"] for row in rows if row["data"] is not None]
    has_more = len(documents) == fetch
    data = [adapter.validate_json(doc) for doc in documents[: fetch - 1]]
    last_id = getattr(data[-1], "id", None) if data else None
    return Page(data=data, has_more=has_more, after=last_id if has_more else None)


def _thread_deleted_concurrently(thread_id: str) -> NotFoundError:
    # The thread can be deleted between our ownership check and the insert's foreign-key
    # check; that append lost the race and the thread is gone.
    return thread_not_found(thread_id, " (deleted concurrently)")
