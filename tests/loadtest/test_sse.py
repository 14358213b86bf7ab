"""The SSE parser and the stream rules the Locust client applies (no network)."""

from __future__ import annotations

import json

import pytest

from chatkit_pg.loadtest.scenarios.sse import (
    EARLY_END,
    ERROR_EVENT,
    INVALID_EVENT,
    SSEParser,
    StreamCheck,
    StreamFailure,
    parse_event,
)


def event(payload: dict) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def complete_stream() -> list[dict]:
    user = {"id": "msg_u", "thread_id": "thr_1", "type": "user_message"}
    assistant = {"id": "msg_a", "thread_id": "thr_1", "type": "assistant_message"}
    return [
        {"type": "thread.created", "thread": {"id": "thr_1"}},
        {"type": "thread.item.done", "item": user},
        {"type": "thread.item.added", "item": assistant},
        {"type": "thread.item.done", "item": {**assistant, "content": [{"text": "hi"}]}},
    ]


def test_parser_handles_any_chunking() -> None:
    body = b"".join(event(e) for e in complete_stream()) + b": keep-alive\n\n"
    for size in (1, 3, 7, len(body)):
        parser, payloads = SSEParser(), []
        for n in range(0, len(body), size):
            payloads += parser.feed(body[n : n + size])
        assert [json.loads(p)["type"] for p in payloads] == [e["type"] for e in complete_stream()]
        assert not parser.leftover()


def test_parser_joins_data_lines_and_crlf() -> None:
    parser = SSEParser()
    assert parser.feed(b'event: x\r\ndata: {"type":\r\ndata: "a"}\r\n\r\n') == ['{"type":\n"a"}']
    assert parser.feed(b"data: {") == [] and parser.leftover()


def test_complete_stream_passes() -> None:
    check = StreamCheck()
    for e in complete_stream():
        check.observe(e)
    check.finish()
    assert (check.thread_id, check.user_message_id, check.assistant_message_id) == (
        "thr_1",
        "msg_u",
        "msg_a",
    )
    assert check.assistant_text == "hi"


@pytest.mark.parametrize("cut", [0, 1, 2, 3])
def test_early_end(cut: int) -> None:
    check = StreamCheck()
    for e in complete_stream()[:cut]:
        check.observe(e)
    with pytest.raises(StreamFailure) as info:
        check.finish()
    assert info.value.kind == EARLY_END


def test_error_event_and_invalid_json() -> None:
    with pytest.raises(StreamFailure) as info:
        StreamCheck().observe({"type": "error", "code": "stream.error"})
    assert info.value.kind == ERROR_EVENT
    for bad in ("{", "[]", '{"type": 3}'):
        with pytest.raises(StreamFailure) as info:
            parse_event(bad)
        assert info.value.kind == INVALID_EVENT
