"""The SSE parser and the stream rules the Locust client applies (no network)."""

from __future__ import annotations

import json

import pytest

from chatkit_pg.harness.vocabulary import CROSS_TALK, NO_REPLY
from chatkit_pg.loadtest.scenarios.ownership import Ownership
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
    # No event, or no user message: the stream ended early. After the user message the turn
    # is the server's to shape; without an assistant message it fails only when required.
    check = StreamCheck(require_assistant=True)
    for e in complete_stream()[:cut]:
        check.observe(e)
    with pytest.raises(StreamFailure) as info:
        check.finish()
    assert info.value.kind == (EARLY_END if cut < 2 else NO_REPLY)


def test_error_event_and_invalid_json() -> None:
    with pytest.raises(StreamFailure) as info:
        StreamCheck().observe({"type": "error", "code": "stream.error"})
    assert info.value.kind == ERROR_EVENT
    for bad in ("{", "[]", '{"type": 3}'):
        with pytest.raises(StreamFailure) as info:
            parse_event(bad)
        assert info.value.kind == INVALID_EVENT


# -- every event order the SDK can produce ------------------------------------------------


def _turn(*reply: dict) -> list[dict]:
    user = {"id": "msg_u", "thread_id": "thr_1", "type": "user_message"}
    return [
        {"type": "thread.created", "thread": {"id": "thr_1"}},
        {"type": "thread.item.done", "item": user},
        {"type": "stream_options", "stream_options": {"allow_cancel": True}},
        *reply,
    ]


ASSISTANT = {"id": "msg_a", "thread_id": "thr_1", "type": "assistant_message"}
TOOL_CALL = {"id": "tc", "thread_id": "thr_1", "type": "client_tool_call"}
WHOLE = {**ASSISTANT, "content": [{"type": "output_text", "text": "whole"}]}


def _delta(text: str) -> dict:
    update = {"type": "assistant_message.content_part.text_delta", "content_index": 0}
    return {"type": "thread.item.updated", "item_id": "msg_a", "update": {**update, "delta": text}}


ORDERS = {
    "single_done": _turn({"type": "thread.item.done", "item": WHOLE}),
    "streamed": _turn(
        {"type": "thread.item.added", "item": {**ASSISTANT, "content": []}},
        _delta("a"),
        _delta("b"),
        {"type": "thread.item.done", "item": {**ASSISTANT, "content": [{"text": "ab"}]}},
    ),
    "widget_only": _turn(
        {"type": "thread.item.added", "item": {"id": "w", "thread_id": "thr_1", "type": "widget"}},
        {"type": "thread.item.updated", "item_id": "w", "update": {"type": "widget.root.updated"}},
        {"type": "thread.item.done", "item": {"id": "w", "thread_id": "thr_1", "type": "widget"}},
    ),
    "client_tool": _turn(
        {"type": "thread.item.done", "item": TOOL_CALL},
    ),
    "title_notice_progress": _turn(
        {"type": "progress_update", "text": "thinking"},
        {"type": "notice", "level": "info", "message": "hi"},
        {"type": "thread.item.done", "item": WHOLE},
        {"type": "thread.updated", "thread": {"id": "thr_1", "title": "t"}},
        {"type": "some.future.event"},
    ),
}  # fmt: skip


@pytest.mark.parametrize("order", sorted(ORDERS))
def test_every_sdk_event_order_is_a_complete_turn(order: str) -> None:
    check = StreamCheck(expect_created=True)
    for n, e in enumerate(ORDERS[order]):
        check.observe(e, now=float(n))
    check.finish()
    assert check.user_message_id == "msg_u"
    has_text = order in ("single_done", "streamed", "title_notice_progress")
    assert (check.first_token_at is not None) == has_text
    if order == "streamed":
        assert check.first_token_at == 4.0 and check.tokens_per_second() == 1.0
        assert check.assistant_text == "ab"


def test_assistant_required_only_when_asked() -> None:
    check = StreamCheck(require_assistant=True)
    for e in ORDERS["widget_only"]:
        check.observe(e)
    with pytest.raises(StreamFailure) as info:
        check.finish()
    assert info.value.kind == NO_REPLY


def test_update_of_an_item_never_named_is_invalid() -> None:
    check = StreamCheck()
    with pytest.raises(StreamFailure) as info:
        check.observe(_delta("x"))
    assert info.value.kind == INVALID_EVENT


def test_inter_token_latency_and_time_per_output_token() -> None:
    """vLLM's definitions, a text delta for a token: one ITL per gap between deltas; TPOT =
    (end - first token) / (deltas - 1), none under two deltas."""
    check = StreamCheck(expect_created=True)
    arrivals = [0.0, 0.0, 0.0, 0.0, 0.100, 0.130, 0.190]  # the deltas at 100, 130, 190 ms
    turn = _turn(
        {"type": "thread.item.added", "item": {**ASSISTANT, "content": []}},
        _delta("a"),
        _delta("b"),
        _delta("c"),
    )
    for e, now in zip(turn, arrivals, strict=True):
        check.observe(e, now=now)
    assert check.inter_token_ms() == pytest.approx([30.0, 60.0])
    assert check.time_per_output_token_ms(ended=0.300) == pytest.approx(100.0)  # 200 ms / 2
    whole = StreamCheck(expect_created=True)
    for n, e in enumerate(ORDERS["single_done"]):
        whole.observe(e, now=float(n))
    assert whole.inter_token_ms() == [] and whole.time_per_output_token_ms(9.0) is None


def _user_done(thread: str, text: str) -> dict:
    item = {"id": "msg_u", "thread_id": thread, "type": "user_message"}
    return {"type": "thread.item.done", "item": {**item, "content": [{"text": text}]}}


@pytest.mark.parametrize(
    ("case", "events"),
    [
        ("item of another thread", [_user_done("thr_other", "hello")]),
        ("thread.updated of another", [{"type": "thread.updated", "thread": {"id": "thr_x"}}]),
        (
            "a second thread.created",
            [
                {"type": "thread.created", "thread": {"id": "thr_1"}},
                {"type": "thread.created", "thread": {"id": "thr_2"}},
            ],
        ),
        ("another user's message", [_user_done("thr_1", "someone else's words")]),
    ],
)
def test_another_conversation_in_the_stream_is_cross_talk(case: str, events: list) -> None:
    check = StreamCheck(thread_id="thr_1", sent_text="hello")
    if case == "a second thread.created":
        check = StreamCheck(expect_created=True, sent_text="hello")
    with pytest.raises(StreamFailure) as info:
        for e in events:
            check.observe(e)
    assert info.value.kind == CROSS_TALK


def test_the_echo_of_the_users_own_message_passes() -> None:
    check = StreamCheck(thread_id="thr_1", sent_text="hello there ")
    check.observe(_user_done("thr_1", "hello there"))
    assert check.user_message_id == "msg_u"
    unchecked = StreamCheck(thread_id="thr_1")  # --check-echo false
    unchecked.observe(_user_done("thr_1", "rewritten by the server"))
    assert unchecked.user_message_id == "msg_u"


def _read(check: StreamCheck, events: list[dict]) -> StreamCheck:
    for e in events:
        check.observe(e)
    check.finish()
    return check


def test_another_users_stream_is_cross_talk_even_when_its_text_matches() -> None:
    """A server that sends user B's create stream to A: each stream alone is well formed,
    and with the echo unchecked only the ids B's stream claimed give it away."""
    owners = Ownership()
    _read(StreamCheck(expect_created=True, user="b", owners=owners), complete_stream())
    _read(StreamCheck(expect_created=True, user="b", owners=owners), complete_stream())  # B again
    with pytest.raises(StreamFailure, match="thread thr_1 belongs to another user") as info:
        _read(StreamCheck(expect_created=True, user="a", owners=owners), complete_stream())
    assert info.value.kind == CROSS_TALK
    renamed = [{"type": "thread.created", "thread": {"id": "thr_2"}}] + [
        {**e, "item": {**e["item"], "thread_id": "thr_2"}} for e in complete_stream()[1:]
    ]
    with pytest.raises(StreamFailure, match="item msg_u belongs to another thread"):
        _read(StreamCheck(expect_created=True, user="a", owners=owners), renamed)


def test_ownership_forgets_the_oldest_ids_past_its_limit() -> None:
    owners = Ownership(limit=2)
    for n in range(3):
        assert owners.claim_item(f"msg_{n}", "thr_1") is None
    assert owners.claim_item("msg_0", "thr_2") is None  # forgotten
    assert owners.claim_item("msg_2", "thr_2") == "item msg_2 belongs to another thread"
