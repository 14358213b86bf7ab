"""The store's connections: pooled asyncpg connections, borrowed one call at a time.

:class:`ConnectionStack` checks SQLAlchemy's pool out directly (``AsyncEngine.raw_connection``)
rather than through an ``AsyncConnection``: half the CPU per call (26 vs 60 us measured here),
and the store never uses SQLAlchemy's transaction bookkeeping on these connections anyway.
For an engine the store made, a healthy connection is then kept out of the pool for
:data:`IDLE_GRACE_SECONDS` for the store's next call (see :meth:`ConnectionStack._keeps_idle`).
Everything here that touches SQLAlchemy's pool internals stays in this module.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Final, NamedTuple

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection, QueuePool
from sqlalchemy.util import greenlet_spawn

from .errors import StoreUnavailableError

__all__ = ["IDLE_GRACE_SECONDS", "ConnectionStack", "PoolExhaustedError"]

# How long the store keeps an idle connection out of the pool for its own next call.
IDLE_GRACE_SECONDS: Final = 0.005

# A prepared statement that another server session owns: a transaction pooler in between.
_LOST_PREPARED_STATEMENT = (
    asyncpg.InvalidSQLStatementNameError,
    asyncpg.DuplicatePreparedStatementError,
)

# Client-side errors after which the protocol state of a connection is unknown. The driver's
# own (InterfaceError, InternalClientError) are a lost connection to ``_after``, checked first.
_PROTOCOL_UNKNOWN = (TimeoutError,)

# Errors after which a pooled connection must not be reused.
_CONNECTION_LOST = (
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CannotConnectNowError,
    ConnectionError,
    OSError,
)


class PoolExhaustedError(StoreUnavailableError):
    """No pooled connection became free within ``pool_timeout`` (never retried)."""


class _IdleConnection(NamedTuple):
    # A tuple, not a dataclass: one is made on every call of the hot path.
    pooled: PoolProxiedConnection
    taken_at: float  # when it left the pool (pool_recycle counts from here)
    idle_since: float


def _driver(pooled: PoolProxiedConnection) -> asyncpg.Connection:
    # The asyncpg dialect's driver connection, which SQLAlchemy types as Any | None (no cast():
    # this runs three times per call on the hot path).
    return pooled.driver_connection  # type: ignore[no-any-return]


class _Borrowed:
    """``async with stack.borrow()``: a class, not a generator, on the hot path."""

    __slots__ = ("_pooled", "_stack", "_taken_at")

    def __init__(self, stack: ConnectionStack) -> None:
        self._stack = stack

    async def __aenter__(self) -> asyncpg.Connection:
        self._pooled, self._taken_at = self._stack._take_idle() or await self._stack._checkout()
        return _driver(self._pooled)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        stack, pooled, taken_at = self._stack, self._pooled, self._taken_at
        if exc is None and _session_idle(pooled) and stack._keep_or_requeue(pooled, taken_at):
            return  # the common case: no await
        reusable, replacement = _after(exc)
        await stack._give_back(pooled, taken_at, reusable)
        if replacement is not None:
            raise replacement from exc


class ConnectionStack:
    """Borrows pooled connections of one engine and keeps idle ones for the next call.

    Args:
        engine: returns the engine to check out from (called on a pool checkout only, so a
            store can create its engine on first use).
        clock: monotonic seconds; the idle stack's ages (grace, ``pool_recycle``) are read
            from it, so a test can replace it (the grace timer itself runs on the loop).
    """

    __slots__ = (
        "_engine",
        "_idle",
        "_idle_capacity",
        "_idle_timer",
        "_own_pool",
        "_pool_recycle",
        "_pool_waiters",
        "_returning",
        "clock",
    )

    def __init__(
        self, engine: Callable[[], AsyncEngine], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._engine = engine
        self.clock = clock
        # Healthy connections kept out of the pool between calls, newest last.
        self._idle: list[_IdleConnection] = []
        # Set by keep_idle_for for an engine the store made (they never change after): its
        # QueuePool, how many idle connections it may keep (0: none), its pool_recycle.
        self._own_pool: QueuePool | None = None
        self._idle_capacity = 0
        self._pool_recycle = 0.0
        self._pool_waiters = 0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._returning: set[asyncio.Future[None]] = set()

    def keep_idle_for(self, engine: AsyncEngine, pool_recycle: float, pool_pre_ping: bool) -> None:
        """Record the facts of an engine the store made, which the hot path reads each call.

        Only such an engine has no foreign pool listeners, so only its connections may skip
        the greenlet on return and be kept idle; not with pre-ping (SQLAlchemy pings on
        checkout, which keeping would skip).
        """
        pool = engine.sync_engine.pool
        self._own_pool = pool if isinstance(pool, QueuePool) else None
        keeps = self._own_pool is not None and not pool_pre_ping
        self._idle_capacity = self._own_pool.size() if keeps and self._own_pool else 0
        self._pool_recycle = pool_recycle

    def borrow(self) -> _Borrowed:
        """A connection for ``async with``; given back (or kept idle) afterwards.

        A connection whose socket the server closed (restart, idle kill) is discarded and
        replaced before use; one that breaks during use is invalidated, not pooled again, and
        the error becomes :class:`StoreUnavailableError` where the connection was lost.
        """
        return _Borrowed(self)

    def in_use(self, engine: AsyncEngine) -> int:
        """The engine's connections checked out right now, less the idle ones kept here."""
        checked_out: int = engine.sync_engine.pool.checkedout()  # type: ignore[attr-defined]
        return checked_out - len(self._idle)

    async def close(self) -> None:
        """Give every idle connection back to the pool (before the engine is disposed)."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        while self._idle:
            await greenlet_spawn(self._idle.pop().pooled.close)
        if self._returning:
            await asyncio.gather(*self._returning)

    # -- giving back ------------------------------------------------------------------------

    def _keep_or_requeue(self, pooled: PoolProxiedConnection, taken_at: float) -> bool:
        """Put a healthy connection on the idle stack or into the pool's queue, if neither
        needs I/O; False otherwise."""
        if self._keeps_idle():
            self._idle.append(_IdleConnection(pooled, taken_at, self.clock()))
            if self._idle_timer is None:
                self._schedule_idle_release()
            return True
        if self._returns_without_io():
            pooled.close()  # straight back into the pool's queue: nothing to await
            return True
        return False

    async def _give_back(
        self, pooled: PoolProxiedConnection, taken_at: float, reusable: bool
    ) -> None:
        if not reusable or not _session_idle(pooled):
            await _discard(pooled)
        elif not self._keep_or_requeue(pooled, taken_at):
            # Returning may close an overflow connection or run a caller's pool event
            # listeners, either of which may await: SQLAlchemy needs its greenlet then.
            await greenlet_spawn(pooled.close)

    def _returns_without_io(self) -> bool:
        """Whether giving a healthy connection back to the pool can do no I/O.

        True for an engine the store made (no foreign pool listeners) whose queue has room
        (the connection is kept, not closed as overflow). The reset on return is SQLAlchemy's
        rollback, a no-op here: the store never starts SQLAlchemy transactions, and a
        connection left inside a driver transaction is invalidated instead. Skipping the
        greenlet halves the cost of a checkout cycle (30 -> 16 us measured).
        """
        pool = self._own_pool
        return pool is not None and pool.checkedin() < pool.size()

    def _keeps_idle(self) -> bool:
        """Whether a healthy connection goes to the idle stack instead of the pool.

        Idle connections stay checked out of SQLAlchemy's pool for at most
        :data:`IDLE_GRACE_SECONDS` and go to the store's next calls directly: a pool checkout
        cycle through SQLAlchemy's greenlet costs 50-60 us of CPU between two statements
        here, on a path whose database round trip is about 400 us. Not while one of the
        store's calls waits in the pool. Others using the engine (other stores on
        ``store.engine``, migrations, the application) wait at most the grace period for a
        connection kept here.
        """
        return not self._pool_waiters and len(self._idle) < self._idle_capacity

    def _schedule_idle_release(self) -> None:
        self._idle_timer = asyncio.get_running_loop().call_later(
            IDLE_GRACE_SECONDS, self._release_idle
        )

    def _release_idle(self) -> None:
        """Give the pool back every connection that stayed idle for the grace period."""
        self._idle_timer = None
        now = self.clock()
        kept = []
        for entry in self._idle:
            if now - entry.idle_since < IDLE_GRACE_SECONDS:
                kept.append(entry)
            elif self._returns_without_io():
                entry.pooled.close()
            else:
                returning = asyncio.ensure_future(greenlet_spawn(entry.pooled.close))
                self._returning.add(returning)
                returning.add_done_callback(self._returning.discard)
        self._idle = kept
        if kept:
            self._schedule_idle_release()

    # -- taking -------------------------------------------------------------------------------

    def _take_idle(self) -> tuple[PoolProxiedConnection, float] | None:
        """The newest idle connection and when it left the pool, if it is fit for use.

        Synchronous: the hot path takes a connection without an await.
        """
        if self._idle:
            pooled, taken_at, _ = self._idle[-1]
            if not _driver(pooled).is_closed() and self.clock() - taken_at < self._pool_recycle:
                self._idle.pop()
                return pooled, taken_at
        return None

    async def _checkout(self) -> tuple[PoolProxiedConnection, float]:
        """A connection and when it left the pool: the newest idle one, else the pool's."""
        while self._idle:
            taken = self._take_idle()
            if taken is not None:
                return taken
            pooled = self._idle.pop().pooled
            if _driver(pooled).is_closed():
                await _discard(pooled)  # closed by the server (a restart)
            else:
                await greenlet_spawn(pooled.close)  # due for recycling, which the pool does
        self._pool_waiters += 1
        try:
            return await self._checkout_from_pool(), self.clock()
        finally:
            self._pool_waiters -= 1

    async def _checkout_from_pool(self) -> PoolProxiedConnection:
        engine = self._engine()
        pool = engine.sync_engine.pool
        # Every idle connection may have gone stale in one restart: try them all, plus one.
        attempts = (pool.size() + pool.overflow() if isinstance(pool, QueuePool) else 0) + 2
        for _ in range(attempts):
            try:
                pooled = await engine.raw_connection()
            except sa_exc.TimeoutError as exc:
                raise PoolExhaustedError(
                    f"no database connection became free within the pool timeout: {exc}"
                ) from exc
            except (sa_exc.DBAPIError, engine.dialect.loaded_dbapi.Error, *_CONNECTION_LOST) as exc:
                # Connecting while the server shuts down or starts up (57P01, 57P03) raises
                # the driver adapter's own error class, not a wrapped DBAPIError.
                raise StoreUnavailableError(f"cannot connect to the database: {exc}") from exc
            if not _driver(pooled).is_closed():
                return pooled
            await _discard(pooled)
        raise StoreUnavailableError("every pooled connection was closed by the server")


def _after(exc: BaseException | None) -> tuple[bool, Exception | None]:
    """Whether a connection is reusable after a call that raised ``exc``, and what to raise."""
    if exc is None:
        return True, None
    if isinstance(exc, _CONNECTION_LOST):
        return False, StoreUnavailableError(f"database connection lost: {exc}")
    if isinstance(exc, asyncpg.InternalClientError):
        # The driver's protocol is mid-operation on a call that just began: seen on an idle
        # connection that received the server's shutdown notice (a restart).
        return False, StoreUnavailableError(f"database connection in an unusable state: {exc}")
    if isinstance(exc, _LOST_PREPARED_STATEMENT):
        # The statement cache names statements of another server session: a transaction
        # pooler swapped the server under this connection. Drop it.
        return False, StoreUnavailableError(
            f"{exc} -- the database connection goes through a transaction pooler "
            "(PgBouncer pool_mode=transaction?): create the store with pgbouncer=True. "
            "Nothing from this call was written."
        )
    if isinstance(exc, asyncpg.PostgresError):
        severity = getattr(exc, "severity_en", None) or exc.severity
        if severity in ("FATAL", "PANIC"):
            # The server is ending this session (shutdown, crash, termination): the socket
            # may not be closed yet, but the connection will never be idle again.
            return False, StoreUnavailableError(f"database connection lost: {exc}")
        return True, None  # the server refused a statement; the session is idle again
    if isinstance(exc, Exception):
        # The store's own verdict on a finished statement (NotFoundError, ItemExistsError,
        # ...) leaves the session idle; client-side protocol errors don't.
        return not isinstance(exc, _PROTOCOL_UNKNOWN), None
    return False, None  # cancelled (or interrupted) mid-call: the protocol state is unknown


def _session_idle(pooled: PoolProxiedConnection) -> bool:
    """Whether the connection's session is open and idle, so the next borrower can use it.

    A cancelled task (a client that went away mid-query, an asyncio.timeout) can leave the
    protocol mid-operation, and the next borrower would fail with "another operation is in
    progress": such a connection is discarded, not pooled.
    """
    driver = _driver(pooled)
    return not driver.is_closed() and not driver.is_in_transaction()


async def _discard(pooled: PoolProxiedConnection) -> None:
    """Close a connection that must never be handed out again (the pool replaces it)."""
    await greenlet_spawn(pooled.invalidate)
    await greenlet_spawn(pooled.close)
