"""SDK objects in, JSON documents out: only what can be read back unchanged is written.

The store keeps each thread, item and attachment as the SDK's own JSON. A document is
refused with ``ValueError`` before anything is written when reading it back would fail or
would return something else:

* non-finite floats (``inf``, ``-inf``, ``nan``): pydantic would write them as ``null``;
* nesting deeper than the JSON reader accepts: the row would break every page it is on;
* lone UTF-16 surrogates and other values JSON text cannot carry;
* documents above the store's ``max_document_bytes``.
"""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime
from typing import Any, Final

import pydantic_core
from pydantic import BaseModel, TypeAdapter

# Well below the reader's nesting limit: documents with fewer brackets skip the read-back.
DEPTH_NEEDING_A_CHECK: Final = 100


class DocumentType:
    """How the store writes one SDK type (``ThreadMetadata``, ``ThreadItem``, ...) as JSON.

    The text is exactly the adapter's ``dump_json``, with one difference the store relies
    on: pydantic writes a non-finite float as ``null`` (``ser_json_inf_nan='null'``, fixed in
    each model's config when its schema is built), which would store a different value
    without a trace. This serializer is built from the same core schema with ``'constants'``
    in every config, so such a float comes out as a bare ``Infinity``/``NaN`` token that a
    substring test finds. That replaces a walk over the whole object on every write.
    """

    def __init__(self, adapter: TypeAdapter[Any]) -> None:
        self.adapter = adapter
        schema = copy.deepcopy(adapter.core_schema)
        _write_non_finite_as_tokens(schema)
        self._serializer = _serializer(schema)
        # A union of models (ThreadItem): each member class also gets its own serializer,
        # which writes the same text without the union's dispatch on every call.
        self._by_class: dict[type, pydantic_core.SchemaSerializer] = {}
        definitions = schema["definitions"] if schema["type"] == "definitions" else []
        union = schema["schema"] if schema["type"] == "definitions" else schema
        if union["type"] == "tagged-union":
            for choice in union["choices"].values():
                if choice["type"] == "model":
                    self._by_class[choice["cls"]] = _serializer(
                        {"type": "definitions", "schema": choice, "definitions": definitions}
                    )

    def dump(self, value: Any, what: str, max_bytes: int) -> str:
        """The JSON text the store writes for ``value``.

        Args:
            value: the SDK object.
            what: how error messages name it (``"item 'msg_1'"``).
            max_bytes: the store's document size limit.

        Raises:
            ValueError: ``value`` cannot be stored losslessly (the message says why).
        """
        try:
            payload = self._by_class.get(type(value), self._serializer).to_json(value)
        except (ValueError, TypeError) as exc:
            # e.g. lone UTF-16 surrogates, which JSON text in UTF-8 cannot carry.
            raise ValueError(f"{what} cannot be stored as JSON: {exc}") from exc
        if b"Infinity" in payload or b"NaN" in payload:  # how inf, -inf and nan come out
            # Usually the word inside a string; the walk says whether it is a number.
            where = _non_finite_at(payload, value)
            if where is not None:
                raise ValueError(
                    f"{what} has a non-finite number at {where} (inf, -inf and nan have no "
                    "JSON form; it would be stored as null); nothing was written"
                )
        if len(payload) > max_bytes:
            raise ValueError(
                f"{what} is {len(payload):,} bytes of JSON, above this store's limit of "
                f"{max_bytes:,} (max_document_bytes); nothing was written"
            )
        # What the reader (jiter) refuses in our own output is nesting beyond its limit (~199
        # levels). A document with fewer opening brackets than that, counting those inside
        # strings too, cannot nest that deep: only the others are parsed back to make sure.
        if payload.count(b"[") + payload.count(b"{") >= DEPTH_NEEDING_A_CHECK:
            try:
                pydantic_core.from_json(payload, cache_strings=False)
            except ValueError as exc:
                raise ValueError(
                    f"{what} could not be read back ({exc}); nothing was written"
                ) from exc
        return payload.decode()


def _serializer(schema: Any) -> pydantic_core.SchemaSerializer:
    # The top-level config covers values typed Any (dict[str, Any] metadata, arguments).
    return pydantic_core.SchemaSerializer(schema, {"ser_json_inf_nan": "constants"})


def _write_non_finite_as_tokens(schema: Any) -> None:
    """Set ``ser_json_inf_nan='constants'`` in every config of a core schema, in place."""
    if isinstance(schema, dict):
        config = schema.get("config")
        if isinstance(config, dict):
            schema["config"] = {**config, "ser_json_inf_nan": "constants"}
        for child in schema.values():
            _write_non_finite_as_tokens(child)
    elif isinstance(schema, list | tuple):
        for child in schema:
            _write_non_finite_as_tokens(child)


def ordering_time(value: datetime, what: str) -> datetime:
    """``created_at`` as the aware timestamp the ordering column holds.

    Naive values are taken as UTC (the SDK uses naive ``datetime.now()``); the document keeps
    the caller's exact value either way.

    Raises:
        ValueError: an aware value falls outside the years both Python and PostgreSQL
            represent once converted to UTC (year 1 at +05:00, year 9999 at -05:00).
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if value.tzinfo is UTC:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{what}: created_at {value.isoformat()} is outside the supported range once "
            "converted to UTC (0001-01-01 to 9999-12-31 UTC)"
        ) from None


def _non_finite_at(payload: bytes, value: Any) -> str | None:
    """Where ``value`` holds inf or nan, if its ``payload`` holds one as a bare token."""
    where = _find_path(value, "")
    if where is not None:
        return where
    # The walk does not enter every container pydantic serializes (sets, dataclasses):
    # a payload the reader takes only with inf/nan allowed has one somewhere else.
    try:
        pydantic_core.from_json(payload, allow_inf_nan=False, cache_strings=False)
    except ValueError:
        try:
            pydantic_core.from_json(payload, cache_strings=False)
        except ValueError:
            return None  # unreadable for another reason: the depth check says which
        return "a place inside a container the store does not walk"
    return None


def _children(value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, BaseModel):
        fields = list(value.__dict__.items())
        return fields + list((value.__pydantic_extra__ or {}).items())
    if isinstance(value, dict):
        return [(str(k), v) for k, v in value.items()]
    if isinstance(value, list | tuple):
        return [(f"[{i}]", v) for i, v in enumerate(value)]
    return []


def _find_path(value: Any, path: str) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return path or "the top level"
    for name, child in _children(value):
        found = _find_path(child, f"{path}.{name}" if not name.startswith("[") else path + name)
        if found is not None:
            return found.lstrip(".")
    return None
