"""A page of every kind of SDK item a real thread holds, for the page-read floor.

Messages, client tool calls, widgets, reasoning workflows and tasks cycle through the page, so
validation cost is what a UI's page costs, not that of plain messages. Built from plain data
and validated into ``chatkit.types``.
"""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta
from typing import Any, Final

from chatkit.types import ThreadItem
from pydantic import TypeAdapter

_ITEM: Final = TypeAdapter(ThreadItem)


def _documents(thread_id: str, n: int, created_at: datetime) -> list[dict[str, Any]]:
    base = {"thread_id": thread_id, "created_at": created_at}
    words = "the planner picks an index scan for the newest page of a long thread " * 3
    return [
        {
            **base,
            "type": "user_message",
            "id": f"msg_u{n}",
            "content": [{"type": "input_text", "text": f"question {n}: {words}"}],
            "inference_options": {},
        },
        {
            **base,
            "type": "workflow",
            "id": f"wf_{n}",
            "workflow": {
                "type": "reasoning",
                "tasks": [
                    {"type": "thought", "content": words},
                    {"type": "web_search", "queries": ["keyset pagination", "btree"]},
                ],
                "summary": {"duration": 12},
                "expanded": False,
            },
        },
        {
            **base,
            "type": "client_tool_call",
            "id": f"tc_{n}",
            "status": "completed",
            "call_id": f"call_{n}",
            "name": "lookup_order",
            "arguments": {"order": n, "fields": ["status", "eta"], "verbose": False},
            "output": {"status": "shipped", "eta": "2026-12-01", "lines": list(range(5))},
        },
        {
            **base,
            "type": "widget",
            "id": f"w_{n}",
            "widget": {
                "type": "Card",
                "children": [
                    {"type": "Title", "value": f"Order #{n}"},
                    {"type": "Text", "value": words},
                    {
                        "type": "ListView",
                        "children": [
                            {
                                "type": "ListViewItem",
                                "children": [{"type": "Text", "value": f"line {k}: {words}"}],
                            }
                            for k in range(4)
                        ],
                    },
                ],
            },
            "copy_text": words,
        },
        {
            **base,
            "type": "task",
            "id": f"tsk_{n}",
            "task": {"type": "custom", "title": "Checked stock", "content": words},
        },
        {
            **base,
            "type": "assistant_message",
            "id": f"msg_a{n}",
            "content": [{"type": "output_text", "text": words * 8, "annotations": []}],
        },
    ]


def mixed_items(thread_id: str, count: int, start: datetime) -> list[ThreadItem]:
    """``count`` items cycling through six SDK item types, one second apart."""
    items: list[ThreadItem] = []
    n = 0
    while len(items) < count:
        for document in _documents(thread_id, n, start + timedelta(seconds=len(items))):
            if len(items) < count:
                with warnings.catch_warnings():  # widget classes warn even from data
                    warnings.simplefilter("ignore", DeprecationWarning)
                    items.append(_ITEM.validate_python(document))
        n += 1
    return items
