"""The documents the store writes: exactly the SDK's JSON, and never a silently changed value.

``DocumentType`` serializes with a copy of the SDK's schemas in which inf and nan come out as
bare tokens (pydantic writes them as ``null``): these tests hold it to the adapter's output
for every item type and to refusing each non-finite number, wherever it sits.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import Any

import pytest
from chatkit.types import Attachment, ThreadItem, ThreadMetadata, WidgetItem
from pydantic import TypeAdapter

from chatkit_pg.bench.mixed_items import mixed_items
from chatkit_pg.documents import DocumentType

from .items import at, every_item_type, file_attachment, image_attachment, thread
from .test_store_defects import _tool_call

ITEM = TypeAdapter(ThreadItem)
ITEMS = DocumentType(ITEM)
THREADS = DocumentType(TypeAdapter(ThreadMetadata))
ATTACHMENTS = DocumentType(TypeAdapter(Attachment))
LIMIT = 16 * 1024 * 1024


def _widget_with_padding(padding: float) -> WidgetItem:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # named widget classes
        from chatkit.widgets import Box, Card, Text

        card = Card(children=[Box(padding=padding, children=[Text(value="x")])])
    return WidgetItem(id="w_1", thread_id="thr_1", created_at=at(1), widget=card)


def test_every_item_type_is_written_as_the_sdk_writes_it() -> None:
    items = every_item_type("thr_1") + mixed_items("thr_1", 40, datetime.now(UTC))
    kinds = {item.type for item in items}
    assert len(kinds) >= 8, kinds
    for item in items:
        assert ITEMS.dump(item, "item", LIMIT).encode() == ITEM.dump_json(item), item.type


def test_threads_and_attachments_are_written_as_the_sdk_writes_them() -> None:
    saved = thread("thr_1", metadata={"score": 0.5, "tags": ["a"], "nested": {"n": 1e300}})
    assert THREADS.dump(saved, "thread", LIMIT).encode() == THREADS.adapter.dump_json(saved)
    for attachment in (file_attachment("atc_1", "thr_1"), image_attachment("atc_2", "thr_1")):
        written = ATTACHMENTS.dump(attachment, "attachment", LIMIT).encode()
        assert written == ATTACHMENTS.adapter.dump_json(attachment)


@pytest.mark.parametrize("number", [float("inf"), float("-inf"), float("nan")])
def test_a_non_finite_float_in_a_typed_field_is_refused_with_its_path(number: float) -> None:
    # pydantic drops this one entirely from the widget's JSON: not even a null is left.
    with pytest.raises(ValueError, match=r"non-finite number at widget\.children\[0\]\.padding"):
        ITEMS.dump(_widget_with_padding(number), "item 'w_1'", LIMIT)


@pytest.mark.parametrize("number", [float("inf"), float("-inf"), float("nan")])
def test_a_non_finite_float_in_an_any_field_is_refused_with_its_path(number: float) -> None:
    with pytest.raises(ValueError, match=r"non-finite number at arguments\.limits\[2\]"):
        ITEMS.dump(_tool_call("tc_1", "thr_1", {"limits": [1, 2.5, number]}), "item", LIMIT)


def test_a_non_finite_float_where_the_walk_does_not_look_is_still_refused() -> None:
    # A set in metadata is written as a JSON list; the old walk never entered it and the
    # value was stored as null.
    with pytest.raises(ValueError, match="non-finite number at a place inside a container"):
        THREADS.dump(thread("thr_1", metadata={"s": {float("nan")}}), "thread", LIMIT)


@pytest.mark.parametrize(
    "text", ["NaN", "Infinity", "-Infinity", "BaNaNa", '{"x": NaN}', "Infinity War"]
)
def test_the_words_inside_strings_are_just_text(text: str) -> None:
    item: Any = _tool_call("tc_1", "thr_1", {text: text, "n": 1.5})
    written = ITEMS.dump(item, "item", LIMIT)
    assert written.encode() == ITEM.dump_json(item)
    assert ITEM.validate_json(written) == item
