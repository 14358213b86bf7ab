"""The server under test, end to end through real HTTP (uvicorn on 127.0.0.1)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from chatkit_pg.loadtest.scenarios.sse import SSEParser, StreamCheck, parse_event


def user_input(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


@pytest.fixture
def client(server_url: str) -> httpx.Client:
    with httpx.Client(base_url=server_url, timeout=30) as http:
        yield http


def call(client: httpx.Client, user: str, kind: str, params: dict[str, Any]) -> httpx.Response:
    return client.post(
        "/chatkit",
        content=json.dumps({"type": kind, "params": params}),
        headers={"Authorization": f"Bearer {user}"},
    )


def stream(
    client: httpx.Client, user: str, kind: str, params: dict[str, Any], thread_id: str | None
) -> tuple[StreamCheck, list[dict[str, Any]]]:
    parser, check, events = SSEParser(), StreamCheck(thread_id=thread_id), []
    body = json.dumps({"type": kind, "params": params})
    with client.stream("POST", "/chatkit", content=body, headers={"X-User-Id": user}) as resp:
        assert resp.status_code == 200, resp.read()
        assert resp.headers["content-type"].startswith("text/event-stream")
        for chunk in resp.iter_bytes():
            for payload in parser.feed(chunk):
                events.append(parse_event(payload))
                check.observe(events[-1])
    assert not parser.leftover()
    check.finish()
    return check, events


def test_conversation_round_trip(client: httpx.Client) -> None:
    created, events = stream(
        client, "alice", "threads.create", {"input": user_input("hello there")}, None
    )
    assert events[0]["type"] == "thread.created"
    deltas = [
        e for e in events
        if e["type"] == "thread.item.updated"
        and e["update"]["type"] == "assistant_message.content_part.text_delta"
    ]  # fmt: skip
    assert len(deltas) == 4  # K from the fixture's settings
    assert created.assistant_text == "".join(d["update"]["delta"] for d in deltas)
    thread_id = created.thread_id
    assert thread_id

    added, _ = stream(
        client,
        "alice",
        "threads.add_user_message",
        {"thread_id": thread_id, "input": user_input("and again")},
        thread_id,
    )
    assert added.user_message_id != created.user_message_id

    listed = call(client, "alice", "threads.list", {"limit": 10}).json()
    assert thread_id in [t["id"] for t in listed["data"]]

    # items.list pages: every item once, newest first, across pages of 1.
    expected = {i for i, _ in created.done_items} | {i for i, _ in added.done_items}
    seen, after = [], None
    while True:
        params = {"thread_id": thread_id, "limit": 1, "order": "desc"}
        if after:
            params["after"] = after
        page = call(client, "alice", "items.list", params).json()
        seen += [item["id"] for item in page["data"]]
        if not page["has_more"]:
            break
        after = page["after"]
    assert set(seen) == expected and len(seen) == len(expected)
    assert seen[0] == added.done_items[-1][0]

    updated = call(client, "alice", "threads.update", {"thread_id": thread_id, "title": "T"})
    assert updated.status_code == 200 and updated.json()["title"] == "T"

    assert call(client, "alice", "threads.delete", {"thread_id": thread_id}).status_code == 200
    listed = call(client, "alice", "threads.list", {"limit": 10}).json()
    assert thread_id not in [t["id"] for t in listed["data"]]
    gone = call(client, "alice", "threads.update", {"thread_id": thread_id, "title": "x"})
    assert gone.status_code == 404
    assert call(client, "alice", "items.list", {"thread_id": thread_id}).status_code == 404


def test_identity_required(client: httpx.Client) -> None:
    resp = client.post("/chatkit", content=json.dumps({"type": "threads.list", "params": {}}))
    assert resp.status_code == 401
    assert "Authorization" in resp.json()["error"]
    assert resp.headers["www-authenticate"] == "Bearer"


def test_other_users_thread_is_not_found(client: httpx.Client) -> None:
    created, _ = stream(client, "owner", "threads.create", {"input": user_input("mine")}, None)
    thread_id = created.thread_id
    for kind, params in [
        ("threads.update", {"thread_id": thread_id, "title": "stolen"}),
        ("threads.delete", {"thread_id": thread_id}),
        ("threads.add_user_message", {"thread_id": thread_id, "input": user_input("hi")}),
    ]:
        resp = call(client, "mallory", kind, params)
        assert resp.status_code == 404, (kind, resp.text)
        assert "not found" in resp.json()["error"]
    # The server checks ownership before items.list (the store alone answers an empty page).
    assert call(client, "mallory", "items.list", {"thread_id": thread_id}).status_code == 404
    assert len(call(client, "owner", "items.list", {"thread_id": thread_id}).json()["data"]) >= 2


def test_bad_requests(client: httpx.Client, server_url: str) -> None:
    bad = call(client, "alice", "threads.nope", {})
    assert bad.status_code == 400 and "invalid ChatKit request" in bad.json()["error"]
    not_json = client.post("/chatkit", content=b"{", headers={"X-User-Id": "alice"})
    assert not_json.status_code == 400
    huge = client.post("/chatkit", content=b"x" * (1024 * 1024 + 1), headers={"X-User-Id": "a"})
    assert huge.status_code == 413


def test_health_and_metrics(client: httpx.Client) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    metrics = client.get("/metrics").json()
    assert metrics["operations"]["add_thread_item"]["count"] >= 1
    assert {"p50_ms", "p95_ms", "count"} <= set(metrics["operations"]["load_thread"])


async def test_an_unreachable_database_is_a_503_that_names_no_endpoint() -> None:
    """503 and /healthz bodies say "database unavailable", never the host, port or password."""
    from chatkit_pg.loadtest.server import ServerSettings, create_app

    dsn = "postgresql://app:s3cret@127.0.0.1:1/chatkit"  # nothing listens on port 1
    app = create_app(ServerSettings(dsn=dsn))
    transport = httpx.ASGITransport(app=app)  # no lifespan: the database is never migrated
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        health = await client.get("/healthz")
        listed = await client.post(
            "/chatkit",
            json={"type": "threads.list", "params": {"limit": 5}},
            headers={"X-User-Id": "alice"},
        )
    await app.state.store.close()
    for resp in (health, listed):
        assert resp.status_code == 503, resp.text
        assert resp.json()["error"] == "database unavailable"
        for secret in ("127.0.0.1", "s3cret", ":1", "Connect call failed"):
            assert secret not in resp.text
