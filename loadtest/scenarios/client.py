"""ChatKit over HTTP for Locust users: one method per request type, each named by it.

Non-streaming requests are checked for status and JSON. Streaming requests are read event
by event (:mod:`.sse`); besides Locust's own entry for the request (which times the response
headers) a complete stream fires ``SSE`` entries ``ttfe <type>`` (time to first event),
``ttft <type>`` (time to the first assistant text: a text delta, or an assistant message that
arrives whole; turns without assistant text have none), ``itl <type>`` (one entry per gap
between successive text deltas), ``tpot <type>`` (time per output token: stream end minus
first token over the deltas after the first), ``stream <type>`` (time to the end of
the stream) and ``tokens/s <type>`` (text deltas per second, first to last delta, when the
stream had at least two). Every failure is recorded once, on the request's own entry, with a
message starting with its kind (timeout, http_4xx, http_5xx, invalid_event, early_end,
error_event, no_reply, cross_talk, connection_error, cancel_lost). Request names, entry names
and failure kinds all come from :mod:`chatkit_pg.harness.vocabulary`, which the report reads.

Cancellation (:meth:`ChatKitClient.cancel_message`): a ``threads.add_user_message`` whose
connection the client closes after a random number of text deltas (entry ``cancel
threads.add_user_message``; ack ``cancel``), then ``items.list`` polled until the thread shows
what the SDK's ``handle_stream_cancelled`` promises -- the user message, and the pending
assistant message (the text the *server* had streamed, so at least what the client read) --
or a bounded wait ends: one ``cancel read-back`` entry, failed as ``cancel_lost``. The hidden
item the SDK also saves is not listed over HTTP (``items.list`` filters it); the integrity
check looks for it in the database.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from chatkit_pg.harness.vocabulary import (
    CANCEL_LOST,
    CANCEL_READ_BACK,
    CANCELLED_ADD_USER_MESSAGE,
    CONNECTION_ERROR,
    EARLY_END,
    HTTP_4XX,
    HTTP_5XX,
    INVALID_EVENT,
    ITEMS_LIST,
    ITL_PREFIX,
    SSE_TYPE,
    STREAM_PREFIX,
    THREADS_ADD_USER_MESSAGE,
    THREADS_CREATE,
    THREADS_DELETE,
    THREADS_LIST,
    THREADS_UPDATE,
    TIMEOUT,
    TOKENS_PREFIX,
    TPOT_PREFIX,
    TTFE_PREFIX,
    TTFT_PREFIX,
)

from .acks import AckLog, RecordLog
from .ownership import Ownership
from .settings import ScenarioSettings
from .sse import (
    ASSISTANT_MESSAGE,
    PART_ADDED,
    PART_DONE,
    TEXT_DELTA,
    SSEParser,
    StreamCheck,
    StreamFailure,
    parse_event,
    text_of,
)

_IDS = re.compile(r"\b(thr|msg|wf|tc|tsk|atc|shcx)_[0-9a-f]+\b")
# The SDK saves a cancelled turn's items after it notices the hang-up, in the server's own
# time: the read-back polls for them this long (doubling pauses from the first), then fails.
# Every stream of this Locust process claims the ids it shows (cross_talk across streams).
OWNERS: Final = Ownership()
CANCEL_READ_BACK_S: Final = 5.0
READ_BACK_FIRST_PAUSE_S: Final = 0.05
READ_BACK_PAGE: Final = 20  # the newest items: the cancelled turn is the thread's last


class RequestFailed(Exception):
    """A ChatKit request failed; Locust has already recorded it."""


def _short(text: str, limit: int = 120) -> str:
    # Ids would give every failure its own row in Locust's failure table.
    return _IDS.sub(r"\1_…", " ".join(text.split()))[:limit]


def _status_failure(status: int, body: str) -> StreamFailure:
    if status == 0:
        return StreamFailure(CONNECTION_ERROR, "no HTTP response")
    kind = HTTP_5XX if status >= 500 else HTTP_4XX
    return StreamFailure(kind, f"{status} {_short(body)}")


def _raise_for_status(resp: Any) -> None:
    """A non-200 answer as its failure kind (status 0: the connection itself failed)."""
    if resp.status_code == 200:
        return
    error = getattr(resp, "error", None)
    if resp.status_code == 0 and error is not None:
        raise _exception_failure(error)
    raise _status_failure(resp.status_code, resp.text or "")


def _exception_failure(exc: BaseException) -> StreamFailure:
    if isinstance(exc, StreamFailure):
        return exc
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, TimeoutError) or "timed out" in text.lower() or "timeout" in text.lower():
        return StreamFailure(TIMEOUT, _short(text))
    return StreamFailure(CONNECTION_ERROR, _short(text))


def user_input(text: str) -> dict[str, Any]:
    """A ChatKit ``UserMessageInput`` with one text part."""
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


def cut_point(reply_deltas: int, rng: random.Random | None = None) -> int:
    """After how many text deltas to hang up, at random among a reply's ``reply_deltas``:
    1 .. n-1, so a partial message exists and the server has text left to stream (cut after
    the last delta, it would usually finish the turn before it saw the hang-up); 0 (right
    after the user message) when replies have fewer than two deltas."""
    if reply_deltas < 2:
        return 0
    return (rng or random).randint(1, reply_deltas - 1)


@dataclass
class SeenText:
    """The assistant text a client has read so far: the message whose text arrived last,
    part by part, as the SDK's pending copy builds it (part added, deltas, part done)."""

    item_id: str | None = None
    parts: dict[int, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "".join(self.parts[index] for index in sorted(self.parts))

    def observe(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind in ("thread.item.added", "thread.item.done"):
            item = event.get("item") or {}
            if item.get("type") == ASSISTANT_MESSAGE and text_of(item):
                self.item_id, self.parts = item.get("id"), {0: text_of(item)}
            return
        update = event.get("update") if kind == "thread.item.updated" else None
        if not isinstance(update, dict) or update.get("type") not in (
            TEXT_DELTA,
            PART_ADDED,
            PART_DONE,
        ):
            return
        if event.get("item_id") != self.item_id:  # the text of another message begins
            self.item_id, self.parts = event.get("item_id"), {}
        index = update.get("content_index", 0)
        if update["type"] == TEXT_DELTA:
            self.parts[index] = self.parts.get(index, "") + str(update.get("delta") or "")
        elif isinstance(update.get("content"), dict):
            self.parts[index] = str(update["content"].get("text") or "")


def broken_promise(items: list[dict[str, Any]], user_message_id: str, seen: SeenText) -> str | None:
    """What ``items`` (an ``items.list`` page, newest first) lack of the SDK's promise after
    a cancel, or None: the user message, then -- when the client had read assistant text --
    the pending assistant message, stored whole or in part but beginning with that text."""
    position = {item.get("id"): n for n, item in enumerate(items)}
    if user_message_id not in position:
        return "the user message is not in the thread"
    if not seen.text:
        return None
    if seen.item_id not in position:
        return "the partial assistant message is not in the thread"
    if position[seen.item_id] > position[user_message_id]:
        return "the partial assistant message is before the user message"
    if not text_of(items[position[seen.item_id]]).startswith(seen.text):
        return "the stored assistant text does not begin with the text the client read"
    return None


class ChatKitClient:
    """The requests one simulated user makes, as identity ``user``.

    Args:
        http: a Locust ``FastHttpSession`` (a user's ``client``).
        request_event: the event hook that records requests (the environment's
            ``events.request`` for statistics; a private hook for seeding).
        settings: scenario settings (path, auth template, ...).
        user: the identity sent in the auth header.
        acks: where acknowledged writes are logged for the integrity check.
        records: where each measured request's record goes (none: seeding, not measured).
    """

    def __init__(
        self,
        http: Any,
        request_event: Any,
        settings: ScenarioSettings,
        user: str,
        acks: AckLog,
        records: RecordLog | None = None,
    ) -> None:
        self.http = http
        self.records = records or RecordLog(None)
        self.request_event = request_event
        self.settings = settings
        self.user = user
        self.acks = acks
        self.headers = {
            **settings.auth_headers(user),
            "Content-Type": "application/json",
            "Accept": "text/event-stream, application/json",
        }

    @classmethod
    def for_user(
        cls,
        locust_user: Any,
        settings: ScenarioSettings,
        user: str,
        acks: AckLog,
        records: RecordLog | None = None,
    ) -> ChatKitClient:
        """The client of a Locust user: its HTTP session and the stats' request event."""
        events = locust_user.environment.events
        return cls(locust_user.client, events.request, settings, user, acks, records)

    # -- non-streaming ----------------------------------------------------------------------

    def call(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        """POST a non-streaming request; return its JSON object.

        Raises:
            RequestFailed: the request failed (already recorded in Locust's stats).
        """
        body = json.dumps({"type": kind, "params": params})
        started, started_at = time.perf_counter(), time.time()
        thread_id = params.get("thread_id")
        with self._post(kind, body) as resp:
            try:
                _raise_for_status(resp)
                try:
                    payload = json.loads(resp.content or b"")
                except ValueError:
                    raise StreamFailure(INVALID_EVENT, "response is not JSON") from None
                if not isinstance(payload, dict):
                    raise StreamFailure(INVALID_EVENT, "response is not a JSON object")
            except StreamFailure as failure:
                resp.failure(str(failure))
                self._record(kind, thread_id, started_at, "failed", failure.kind, _e2e(started))
                raise RequestFailed(str(failure)) from None
            resp.success()
            self._record(kind, thread_id, started_at, "ok", None, _e2e(started))
            return payload

    def list_threads(self, limit: int, after: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, "order": "desc"}
        if after:
            params["after"] = after
        return self.call(THREADS_LIST, params)

    def list_items(
        self, thread_id: str, limit: int, after: str | None = None, order: str = "desc"
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"thread_id": thread_id, "limit": limit, "order": order}
        if after:
            params["after"] = after
        return self.call(ITEMS_LIST, params)

    def update_thread(self, thread_id: str, title: str) -> dict[str, Any]:
        return self.call(THREADS_UPDATE, {"thread_id": thread_id, "title": title})

    def delete_thread(self, thread_id: str) -> None:
        self.call(THREADS_DELETE, {"thread_id": thread_id})
        self.acks.write({"op": "delete", "user": self.user, "thread_id": thread_id})

    # -- streaming --------------------------------------------------------------------------

    def create_thread(self, text: str) -> StreamCheck:
        """``threads.create`` with a first message; returns the checked stream."""
        return self.stream(THREADS_CREATE, {"input": user_input(text)}, thread_id=None)

    def add_message(self, thread_id: str, text: str) -> StreamCheck:
        """``threads.add_user_message``; returns the checked stream."""
        params = {"thread_id": thread_id, "input": user_input(text)}
        return self.stream(THREADS_ADD_USER_MESSAGE, params, thread_id=thread_id)

    def stream(self, kind: str, params: dict[str, Any], thread_id: str | None) -> StreamCheck:
        """POST a streaming request, read the whole SSE response and check it.

        Raises:
            RequestFailed: the request or its stream failed (already recorded).
        """
        request_id = uuid.uuid4().hex
        record = {"req": request_id, "type": kind, "user": self.user, "thread_id": thread_id}
        self.acks.write({"op": "attempt", **record})
        sent = "".join(part["text"] for part in params["input"]["content"])
        check = StreamCheck(
            thread_id=thread_id,
            require_assistant=self.settings.require_assistant,
            expect_created=kind == THREADS_CREATE,
            sent_text=sent if self.settings.check_echo else None,
            user=self.user,
            owners=OWNERS,
        )
        body = json.dumps({"type": kind, "params": params})
        started = time.perf_counter()
        started_at = time.time()
        with self._post(kind, body, stream=True) as resp:
            try:
                _raise_for_status(resp)
                length = self._read_events(resp, kind, check, started, started_at)
                check.finish()
            except Exception as exc:  # every way a stream can break becomes a named failure
                failure = _exception_failure(exc)
                resp.failure(str(failure))
                self.acks.write({"op": "fail", **record, **_ids(check), "error": failure.kind})
                timing = stream_timing(check, started, time.perf_counter())
                self._record(kind, check.thread_id, started_at, "failed", failure.kind, timing)
                raise RequestFailed(str(failure)) from None
            resp.success()
        timing = stream_timing(check, started, time.perf_counter())
        self._fire(f"{STREAM_PREFIX}{kind}", started, started_at, length, timing["e2e_ms"])
        if timing["ttft_ms"] is not None:
            self._fire(f"{TTFT_PREFIX}{kind}", started, started_at, 0, timing["ttft_ms"])
        for gap in timing["itl_ms"]:
            self._fire(f"{ITL_PREFIX}{kind}", started, started_at, 0, gap)
        if timing["tpot_ms"] is not None:
            self._fire(f"{TPOT_PREFIX}{kind}", started, started_at, 0, timing["tpot_ms"])
        rate = check.tokens_per_second()
        if rate is not None:
            self._fire(f"{TOKENS_PREFIX}{kind}", started, started_at, len(check.delta_times), rate)
        self.acks.write({"op": "ack", **record, **_ids(check)})
        self._record(kind, check.thread_id, started_at, "ok", None, timing)
        return check

    def cancel_message(self, thread_id: str, text: str, whole: StreamCheck) -> bool:
        """``threads.add_user_message``, hung up on after :func:`cut_point` text deltas, then
        the thread read back (:meth:`read_back`). ``whole``: an earlier, whole turn, whose
        reply tells how many deltas (where to cut) and characters (what a reply the server
        finished before it saw the hang-up holds) to expect. True when it was cut; False
        when the stream ended first (a whole turn, acknowledged as one).

        Raises:
            RequestFailed: the request, its stream or the read-back failed (recorded).
        """
        cut = cut_point(len(whole.delta_times))
        params = {"thread_id": thread_id, "input": user_input(text)}
        record = {"req": uuid.uuid4().hex, "type": THREADS_ADD_USER_MESSAGE, "user": self.user,
                  "thread_id": thread_id}  # fmt: skip
        self.acks.write({"op": "attempt", **record})
        check = StreamCheck(
            thread_id=thread_id,
            sent_text=text if self.settings.check_echo else None,
            user=self.user,
            owners=OWNERS,
        )
        seen = SeenText()
        body = json.dumps({"type": THREADS_ADD_USER_MESSAGE, "params": params})
        started, started_at = time.perf_counter(), time.time()
        name = CANCELLED_ADD_USER_MESSAGE
        with self._post(name, body, stream=True) as resp:
            try:
                _raise_for_status(resp)
                cancelled = self._read_until_cut(resp, check, seen, cut)
                if not cancelled:
                    check.finish()
            except Exception as exc:  # every way a stream can break becomes a named failure
                failure = _exception_failure(exc)
                resp.failure(str(failure))
                self.acks.write({"op": "fail", **record, **_ids(check), "error": failure.kind})
                timing = {**stream_timing(check, started, time.perf_counter()), "cut_after": cut}
                self._record(name, thread_id, started_at, "failed", failure.kind, timing)
                raise RequestFailed(str(failure)) from None
            resp.success()
        timing = stream_timing(check, started, time.perf_counter())
        timing.update(cut_after=cut, cancelled=cancelled)
        self._record(name, thread_id, started_at, "ok", None, timing)
        if not cancelled:
            self.acks.write({"op": "ack", **record, **_ids(check)})
            return False
        assert check.user_message_id is not None  # the cut waits for it
        self.acks.write(
            {"op": "cancel", **record, "user_message_id": check.user_message_id,
             "assistant_message_id": seen.item_id if seen.text else None, "cut_after": cut,
             "seen_text": seen.text, "seen_chars": len(seen.text),
             "seen_sha1": hashlib.sha1(seen.text.encode()).hexdigest(),
             "reply_chars": len(whole.assistant_text)}
        )  # fmt: skip
        self.read_back(thread_id, check.user_message_id, seen)
        return True

    def _read_until_cut(self, resp: Any, check: StreamCheck, seen: SeenText, cut: int) -> bool:
        """Read events until the user message is done and ``cut`` text deltas arrived, then
        hang up (True); False when the body ended first, the server's turn complete."""
        cutting = True
        for _, payloads in _sse_lines(resp):
            for payload in payloads:
                event = parse_event(payload)
                check.observe(event, time.perf_counter())
                seen.observe(event)
            if cutting and check.user_message_id and len(check.delta_times) >= cut:
                if _hang_up(resp):
                    return True
                cutting = False  # the whole body had arrived: nothing left to cancel
        return False

    def read_back(self, thread_id: str, user_message_id: str, seen: SeenText) -> None:
        """Poll ``items.list`` of a cancelled turn's thread until it keeps the SDK's promise
        (:func:`broken_promise`) or :data:`CANCEL_READ_BACK_S` pass; one ``cancel read-back``
        entry and record, failed as ``cancel_lost`` when the promise stays broken.

        Raises:
            RequestFailed: a poll failed, or the promise was broken (recorded).
        """
        started, started_at = time.perf_counter(), time.time()
        pause, polls = READ_BACK_FIRST_PAUSE_S, 0
        while True:
            polls += 1
            try:
                problem = broken_promise(self._poll_items(thread_id), user_message_id, seen)
            except StreamFailure as failure:
                self._read_back_done(thread_id, started, started_at, polls, failure)
                raise RequestFailed(str(failure)) from None
            if problem is None or time.perf_counter() - started + pause > CANCEL_READ_BACK_S:
                break
            time.sleep(pause)  # gevent's, under Locust
            pause *= 2
        lost = StreamFailure(CANCEL_LOST, problem) if problem else None
        self._read_back_done(thread_id, started, started_at, polls, lost)
        if lost is not None:
            raise RequestFailed(str(lost))

    def _poll_items(self, thread_id: str) -> list[dict[str, Any]]:
        params = {"thread_id": thread_id, "limit": READ_BACK_PAGE, "order": "desc"}
        body = json.dumps({"type": ITEMS_LIST, "params": params})
        # Not entered as a block: Locust reports a catch_response request when its block
        # exits, so the polls stay out of the statistics (the read-back is one entry).
        resp = self._post(None, body)
        _raise_for_status(resp)
        try:
            page = json.loads(resp.content or b"")
        except ValueError:
            raise StreamFailure(INVALID_EVENT, "response is not JSON") from None
        data = page.get("data") if isinstance(page, dict) else None
        if not isinstance(data, list):
            raise StreamFailure(INVALID_EVENT, "items.list without a data list")
        return [item for item in data if isinstance(item, dict)]

    def _read_back_done(
        self,
        thread_id: str,
        started: float,
        started_at: float,
        polls: int,
        failure: StreamFailure | None,
    ) -> None:
        e2e = _e2e(started)
        self._fire(CANCEL_READ_BACK, started, started_at, 0, e2e["e2e_ms"], "POST", failure)
        status, kind = ("failed", failure.kind) if failure else ("ok", None)
        detail = {"polls": polls, "detail": str(failure) if failure else None}
        self._record(CANCEL_READ_BACK, thread_id, started_at, status, kind, {**e2e, **detail})

    def _record(
        self,
        kind: str,
        thread_id: str | None,
        started_at: float,
        status: str,
        failure: str | None,
        timing: dict[str, Any],
    ) -> None:
        """One request's line of the records: who, which thread, status, failure kind and
        its timings (ms, exact, where Locust's statistics round them)."""
        self.records.write(
            {"t0": started_at, "type": kind, "user": self.user, "thread_id": thread_id,
             "status": status, "failure": failure, **timing}
        )  # fmt: skip

    def _read_events(
        self, resp: Any, kind: str, check: StreamCheck, started: float, started_at: float
    ) -> int:
        length = 0
        for line, payloads in _sse_lines(resp):
            length += len(line)
            for payload in payloads:
                if check.events == 0:
                    self._fire(f"{TTFE_PREFIX}{kind}", started, started_at, 0)
                check.observe(parse_event(payload), time.perf_counter())
        return length

    def _post(self, name: str | None, body: str, *, stream: bool = False) -> Any:
        """A ChatKit POST under Locust entry ``name``; entered as a ``with`` block, its exit
        reports it (``catch_response``). ``stream``: the body is read as it arrives."""
        return self.http.post(
            self.settings.chatkit_path,
            data=body,
            headers=self.headers,
            name=name,
            stream=stream,
            catch_response=True,
        )

    def _fire(
        self,
        name: str,
        started: float,
        started_at: float,
        length: int,
        value: float | None = None,
        request_type: str = SSE_TYPE,
        exception: Exception | None = None,
    ) -> None:
        """An entry (default ``SSE``): ``value`` in its time columns (default: ms since
        ``started``), failed when ``exception`` is given."""
        self.request_event.fire(
            request_type=request_type,
            name=name,
            response_time=(time.perf_counter() - started) * 1000 if value is None else value,
            response_length=length,
            exception=exception,
            context={},
            start_time=started_at,
            url=self.settings.chatkit_path,
        )


def _lines(resp: Any) -> Iterator[bytes]:
    """The body line by line, each as soon as it arrives.

    ``iter_content(n)`` waits for n bytes, which would time the first event at the end of
    a short stream; geventhttpclient's ``readline`` returns as soon as a line is complete.
    """
    raw = resp._response  # the geventhttpclient response under Locust's wrapper
    try:
        while line := raw.readline(b"\n"):
            yield line
        tail = raw.read()  # a last line without its newline, if any
    except Exception as exc:
        failure = _exception_failure(exc)
        if failure.kind == TIMEOUT:
            raise failure from None
        raise StreamFailure(EARLY_END, f"connection closed mid-stream ({failure})") from None
    if tail:
        yield tail


def _sse_lines(resp: Any) -> Iterator[tuple[bytes, list[str]]]:
    """Each line of the body with the SSE payloads it completed.

    Raises:
        StreamFailure: ``invalid_event`` for a body that is not UTF-8; ``early_end`` when the
            body ends inside an event.
    """
    parser = SSEParser()
    for line in _lines(resp):
        try:
            yield line, parser.feed(line)
        except UnicodeDecodeError:
            raise StreamFailure(INVALID_EVENT, "stream is not UTF-8") from None
    if parser.leftover():
        raise StreamFailure(EARLY_END, "stream ended inside an event")


def _hang_up(resp: Any) -> bool:
    """Close the connection mid-body, as a closed browser tab does: the socket is closed,
    never returned to the pool (its unread rest would answer the next request). False when
    the body had already arrived whole (the socket was released): nothing was cut."""
    raw = resp._response  # the geventhttpclient response under Locust's wrapper
    sock, pool = raw._sock, getattr(raw, "_pool", None)
    if sock is None:
        return False
    raw._sock = None
    if pool is not None:
        raw._pool = None
        pool.release_socket(sock)  # closes it and frees its slot in the pool
    else:
        sock.close()
    return True


def stream_timing(check: StreamCheck, started: float, ended: float) -> dict[str, Any]:
    """A stream's timings in ms (to the microsecond), as its record holds them; its Locust
    entries are fired from the same numbers."""
    tpot = check.time_per_output_token_ms(ended)
    return {
        "e2e_ms": _ms(ended - started),
        "ttfe_ms": None if check.first_event_at is None else _ms(check.first_event_at - started),
        "ttft_ms": None if check.first_token_at is None else _ms(check.first_token_at - started),
        "deltas": len(check.delta_times),
        "itl_ms": [round(gap, 3) for gap in check.inter_token_ms()],
        "tpot_ms": None if tpot is None else round(tpot, 3),
    }


def _e2e(started: float) -> dict[str, Any]:
    return {"e2e_ms": _ms(time.perf_counter() - started)}


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _ids(check: StreamCheck) -> dict[str, Any]:
    return {
        "thread_id": check.thread_id,
        "user_message_id": check.user_message_id,
        "assistant_message_id": check.assistant_message_id,
        "items": check.done_items,
        "assistant_sha1": hashlib.sha1(check.assistant_text.encode()).hexdigest()
        if check.assistant_message_id
        else None,
    }
