"""SDK streams run in a task of their own; the HTTP response only consumes them.

Why: when a client disconnects, Starlette cancels the task that sends the response, with an
anyio cancel scope, which cancels *every* await in that task until it ends. The SDK's
streaming code (``ChatKitServer._process_events`` in chatkit/server.py) answers a
cancellation by awaiting ``handle_stream_cancelled`` -- by default it saves the pending
assistant message (the text streamed so far) and an ``SDKHiddenContextItem`` saying the user
cancelled -- and then re-raises. Run inside the response task, those writes are cancelled
too (the hidden item is lost). Here the SDK's generator runs in a separate task
(:class:`StreamTasks`); the response reads its events from a queue, and a response that ends
early cancels that task exactly once, so the SDK's handler runs to its end.

A store write that a cancellation interrupts is finished first (:func:`uninterrupted`): the
cancellation is delivered at the next await after it, so an item is never both saved by its
``done`` event and saved again, as pending, by the cancellation handler.

The tasks are kept (:attr:`StreamTasks.tasks`) until they end, and the application waits for
them at shutdown before it closes the store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from chatkit.errors import ErrorCode
from chatkit.server import StreamingResult
from chatkit.types import ErrorEvent
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

logger = logging.getLogger(__name__)

T = TypeVar("T")

_END: Final = object()
_WRITES: set[asyncio.Future[Any]] = set()  # writes still running after their caller left


@dataclass(frozen=True)
class _Failed:
    error: BaseException


async def uninterrupted(write: Awaitable[T]) -> T:
    """Await ``write`` to its end even if the calling task is cancelled meanwhile.

    A cancellation that arrives during the write waits for it, then is delivered again at the
    caller's next await (the write's result is returned first). If the write failed, or the
    caller is cancelled once more while waiting (an anyio cancel scope does that), the
    cancellation propagates at once and the write still finishes on its own.
    """
    task = asyncio.ensure_future(write)
    _WRITES.add(task)
    task.add_done_callback(_WRITES.discard)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            await asyncio.wait([task])  # a second cancellation propagates from here
        if task.cancelled() or task.exception() is not None:
            raise
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
            current.cancel()  # delivered at the caller's next await
        return task.result()


class StreamTasks:
    """The SDK streams that are running, each in its own task."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self, result: StreamingResult) -> PumpedStream:
        """Run ``result``'s events in a new task; wait for the first one.

        An error before the first event is raised here, so the caller can answer with an
        HTTP status (``StopAsyncIteration`` when the stream ended without any event).
        """
        queue: asyncio.Queue[object] = asyncio.Queue()  # unbounded: the pump never waits on it

        async def pump() -> None:
            try:
                async for chunk in result.json_events:
                    queue.put_nowait(chunk)
            except asyncio.CancelledError:
                raise  # the SDK's handler has run; nobody reads any more
            except Exception as exc:
                queue.put_nowait(_Failed(exc))
            finally:
                queue.put_nowait(_END)

        task = asyncio.create_task(pump(), name="chatkit-stream")
        self.tasks.add(task)
        task.add_done_callback(self._forget)
        stream = PumpedStream(queue, task)
        try:
            first = await queue.get()
        except BaseException:
            stream.cancel()  # the request went away before the first event
            raise
        if first is _END:
            raise StopAsyncIteration("the request produced no events")
        if isinstance(first, _Failed):
            raise first.error
        stream.first = first  # type: ignore[assignment]
        return stream

    def _forget(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:  # pump() catches Exception
            logger.error("stream task failed", exc_info=task.exception())

    async def drain(self, seconds: float = 10.0) -> None:
        """Wait (at most ``seconds``) for the running streams, e.g. before the store closes."""
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=seconds)


class PumpedStream:
    """The response's side of one stream: its events, in order, from the queue."""

    def __init__(self, queue: asyncio.Queue[object], task: asyncio.Task[None]) -> None:
        self.first: bytes = b""
        self._queue = queue
        self._task = task
        self._ended = False

    def cancel(self) -> None:
        """The client is gone: cancel the SDK's stream once (its handler then runs)."""
        if not self._ended and not self._task.done():
            self._task.cancel()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            yield self.first
            while True:
                item = await self._queue.get()
                if item is _END:
                    self._ended = True
                    return
                if isinstance(item, _Failed):
                    # Headers are gone; the protocol's way to fail now is an error event.
                    logger.error("stream failed after it started", exc_info=item.error)
                    error = ErrorEvent(code=ErrorCode.STREAM_ERROR, allow_retry=True)
                    yield b"data: " + error.model_dump_json().encode() + b"\n\n"
                    continue  # _END follows
                assert isinstance(item, bytes)
                yield item
        finally:
            self.cancel()


class PumpedStreamingResponse(StreamingResponse):
    """``text/event-stream`` of a :class:`PumpedStream`; cancels it if the response ends
    early (client disconnect, send error), whatever state its iterator was left in."""

    def __init__(self, stream: PumpedStream, **kwargs: Any) -> None:
        super().__init__(aiter(stream), media_type="text/event-stream", **kwargs)
        self.stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.stream.cancel()
