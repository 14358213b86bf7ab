"""Hostile HTTP against the real server (uvicorn on 127.0.0.1): bad bodies, bad identities,
another user's ids in every request type that takes one.

Every case checks the status, that the body is JSON naming what was wrong (no traceback,
no database address), and, for the attacks on the victim, that the whole database is
unchanged and the response holds none of the victim's data.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final

import httpx
import pytest

from chatkit_pg.harness.provision import PostgresServer
from chatkit_pg.loadtest.server.chatkit_server import CHATKIT_REQUEST

from ..conftest import fresh_database
from .http_fixtures import (
    ATTACKER,
    MAX_BODY_BYTES,
    SECRET,
    VICTIM,
    Target,
    snapshot,
    start_target,
    totals,
)

MISSING_THREAD: Final = "thr_0123456789abcdef01234567"
FORBIDDEN_IN_BODIES: Final = ("Traceback", 'File "', "postgresql://", "/tmp/", "asyncpg")
TRIED: dict[str, int] = {"cases": 0}


@pytest.fixture(scope="module")
async def hostile_dsn(pg_server: PostgresServer) -> AsyncIterator[str]:
    async with fresh_database(pg_server, "chatkit_hostile") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def target(hostile_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    log = tmp_path_factory.mktemp("hostile") / "server.log"
    yield from start_target(hostile_dsn, log)
    print(f"hostile HTTP cases tried: {TRIED['cases']}")


@pytest.fixture
async def client(target: Target) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=target.url, timeout=30) as http:
        yield http


def user_input(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


async def post(
    client: httpx.AsyncClient,
    body: bytes | str | dict[str, Any],
    headers: dict[str, str] | None = None,
    user: str | None = ATTACKER,
) -> httpx.Response:
    """POST ``body`` to /chatkit as ``user`` and check the response is never a bad 5xx."""
    TRIED["cases"] += 1
    content = json.dumps(body) if isinstance(body, dict) else body
    sent = {"Authorization": f"Bearer {user}"} if user is not None else {}
    resp = await client.post("/chatkit", content=content, headers={**sent, **(headers or {})})
    assert resp.status_code < 500 or resp.status_code == 501, (resp.status_code, resp.text)
    if resp.status_code >= 400:
        error = resp.json()
        assert error["status"] == resp.status_code and error["error"], error
        for marker in FORBIDDEN_IN_BODIES:
            assert marker not in resp.text, (marker, resp.text)
    return resp


async def raw_post(url: str, head: bytes, body: bytes) -> tuple[int, dict[str, Any]]:
    """POST bytes no HTTP client would send (lying Content-Length, odd headers).

    ``head`` holds the header lines after the request line; returns status and JSON body.
    """
    TRIED["cases"] += 1
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"POST /chatkit HTTP/1.1\r\nHost: " + host.encode() + b"\r\n")
        writer.write(head + b"Connection: close\r\n\r\n" + body)
        await writer.drain()
        writer.write_eof()
        response = await asyncio.wait_for(reader.read(), timeout=30)
    finally:
        writer.close()
    status_line, _, rest = response.partition(b"\r\n")
    payload = rest.partition(b"\r\n\r\n")[2]
    status = int(status_line.split()[1])
    assert status < 500, (status, response)
    return status, json.loads(payload) if payload.startswith(b"{") else {}


def foreign_requests(target: Target, thread_id: str | None = None) -> list[dict[str, Any]]:
    """One valid request of every type that takes a thread (or attachment) id.

    With ``thread_id`` None each request names the victim thread in which it would do the
    most damage; otherwise every request names ``thread_id``.
    """
    v = target.victim

    def tid(default: str) -> str:
        return thread_id or default

    action = {"type": "confirm", "payload": {"order": 42}}
    return [
        {"type": "threads.get_by_id", "params": {"thread_id": tid(v.chat)}},
        {
            "type": "threads.add_user_message",
            "params": {"thread_id": tid(v.chat), "input": user_input("let me in")},
        },
        {
            "type": "threads.add_client_tool_output",
            "params": {"thread_id": tid(v.tool), "result": {"stolen": True}},
        },
        {
            "type": "threads.add_structured_input",
            "params": {
                "thread_id": tid(v.form),
                "item_id": v.pending_input,
                "input": {"status": "answered", "answers": {"q1": {"values": ["pwned"]}}},
            },
        },
        {
            "type": "threads.retry_after_item",
            "params": {"thread_id": tid(v.chat), "item_id": v.user_message},
        },
        {
            "type": "threads.custom_action",
            "params": {"thread_id": tid(v.chat), "item_id": v.widget, "action": action},
        },
        {
            "type": "threads.sync_custom_action",
            "params": {"thread_id": tid(v.chat), "item_id": v.widget, "action": action},
        },
        {"type": "items.list", "params": {"thread_id": tid(v.chat), "limit": 100}},
        {
            "type": "items.feedback",
            "params": {"thread_id": tid(v.chat), "item_ids": [v.user_message], "kind": "negative"},
        },
        {"type": "threads.update", "params": {"thread_id": tid(v.chat), "title": "stolen"}},
        {"type": "threads.delete", "params": {"thread_id": tid(v.chat)}},
    ]


def attachment_request(attachment_id: str) -> dict[str, Any]:
    return {"type": "attachments.delete", "params": {"attachment_id": attachment_id}}


def leaked(resp: httpx.Response, request: dict[str, Any], target: Target) -> list[str]:
    """Victim data in ``resp`` that the attacker did not send itself."""
    sent = json.dumps(request)
    secrets = [SECRET, "report.pdf", "VICTIM", "tc_pending", "msg_tool_q", "msg_assistant"]
    return [s for s in secrets if s in resp.text and s not in sent]


async def test_requests_are_well_formed(target: Target) -> None:
    # The 404s below must come from ownership, not from a malformed request.
    for request in [*foreign_requests(target), attachment_request("atc_x")]:
        CHATKIT_REQUEST.validate_python(request)


@pytest.mark.parametrize("thread_kind", ["victim", "missing"])
async def test_foreign_or_missing_thread_is_404_and_untouched(
    client: httpx.AsyncClient, target: Target, thread_kind: str
) -> None:
    before, counts = await snapshot(target.dsn), await totals(target.dsn)
    assert len(before) > 10  # the victim's rows are there to be attacked
    requests = foreign_requests(target, MISSING_THREAD if thread_kind == "missing" else None)
    for request in requests:
        resp = await post(client, request)
        assert resp.status_code == 404, (request["type"], resp.status_code, resp.text)
        assert "not found" in resp.json()["error"], resp.text
        assert not leaked(resp, request, target), (request["type"], resp.text)
    # An attachment delete is idempotent (the SDK deletes the file first): a foreign or
    # missing id answers like a deleted one, revealing nothing, and deletes nothing.
    attachment = attachment_request(
        target.victim.attachment if thread_kind == "victim" else "atc_nope"
    )
    resp = await post(client, attachment)
    assert resp.status_code == 200, resp.text
    assert not leaked(resp, attachment, target), resp.text
    assert await snapshot(target.dsn) == before
    assert await totals(target.dsn) == counts  # nothing written anywhere, attacker's rows too


async def test_victim_still_has_access(client: httpx.AsyncClient, target: Target) -> None:
    # The same ids work for their owner: the 404s above are about who asks.
    request = {"type": "items.list", "params": {"thread_id": target.victim.chat, "limit": 100}}
    resp = await post(client, request, user=VICTIM)
    assert resp.status_code == 200 and len(resp.json()["data"]) >= 10
    thread = await post(client, foreign_requests(target)[0], user=VICTIM)
    assert SECRET in thread.json()["title"]


MALFORMED: Final[list[tuple[str, bytes, str]]] = [
    ("empty body", b"", "invalid ChatKit request"),
    ("truncated JSON", b'{"type": "threads.list", "params": {', "invalid ChatKit request"),
    ("not JSON", b"type=threads.list", "invalid ChatKit request"),
    ("invalid UTF-8", b'{"type": "threads.list\xff\xfe"}', "invalid ChatKit request"),
    ("JSON null", b"null", "invalid ChatKit request"),
    ("JSON array", b'[{"type": "threads.list", "params": {}}]', "invalid ChatKit request"),
    ("JSON string", b'"threads.list"', "invalid ChatKit request"),
    ("deep nesting", b"[" * 5000 + b"]" * 5000, "invalid ChatKit request"),
    ("unknown type", b'{"type": "threads.drop_all", "params": {}}', "type"),
    ("type not a string", b'{"type": 7, "params": {}}', "type"),
    ("no type", b'{"params": {"thread_id": "thr_mallory"}}', "type"),
    ("no params", b'{"type": "items.list"}', "params"),
    ("missing thread_id", b'{"type": "items.list", "params": {}}', "thread_id"),
    (
        "thread_id a number",
        b'{"type": "threads.get_by_id", "params": {"thread_id": 7}}',
        "thread_id",
    ),
    ("thread_id null", b'{"type": "threads.delete", "params": {"thread_id": null}}', "thread_id"),
    (
        "limit not a number",
        b'{"type": "threads.list", "params": {"limit": "ten"}}',
        "limit",
    ),
    ("bad order", b'{"type": "threads.list", "params": {"order": "sideways"}}', "order"),
    (
        "bad feedback kind",
        b'{"type": "items.feedback", "params": {"thread_id": "thr_mallory", "item_ids": [],'
        b' "kind": "meh"}}',
        "kind",
    ),
    (
        "input not an object",
        b'{"type": "threads.create", "params": {"input": "hello"}}',
        "input",
    ),
    (
        "content part of unknown type",
        b'{"type": "threads.create", "params": {"input": {"content": [{"type": "exec"}],'
        b' "attachments": []}}}',
        "content",
    ),
]


@pytest.mark.parametrize(("name", "body", "named"), MALFORMED, ids=[m[0] for m in MALFORMED])
async def test_malformed_bodies_are_400_naming_the_problem(
    client: httpx.AsyncClient, target: Target, name: str, body: bytes, named: str
) -> None:
    counts = await totals(target.dsn)
    resp = await post(client, body)
    assert resp.status_code == 400, (name, resp.text)
    assert named in resp.json()["error"], (name, resp.text)
    assert await totals(target.dsn) == counts


async def test_bad_values_reach_the_store_as_400(client: httpx.AsyncClient, target: Target) -> None:
    own = target.victim.attacker_thread
    cases = [
        ({"type": "items.list", "params": {"thread_id": own, "limit": -5}}, "limit"),
        ({"type": "threads.list", "params": {"limit": -1}}, "limit"),
    ]
    for request, named in cases:
        resp = await post(client, request)
        assert resp.status_code == 400, (request, resp.text)
        assert named in resp.json()["error"], resp.text
    # NUL in a title is text: stored and returned intact (ids refuse it, above).
    nul = {"type": "threads.update", "params": {"thread_id": own, "title": "a\u0000b"}}
    assert (await post(client, nul)).json()["title"] == "a\u0000b"
    # A cursor that names nothing, and an id full of SQL: clear 404s, not errors.
    unknown = {"type": "items.list", "params": {"thread_id": own, "after": "msg_nope"}}
    assert (await post(client, unknown)).status_code == 404
    sql = {"type": "threads.get_by_id", "params": {"thread_id": "'; DROP TABLE chatkit_threads;--"}}
    assert (await post(client, sql)).status_code == 404
    too_long = {"type": "threads.get_by_id", "params": {"thread_id": "x" * 2000}}
    assert (await post(client, too_long)).status_code == 404
    huge_limit = {"type": "items.list", "params": {"thread_id": own, "limit": 10**30}}
    assert (await post(client, huge_limit)).status_code in (200, 400)
    # A lone surrogate is escaped JSON the SDK accepts; the store refuses it cleanly.
    surrogate = (
        b'{"type": "threads.update", "params": {"thread_id": "thr_mallory", "title": "\\ud800"}}'
    )
    assert (await post(client, surrogate)).status_code in (200, 400)


async def test_unsupported_request_types_are_501(client: httpx.AsyncClient, target: Target) -> None:
    own = target.victim.attacker_thread
    for request in [
        {"type": "attachments.create", "params": {"name": "a", "size": 1, "mime_type": "x/y"}},
        {"type": "input.transcribe", "params": {"audio_base64": "AAAA", "mime_type": "audio/ogg"}},
        {
            "type": "threads.sync_custom_action",
            "params": {"thread_id": own, "action": {"type": "x"}},
        },
    ]:
        resp = await post(client, request)
        assert resp.status_code == 501, resp.text
        assert request["type"] in resp.json()["error"]


async def test_oversized_bodies_are_413(client: httpx.AsyncClient, target: Target) -> None:
    counts = await totals(target.dsn)
    title = "x" * (MAX_BODY_BYTES + 1)
    body = {"type": "threads.update", "params": {"thread_id": "thr_mallory", "title": title}}
    resp = await post(client, body)
    assert resp.status_code == 413 and f"{MAX_BODY_BYTES:,}" in resp.json()["error"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the cap counts bytes read
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b" " * 1024

    TRIED["cases"] += 1
    streamed = await client.post(
        "/chatkit", content=chunks(), headers={"Authorization": f"Bearer {ATTACKER}"}
    )
    assert streamed.status_code == 413, streamed.text
    auth = f"Authorization: Bearer {ATTACKER}\r\n".encode()
    lying, _ = await raw_post(target.url, auth + b"Content-Length: 1000000000000\r\n", b"{}")
    assert lying == 413
    # Just below the cap is served.
    fits = {"type": "threads.update", "params": {"thread_id": "thr_mallory", "title": "y" * 60000}}
    assert (await post(client, fits)).status_code == 200
    assert (await totals(target.dsn))["threads"] == counts["threads"]


BAD_IDENTITIES: Final[list[tuple[str, bytes]]] = [
    ("no header", b""),
    ("empty bearer", b"Authorization: Bearer \r\n"),
    ("bearer only", b"Authorization: Bearer\r\n"),
    ("basic scheme", b"Authorization: Basic dmljdGltLXVzZXI6cHc=\r\n"),
    ("token with space", b"Authorization: Bearer victim-user extra\r\n"),
    ("no scheme", b"Authorization: victim-user\r\n"),
    ("empty user header", b"X-User-Id:   \r\n"),
    ("non-ASCII user", "X-User-Id: vi\u0441tim-user\r\n".encode()),
    ("latin-1 user", b"X-User-Id: victim-\xe9\r\n"),
    ("control character", b"X-User-Id: victim\tuser\r\n"),
    ("too long", b"Authorization: Bearer " + b"a" * 201 + b"\r\n"),
]


@pytest.mark.parametrize(("name", "header"), BAD_IDENTITIES, ids=[b[0] for b in BAD_IDENTITIES])
async def test_missing_or_bad_identity_is_401(target: Target, name: str, header: bytes) -> None:
    body = json.dumps({"type": "items.list", "params": {"thread_id": target.victim.chat}})
    length = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n".encode()
    status, error = await raw_post(target.url, header + length, body.encode())
    assert status == 401, (name, error)
    assert "user" in error["error"] or "identity" in error["error"], error
    assert SECRET not in json.dumps(error)


async def test_wrong_method_and_path(client: httpx.AsyncClient) -> None:
    TRIED["cases"] += 2
    assert (await client.get("/chatkit")).status_code == 405
    assert (await client.post("/admin", content=b"{}")).status_code == 404
