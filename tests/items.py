"""Builders of realistic SDK objects: one of every ThreadItem type, threads, attachments."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

from chatkit.types import (
    Annotation,
    AssistantMessageContent,
    AssistantMessageItem,
    ClientToolCallItem,
    ClosedStatus,
    CustomSummary,
    CustomTask,
    DurationSummary,
    EndOfTurnItem,
    EntitySource,
    FileAttachment,
    FileSource,
    GeneratedImage,
    GeneratedImageItem,
    HiddenContextItem,
    ImageAttachment,
    InferenceOptions,
    LockedStatus,
    SDKHiddenContextItem,
    SearchTask,
    StructuredInputAnswer,
    StructuredInputFreeform,
    StructuredInputItem,
    StructuredInputMultipleChoice,
    StructuredInputMultipleChoiceOption,
    TaskItem,
    ThoughtTask,
    ThreadItem,
    ThreadMetadata,
    ToolChoice,
    URLSource,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
    WidgetItem,
    Workflow,
    WorkflowItem,
)

from chatkit_pg.harness import items as harness_items

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from chatkit import widgets

# Text a user can type that storage layers like to mangle.
HOSTILE_TEXT = (
    "NUL:\u0000 | emoji: 👩🏽‍💻🚀 | RTL: \u202bשלום\u202c مرحبا | zero-width: a\u200bb | "  # noqa: RUF001
    "quotes: '\"` | backslash: \\ \\u0000 | sql: '; DROP TABLE chatkit_threads; --"
)

BASE_TIME = datetime(2026, 1, 1, 12, 0, 0)


def at(seconds: float) -> datetime:
    """A naive timestamp (what the SDK itself uses: datetime.now())."""
    return BASE_TIME + timedelta(seconds=seconds)


def thread(thread_id: str, *, created_at: datetime | None = None, **fields: Any) -> ThreadMetadata:
    return ThreadMetadata(id=thread_id, created_at=created_at or at(0), **fields)


def user_message(
    item_id: str, thread_id: str, text: str = "hello", **fields: Any
) -> UserMessageItem:
    """The harness's user message, at ``at(1)`` unless ``created_at`` says otherwise."""
    return harness_items.user_message(
        item_id, thread_id, text, created_at=fields.pop("created_at", at(1)), **fields
    )


def file_attachment(attachment_id: str, thread_id: str | None = None) -> FileAttachment:
    return FileAttachment(
        id=attachment_id,
        name="report.pdf",
        mime_type="application/pdf",
        thread_id=thread_id,
        metadata={"bucket": "uploads", "size": 1234},
    )


def image_attachment(attachment_id: str, thread_id: str | None = None) -> ImageAttachment:
    return ImageAttachment(
        id=attachment_id,
        name="cat.png",
        mime_type="image/png",
        preview_url="https://cdn.example.com/cat.png",
        thread_id=thread_id,
    )


def every_item_type(thread_id: str) -> list[ThreadItem]:
    """One item of every ThreadItem type in chatkit.types, with optional fields filled."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        widget = widgets.Card(
            children=[
                widgets.Title(value="Order #42"),
                widgets.Text(value=HOSTILE_TEXT),
                widgets.Button(
                    label="Confirm",
                    onClickAction=widgets.ActionConfig(type="confirm", payload={"order": 42}),
                ),
            ]
        )
    url = URLSource(title="Docs", url="https://example.com/docs", description="d")
    items: list[ThreadItem] = [
        UserMessageItem(
            id="msg_user",
            thread_id=thread_id,
            created_at=at(1),
            content=[
                UserMessageTextContent(text=HOSTILE_TEXT),
                UserMessageTagContent(
                    id="tag1", text="@alice", data={"k": [1, 2]}, group="people", interactive=True
                ),
            ],
            attachments=[file_attachment("atc_in_msg", thread_id), image_attachment("atc_img")],
            quoted_text="quoted \u0000 text",
            inference_options=InferenceOptions(tool_choice=ToolChoice(id="search"), model="gpt-x"),
        ),
        AssistantMessageItem(
            id="msg_assistant",
            thread_id=thread_id,
            created_at=at(2),
            content=[
                AssistantMessageContent(
                    text="answer " + HOSTILE_TEXT,
                    annotations=[
                        Annotation(source=url, index=3),
                        Annotation(source=FileSource(title="f", filename="a.txt")),
                        Annotation(source=EntitySource(title="e", id="ent_1", data={"x": 1})),
                    ],
                )
            ],
        ),
        ClientToolCallItem(
            id="tc_1",
            thread_id=thread_id,
            created_at=at(3),
            status="completed",
            call_id="call_1",
            name="lookup",
            arguments={"q": HOSTILE_TEXT, "n": 3, "nested": {"list": [1, None, 2.5]}},
            output={"rows": [1, 2, 3]},
        ),
        WidgetItem(id="w_1", thread_id=thread_id, created_at=at(4), widget=widget, copy_text="c"),
        GeneratedImageItem(
            id="img_1",
            thread_id=thread_id,
            created_at=at(5),
            image=GeneratedImage(id="gi", url="https://example.com/i.png"),
        ),
        StructuredInputItem(
            id="si_1",
            thread_id=thread_id,
            created_at=at(6),
            status="answered",
            inputs=[
                StructuredInputMultipleChoice(
                    id="q1",
                    question="Pick",
                    options=[StructuredInputMultipleChoiceOption(value="a")],
                    multiple=True,
                    answer=StructuredInputAnswer(values=["a"]),
                ),
                StructuredInputFreeform(id="q2", question="Why?", description="free"),
            ],
        ),
        TaskItem(
            id="tsk_1",
            thread_id=thread_id,
            created_at=at(7),
            task=CustomTask(title="t", content="c", status_indicator="complete"),
        ),
        WorkflowItem(
            id="wf_1",
            thread_id=thread_id,
            created_at=at(8),
            workflow=Workflow(
                type="reasoning",
                tasks=[
                    ThoughtTask(content="thinking"),
                    SearchTask(queries=["q"], sources=[url]),
                ],
                summary=DurationSummary(duration=12),
                expanded=True,
            ),
        ),
        WorkflowItem(
            id="wf_2",
            thread_id=thread_id,
            created_at=at(8.5),
            workflow=Workflow(type="custom", tasks=[], summary=CustomSummary(title="Done")),
        ),
        HiddenContextItem(
            id="hc_1", thread_id=thread_id, created_at=at(9), content={"memo": [1, "two"]}
        ),
        SDKHiddenContextItem(id="shcx_1", thread_id=thread_id, created_at=at(10), content="sdk"),
        EndOfTurnItem(id="eot_1", thread_id=thread_id, created_at=at(11)),
    ]
    return items


def thread_variants() -> list[ThreadMetadata]:
    """ThreadMetadata with every optional field exercised."""
    return [
        ThreadMetadata(id="thr_plain", created_at=at(0)),
        ThreadMetadata(id="thr_no_title", created_at=at(1), title=None),
        ThreadMetadata(
            id="thr_locked",
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
            title=HOSTILE_TEXT,
            status=LockedStatus(reason="moderation"),
            allowed_image_domains=["example.com", "cdn.example.com"],
            metadata={"tenant": "acme", "nested": {"a": [1, 2, {"b": None}]}},
        ),
        ThreadMetadata(id="thr_closed", created_at=at(3), status=ClosedStatus(reason=None)),
    ]
