"""What the SDK's 1.5-1.6 servers do with a store, through a ``ChatKitServer`` on our store.

The server is built the way the SDK's docs build one (a ``ChatKitServer`` subclass, an
``AttachmentStore``, ``respond`` yielding events, or an Agents SDK run streamed with
``stream_agent_response``); requests go through ``server.process`` as the HTTP endpoint sends
them. Also: repeated assistant ids (openai/chatkit-python#24), which a Chat
Completions-compatible or local model produces, must never overwrite what the user saw.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from agents import Agent, OpenAIChatCompletionsModel, RunConfig, Runner
from chatkit.agents import AgentContext, simple_to_agent_input, stream_agent_response
from chatkit.server import ChatKitServer, StreamingResult
from chatkit.store import AttachmentStore
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    AttachmentCreateParams,
    AttachmentsCreateReq,
    FileAttachment,
    InferenceOptions,
    StructuredInputAnswerSubmission,
    StructuredInputFreeform,
    StructuredInputItem,
    StructuredInputSubmission,
    ThreadAddStructuredInputParams,
    ThreadAddUserMessageParams,
    ThreadCreateParams,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadStreamEvent,
    UserMessageInput,
    UserMessageItem,
    UserMessageTextContent,
)
from openai import AsyncOpenAI

from chatkit_pg import ItemExistsError, NotFoundError, PostgresStore

from .items import thread

ALICE = {"user_id": "alice"}
Responder = Callable[[ThreadMetadata, UserMessageItem | None, Any], AsyncIterator[Any]]


class FileStore(AttachmentStore[Any]):
    """Direct upload: the file is 'uploaded' when the attachment is created."""

    def __init__(self, store: PostgresStore[Any]) -> None:
        self.store = store

    async def create_attachment(self, input: AttachmentCreateParams, context: Any) -> Any:
        attachment_id = self.store.generate_attachment_id(input.mime_type, context)
        return FileAttachment(id=attachment_id, name=input.name, mime_type=input.mime_type)

    async def delete_attachment(self, attachment_id: str, context: Any) -> None:
        return None


class DocsServer(ChatKitServer[Any]):
    def __init__(self, store: PostgresStore[Any], responder: Responder) -> None:
        super().__init__(store, FileStore(store))
        self.responder = responder

    def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: Any
    ) -> AsyncIterator[ThreadStreamEvent]:
        return self.responder(thread, input_user_message, context)


def message(text: str, attachments: list[str] | None = None) -> UserMessageInput:
    return UserMessageInput(
        content=[UserMessageTextContent(text=text)],
        attachments=attachments or [],
        inference_options=InferenceOptions(),
    )


async def streamed(server: ChatKitServer[Any], request: Any) -> list[dict[str, Any]]:
    result = await server.process(request.model_dump_json(), ALICE)
    assert isinstance(result, StreamingResult)
    events = []
    async for chunk in result:
        for line in chunk.decode().splitlines():
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
    return events


def created_thread_id(events: list[dict[str, Any]]) -> str:
    return next(event["thread"]["id"] for event in events if event["type"] == "thread.created")


async def no_reply(*_: Any) -> AsyncIterator[Any]:
    return
    yield


async def test_an_attachment_is_saved_again_with_its_thread_and_goes_with_it(
    store: PostgresStore[Any],
) -> None:
    """1.6.0: attachments.create saves it loose; the message saves it again with thread_id."""
    server = DocsServer(store, no_reply)
    created = await server.process(
        AttachmentsCreateReq(
            params=AttachmentCreateParams(name="a.txt", size=3, mime_type="text/plain")
        ).model_dump_json(),
        ALICE,
    )
    attachment_id = json.loads(created.json)["id"]  # type: ignore[union-attr]
    assert (await store.load_attachment(attachment_id, ALICE)).thread_id is None

    events = await streamed(
        server, ThreadsCreateReq(params=ThreadCreateParams(input=message("hi", [attachment_id])))
    )
    thread_id = created_thread_id(events)
    bound = await store.load_attachment(attachment_id, ALICE)
    assert bound.thread_id == thread_id
    [user_item] = (await store.load_thread_items(thread_id, None, 10, "asc", ALICE)).data
    assert isinstance(user_item, UserMessageItem)
    assert [a.id for a in user_item.attachments] == [attachment_id]
    async with store.connection() as conn:
        rows = await conn.fetchval("SELECT count(*) FROM chatkit_attachments")
    assert rows == 1  # an upsert, not a second row

    await store.delete_thread(thread_id, ALICE)
    with pytest.raises(NotFoundError):
        await store.load_attachment(attachment_id, ALICE)


async def test_structured_input_is_loaded_then_saved_answered(store: PostgresStore[Any]) -> None:
    """1.6.4: threads.add_structured_input loads the item and saves it back answered."""

    async def ask(thread: ThreadMetadata, _: Any, context: Any) -> AsyncIterator[Any]:
        if _ is None:
            return
        yield ThreadItemDoneEvent(
            item=StructuredInputItem(
                id=store.generate_item_id("message", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                inputs=[StructuredInputFreeform(id="why", question="Why?")],
            )
        )

    server = DocsServer(store, ask)
    events = await streamed(server, ThreadsCreateReq(params=ThreadCreateParams(input=message("?"))))
    thread_id = created_thread_id(events)
    pending = (await store.load_thread_items(thread_id, None, 10, "asc", ALICE)).data[-1]
    assert isinstance(pending, StructuredInputItem) and pending.status == "pending"

    submission = StructuredInputSubmission(
        answers={"why": StructuredInputAnswerSubmission(values=["because"])}
    )
    await streamed(
        server,
        ThreadsAddStructuredInputReq(
            params=ThreadAddStructuredInputParams(
                thread_id=thread_id, item_id=pending.id, input=submission
            )
        ),
    )
    answered = await store.load_item(thread_id, pending.id, ALICE)
    assert isinstance(answered, StructuredInputItem)
    assert answered.status == "answered"
    assert answered.inputs[0].answer is not None
    assert answered.inputs[0].answer.values == ["because"]
    page = (await store.load_thread_items(thread_id, None, 10, "asc", ALICE)).data
    assert [item.id for item in page] == [page[0].id, pending.id]  # saved in place


async def test_allowed_image_domains_round_trip(store: PostgresStore[Any]) -> None:
    """1.6.3: ThreadMetadata.allowed_image_domains is kept, and None stays None."""
    for domains in (["cdn.example.com", "images.example.org"], [], None):
        await store.save_thread(thread("thr_img", allowed_image_domains=domains), ALICE)
        assert (await store.load_thread("thr_img", ALICE)).allowed_image_domains == domains


# -- repeated assistant ids (openai/chatkit-python#24) --------------------------------------


def chat_completions_model(replies: list[str]) -> OpenAIChatCompletionsModel:
    """The Agents SDK's Chat Completions model on a real AsyncOpenAI client, whose HTTP
    transport answers each request with the next reply as a streamed chat completion."""
    answers = iter(replies)

    def handler(request: httpx.Request) -> httpx.Response:
        text = next(answers)
        chunks = [
            {"role": "assistant", "content": ""},
            {"content": text[:3]},
            {"content": text[3:]},
        ]
        lines = [
            json.dumps(
                {
                    "id": "chatcmpl-local",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": "local-model",
                    "choices": [
                        {"index": 0, "delta": delta, "finish_reason": None} for delta in [chunk]
                    ],
                }
            )
            for chunk in chunks
        ]
        body = "".join(f"data: {line}\n\n" for line in lines) + "data: [DONE]\n\n"
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    client = AsyncOpenAI(
        api_key="local",
        base_url="http://127.0.0.1:9/v1",  # never dialled: the transport answers
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    return OpenAIChatCompletionsModel(model="local-model", openai_client=client)


def agent_responder(store: PostgresStore[Any], model: OpenAIChatCompletionsModel) -> Responder:
    agent = Agent(name="assistant", instructions="Be brief.", model=model)

    async def respond(
        thread: ThreadMetadata, item: UserMessageItem | None, context: Any
    ) -> AsyncIterator[ThreadStreamEvent]:
        agent_context = AgentContext(thread=thread, store=store, request_context=context)
        assert item is not None
        result = Runner.run_streamed(
            agent,
            await simple_to_agent_input(item),
            context=agent_context,
            run_config=RunConfig(tracing_disabled=True),
        )
        async for event in stream_agent_response(agent_context, result):
            yield event

    return respond


async def test_a_repeated_assistant_id_never_overwrites_a_reply(
    store: PostgresStore[Any], caplog: pytest.LogCaptureFixture
) -> None:
    model = chat_completions_model(["First answer.", "Second answer."])
    server = DocsServer(store, agent_responder(store, model))
    first = await streamed(
        server, ThreadsCreateReq(params=ThreadCreateParams(input=message("one")))
    )
    thread_id = created_thread_id(first)
    [_, reply] = (await store.load_thread_items(thread_id, None, 10, "asc", ALICE)).data
    assert isinstance(reply, AssistantMessageItem)
    assert reply.content == [AssistantMessageContent(text="First answer.", annotations=[])]
    assert reply.id == "__fake_id__"  # the Agents SDK's id for every Chat Completions message

    with caplog.at_level(logging.ERROR, logger="chatkit"):
        second = await streamed(
            server,
            ThreadsAddUserMessageReq(
                params=ThreadAddUserMessageParams(thread_id=thread_id, input=message("two"))
            ),
        )
    # The user is told the reply failed, and the first reply is untouched.
    assert [event["type"] for event in second if event["type"] == "error"] == ["error"]
    assert await store.load_item(thread_id, reply.id, ALICE) == reply
    items = (await store.load_thread_items(thread_id, None, 10, "asc", ALICE)).data
    assert [type(item).__name__ for item in items] == [
        "UserMessageItem", "AssistantMessageItem", "UserMessageItem"
    ]  # fmt: skip
    errors = [record.exc_info[1] for record in caplog.records if record.exc_info]
    assert any(isinstance(exc, ItemExistsError) for exc in errors), caplog.text
    assert "Chat Completions-compatible or local model" in caplog.text
