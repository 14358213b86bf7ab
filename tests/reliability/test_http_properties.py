"""Generated request bodies against ``/chatkit``: never a 500, never a change to another
user's rows.

Hypothesis builds bodies from three sources: valid ChatKit requests of every type (ids drawn
mostly from the victim's, the attacker's and missing ones; huge and odd unicode strings)
with one random mutation (a value replaced, a field dropped or added, the type changed),
arbitrary JSON, and raw byte noise. Each is POSTed
as the attacker against a server holding the victim's seeded data; after each one the
victim's rows are compared with the snapshot taken before the run.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatkit_pg.harness.provision import PostgresServer

from ..conftest import fresh_database
from .http_fixtures import (
    ATTACKER,
    MAX_BODY_BYTES,
    SECRET,
    Target,
    Victim,
    blocking,
    snapshot,
    start_target,
)

# Bounded for CI; raise it locally to search longer (CHATKIT_PG_HTTP_EXAMPLES=2000).
MAX_EXAMPLES: Final = int(os.environ.get("CHATKIT_PG_HTTP_EXAMPLES", "200"))
TRIED: Counter[str] = Counter()
VICTIM_IDS: Final = Victim()

REQUEST_TYPES: Final = (
    "threads.create",
    "threads.add_user_message",
    "threads.add_client_tool_output",
    "threads.add_structured_input",
    "threads.retry_after_item",
    "threads.custom_action",
    "threads.sync_custom_action",
    "threads.get_by_id",
    "threads.list",
    "threads.update",
    "threads.delete",
    "items.list",
    "items.feedback",
    "attachments.create",
    "attachments.delete",
    "input.transcribe",
)

short_odd = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "'; DROP TABLE chatkit_threads; --",
            "\u0000",
            "\ud800",
            "👩🏽‍💻" * 50,
            "\u202e" + SECRET[::-1],
            "%s%s%n",
            "$1",
        ]
    ),
)
huge = st.integers(min_value=1000, max_value=MAX_BODY_BYTES + 4096).map(lambda n: "é" * n)
odd_text = st.one_of(short_odd, short_odd, short_odd, short_odd, huge)
real_thread_ids = st.sampled_from([*VICTIM_IDS.threads, VICTIM_IDS.attacker_thread, "thr_missing"])
thread_ids = st.one_of(real_thread_ids, real_thread_ids, real_thread_ids, short_odd)
real_item_ids = st.sampled_from(
    [VICTIM_IDS.user_message, VICTIM_IDS.widget, VICTIM_IDS.pending_input, "tc_pending", "msg_mine"]
)
item_ids = st.one_of(real_item_ids, real_item_ids, short_odd)
attachment_ids = st.sampled_from([VICTIM_IDS.attachment, "atc_x"])
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    odd_text,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
user_inputs = st.fixed_dictionaries(
    {
        "content": st.lists(
            st.fixed_dictionaries({"type": st.just("input_text"), "text": odd_text}),
            min_size=1,
            max_size=3,
        ),
        "attachments": st.lists(attachment_ids, max_size=2) | st.just([]),
        "inference_options": st.just({}),
    }
)
actions = st.fixed_dictionaries({"type": short_odd, "payload": json_values})
submissions = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["answered", "skipped"]),
        "answers": st.dictionaries(
            st.sampled_from(["q1", "q2"]),
            st.fixed_dictionaries({"values": st.lists(short_odd, max_size=2)}),
        ),
    }
)
# Valid params of every request type; values drawn, so ids are often the victim's.
VALID_PARAMS: Final[dict[str, dict[str, st.SearchStrategy[Any]]]] = {
    "threads.create": {"input": user_inputs},
    "threads.add_user_message": {"thread_id": thread_ids, "input": user_inputs},
    "threads.add_client_tool_output": {"thread_id": thread_ids, "result": json_values},
    "threads.add_structured_input": {
        "thread_id": thread_ids,
        "item_id": item_ids,
        "input": submissions,
    },
    "threads.retry_after_item": {"thread_id": thread_ids, "item_id": item_ids},
    "threads.custom_action": {"thread_id": thread_ids, "item_id": item_ids, "action": actions},
    "threads.sync_custom_action": {
        "thread_id": thread_ids,
        "item_id": item_ids,
        "action": actions,
    },
    "threads.get_by_id": {"thread_id": thread_ids},
    "threads.list": {
        "limit": st.integers(min_value=-5, max_value=2**40),
        "order": st.sampled_from(["asc", "desc"]),
        "after": thread_ids,
    },
    "threads.update": {"thread_id": thread_ids, "title": odd_text},
    "threads.delete": {"thread_id": thread_ids},
    "items.list": {
        "thread_id": thread_ids,
        "limit": st.integers(min_value=-5, max_value=2**40),
        "order": st.sampled_from(["asc", "desc"]),
        "after": item_ids,
    },
    "items.feedback": {
        "thread_id": thread_ids,
        "item_ids": st.lists(item_ids, max_size=3),
        "kind": st.sampled_from(["positive", "negative"]),
    },
    "attachments.create": {"name": short_odd, "size": st.integers(), "mime_type": short_odd},
    "attachments.delete": {"attachment_id": attachment_ids},
    "input.transcribe": {"audio_base64": short_odd, "mime_type": short_odd},
}
OPTIONAL: Final = {"after", "item_id", "limit", "order"}
MUTATIONS: Final = ("none", "none", "none", "replace", "drop", "add", "retype", "swap_type")


@st.composite
def mutated_requests(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid request of a random type, then (usually) one random mutation."""
    kind = draw(st.sampled_from(REQUEST_TYPES))
    fields = VALID_PARAMS[kind]
    params = {
        name: draw(value)
        for name, value in fields.items()
        if name not in OPTIONAL or draw(st.booleans())
    }
    mutation = draw(st.sampled_from(MUTATIONS))
    if mutation == "replace" and params:
        params[draw(st.sampled_from(sorted(params)))] = draw(json_values)
    elif mutation == "drop" and params:
        del params[draw(st.sampled_from(sorted(params)))]
    elif mutation == "add":
        params[draw(st.text(min_size=1, max_size=12))] = draw(json_values)
    elif mutation == "retype":
        kind = draw(odd_text)
    elif mutation == "swap_type":
        kind = draw(st.sampled_from(REQUEST_TYPES))
    return f"mutated:{mutation}", json.dumps({"type": kind, "params": params}).encode()


arbitrary_json = json_values.map(lambda v: ("arbitrary_json", json.dumps(v).encode()))
noise = st.binary(max_size=200).map(lambda b: ("bytes", b))
bodies = st.one_of(
    mutated_requests(), mutated_requests(), mutated_requests(), arbitrary_json, noise
)


@pytest.fixture(scope="module")
async def property_dsn(pg_server: PostgresServer) -> AsyncIterator[str]:
    async with fresh_database(pg_server, "chatkit_props") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def target(property_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    log = tmp_path_factory.mktemp("properties") / "server.log"
    yield from start_target(property_dsn, log)


def test_generated_bodies_never_500_and_never_touch_the_victim(target: Target) -> None:
    before = blocking(snapshot(target.dsn))
    assert before, "the victim's rows were not seeded"
    statuses: Counter[int] = Counter()
    headers = {"Authorization": f"Bearer {ATTACKER}", "Content-Type": "application/json"}

    with httpx.Client(base_url=target.url, timeout=30) as client:

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(body=bodies)
        def attack(body: tuple[str, bytes]) -> None:
            source, content = body
            TRIED[source] += 1
            resp = client.post("/chatkit", content=content, headers=headers)
            statuses[resp.status_code] += 1
            assert resp.status_code < 500 or resp.status_code == 501, (resp.status_code, resp.text)
            assert SECRET not in resp.text, resp.text[:500]
            if resp.status_code >= 400:
                assert resp.json()["error"], resp.text
            assert blocking(snapshot(target.dsn)) == before, f"victim's rows changed by {content!r}"

        attack()

    print(f"generated bodies tried: {sum(TRIED.values())} {dict(TRIED)}; statuses {dict(statuses)}")
    assert sum(TRIED.values()) >= MAX_EXAMPLES // 2
    assert statuses[500] == 0
    # The generator reaches the server's logic, not only its JSON parser.
    assert statuses[200] > 0 and statuses[404] > 0 and statuses[400] > 0
