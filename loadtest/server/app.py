"""The FastAPI application: ``POST /chatkit``, ``GET /healthz``, ``GET /metrics``.

Errors a client caused get a 4xx with a JSON body ``{"error", "status", "code"}`` that says
what was wrong (401 no identity, 400 invalid request, 404 unknown or foreign thread, 413 body
too large, 501 a request type this server does not implement); a database that cannot serve
is a 503 or 504. Which exception becomes which status is one table, :data:`ERROR_RULES`,
walked in order. A bug is a 500 whose JSON body says only that (the traceback goes to the
log, never to the client). A streaming request is primed (its first event produced) before
the response starts, so a ``threads.add_user_message`` to a missing thread is a 404, not a
200 stream that fails; an error after that point ends the stream with a ChatKit ``error``
event.

The endpoint uses the SDK's public API only: the body is parsed with the SDK's request type
(``chatkit.types.ChatKitReq``), ownership is checked on the parsed request, then
``ChatKitServer.process()`` answers it. A stream runs in a task of its own that the response
only consumes (:mod:`.streams`), so a client that disconnects mid-stream cancels it once and
the SDK's cancellation handling (``handle_stream_cancelled``) can still write.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

import asyncpg
from chatkit.server import StreamingResult
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy import exc as sa_exc

from chatkit_pg import (
    NotFoundError,
    SortKeyConflictError,
    StoreTimeoutError,
    StoreUnavailableError,
    TransientConflictError,
)

from .chatkit_server import DeterministicChatKitServer, check_ownership, parse_request
from .metrics import MeteredPostgresStore
from .settings import ServerSettings
from .streams import PumpedStreamingResponse, StreamTasks

logger = logging.getLogger(__name__)

USER_HEADER: Final = "x-user-id"
MAX_USER_ID_CHARS: Final = 200
_USER_ID: Final = re.compile(r"^[\x21-\x7e]+$")  # visible ASCII, no spaces


class RequestError(Exception):
    """A request the server refuses with ``status``, ``code`` and a message for the client."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers = headers


def user_id_from(request: Request) -> str:
    """The caller's identity: ``Authorization: Bearer <user>`` or ``X-User-Id: <user>``.

    Raises:
        RequestError: 401 when neither header names a user, or the name is not acceptable.
    """
    user: str | None = None
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        user = token.strip()
    elif request.headers.get(USER_HEADER, "").strip():
        user = request.headers[USER_HEADER].strip()
    if user is None:
        raise RequestError(
            401,
            "no_identity",
            "no identity: send 'Authorization: Bearer <user>' or 'X-User-Id: <user>'",
            {"WWW-Authenticate": "Bearer"},
        )
    if len(user) > MAX_USER_ID_CHARS or not _USER_ID.match(user):
        raise RequestError(
            401,
            "bad_identity",
            f"user id must be 1..{MAX_USER_ID_CHARS} visible ASCII characters without spaces",
            {"WWW-Authenticate": "Bearer"},
        )
    return user


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(
            413, "body_too_large", f"request body of {int(declared):,} bytes exceeds {limit:,}"
        )
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise RequestError(413, "body_too_large", f"request body exceeds {limit:,} bytes")
    return bytes(body)


def _json_error(
    status: int, message: str, headers: dict[str, str] | None = None, code: str | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"error": message, "status": status}
    if code is not None:
        body["code"] = code
    return JSONResponse(body, status_code=status, headers=headers)


def _invalid_request(exc: BaseException) -> str:
    assert isinstance(exc, ValidationError)
    errors = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
    )
    return f"invalid ChatKit request: {errors}"


DATABASE_UNAVAILABLE: Final = "database unavailable"


def _unavailable(exc: BaseException) -> str:
    # The driver's text names the database host and port: log it, never send it.
    logger.warning("database unavailable: %s: %s", type(exc).__name__, exc)
    return DATABASE_UNAVAILABLE


def _invalid_value(exc: BaseException) -> str:
    return f"invalid value in the request: {exc}"


def _no_events(exc: BaseException) -> str:
    return str(exc) or "the request produced no events"


def _not_implemented(exc: BaseException) -> str:
    return str(exc) or "not implemented by this server"


@dataclass(frozen=True)
class ErrorRule:
    """Exceptions of ``types`` become HTTP ``status`` with ``code`` and ``message(exc)``."""

    types: tuple[type[BaseException], ...]
    status: int
    code: str
    message: Callable[[BaseException], str] = str
    headers: dict[str, str] | None = None

    def response(self, exc: BaseException) -> JSONResponse:
        return _json_error(self.status, self.message(exc), self.headers, self.code)


RETRY: Final = {"Retry-After": "1"}
DBAPI_ERRORS: Final = (sa_exc.DBAPIError, sa_exc.EmulatedDBAPIException)

ERROR_RULES: Final[tuple[ErrorRule, ...]] = (
    ErrorRule((NotFoundError,), 404, "not_found"),
    # Before ValueError: pydantic's ValidationError is one.
    ErrorRule((ValidationError,), 400, "invalid_request", _invalid_request),
    ErrorRule((StoreTimeoutError,), 504, "store_timeout"),
    ErrorRule((StoreUnavailableError,), 503, "unavailable", _unavailable, RETRY),
    ErrorRule((TransientConflictError,), 503, "unavailable", headers=RETRY),
    ErrorRule((SortKeyConflictError,), 409, "sort_key_conflict"),
    # The pool's connect can raise the driver adapter's error unwrapped (seen while
    # PostgreSQL shuts down: "the database system is shutting down"). The store should say
    # StoreUnavailableError there; until it does, this is the same 503.
    ErrorRule(DBAPI_ERRORS, 503, "database_unreachable", _unavailable),
    # SQLSTATE class 22: a request value PostgreSQL cannot hold (NUL in an id the store did
    # not check on a read). The message names the value's problem only.
    ErrorRule((asyncpg.DataError,), 400, "invalid_value", _invalid_value),
    ErrorRule((ValueError, StopAsyncIteration), 400, "bad_request", _no_events),
    ErrorRule((NotImplementedError,), 501, "not_implemented", _not_implemented),
)
"""Which status a failed request gets: the first rule whose types match wins."""


def error_rule(exc: BaseException) -> ErrorRule | None:
    """The first rule of :data:`ERROR_RULES` for ``exc``; None means a bug (a 500)."""
    return next((rule for rule in ERROR_RULES if isinstance(exc, rule.types)), None)


def create_app(settings: ServerSettings) -> FastAPI:
    """Build the application; the database is migrated when it starts.

    Args:
        settings: database, strategy, pool and stand-in model settings.

    Raises:
        ValueError: ``settings`` names no database.

    Returns:
        A FastAPI app with ``POST /chatkit``, ``GET /healthz`` and ``GET /metrics``.
    """
    settings.require_database()
    store = MeteredPostgresStore(
        settings.dsn,
        sort_key_strategy=settings.strategy,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pgbouncer=settings.pgbouncer,
        application_name="chatkit-pg-server",
    )
    server = DeterministicChatKitServer(store, settings)
    streams = StreamTasks()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await store.create_schema()
        try:
            yield
        finally:
            await streams.drain()  # cancelled streams may still be saving what they had
            await store.close()

    app = FastAPI(title="chatkit-pg load-test server", lifespan=lifespan)
    app.state.store = store
    app.state.settings = settings

    @app.exception_handler(RequestError)
    async def request_error(request: Request, exc: RequestError) -> JSONResponse:
        return _json_error(exc.status, str(exc), exc.headers, exc.code)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # Tracebacks can hold DSNs and other users' data: log them, tell the client little.
        logger.error("unhandled %s on %s", type(exc).__name__, request.url.path, exc_info=exc)
        message = f"internal error ({type(exc).__name__}); see the server log"
        return _json_error(500, message, code="internal_error")

    @app.post("/chatkit")
    async def chatkit_endpoint(request: Request) -> Response:
        context = {"user_id": user_id_from(request)}
        body = await read_body(request, settings.max_body_bytes)
        try:
            await check_ownership(store, parse_request(body), context)
            result = await server.process(body, context)  # the SDK's public entry point
            if isinstance(result, StreamingResult):
                stream = await streams.start(result)  # primed: its first event is here
                return PumpedStreamingResponse(
                    stream, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
                )
            return Response(content=result.json, media_type="application/json")
        except Exception as exc:
            rule = error_rule(exc)
            if rule is None:
                raise  # a bug: the 500 handler logs it
            return rule.response(exc)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        try:
            async with store.connection() as conn:
                await conn.fetchval("SELECT 1")
        except Exception as exc:  # any failure means "not healthy"; the log says which
            return _json_error(503, _unavailable(exc), code="database_unreachable")
        return JSONResponse({"status": "ok", "strategy": settings.strategy})

    @app.get("/metrics")
    async def metrics() -> dict[str, Any]:
        snapshot = store.metrics.snapshot()
        snapshot["allocation"] = {
            "retries": store.counters.retries,
            "conflicts": store.counters.conflicts,
        }
        return snapshot

    return app


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` and worker processes: settings from the environment."""
    return create_app(ServerSettings.from_env())
