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

import math
from datetime import UTC, datetime
from typing import Any, Final

import pydantic_core
from pydantic import BaseModel, TypeAdapter

# Well below the reader's nesting limit: documents with fewer brackets skip the read-back.
DEPTH_NEEDING_A_CHECK: Final = 100


def dump_document(adapter: TypeAdapter[Any], value: Any, what: str, max_bytes: int) -> str:
    """The JSON text the store writes for ``value``.

    Args:
        adapter: the SDK type's adapter (the same one the read path validates with).
        value: the SDK object.
        what: how error messages name it (``"item 'msg_1'"``).
        max_bytes: the store's document size limit.

    Raises:
        ValueError: ``value`` cannot be stored losslessly (the message says why).
    """
    where = _non_finite_float(value)
    if where is not None:
        raise ValueError(
            f"{what} has a non-finite number at {where} (inf, -inf and nan have no JSON form; "
            "it would be stored as null); nothing was written"
        )
    try:
        payload = adapter.dump_json(value)
    except (ValueError, TypeError) as exc:
        # e.g. lone UTF-16 surrogates, which JSON text in UTF-8 cannot carry.
        raise ValueError(f"{what} cannot be stored as JSON: {exc}") from exc
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
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{what}: created_at {value.isoformat()} is outside the supported range once "
            "converted to UTC (0001-01-01 to 9999-12-31 UTC)"
        ) from None


def _non_finite_float(value: Any) -> str | None:
    """The path of the first inf/nan in ``value`` (models, dicts, lists), or None."""
    if not _has_non_finite(value):
        return None
    return _find_path(value, "")


def _children(value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, BaseModel):
        fields = list(value.__dict__.items())
        return fields + list((value.__pydantic_extra__ or {}).items())
    if isinstance(value, dict):
        return [(str(k), v) for k, v in value.items()]
    if isinstance(value, list | tuple):
        return [(f"[{i}]", v) for i, v in enumerate(value)]
    return []


_LEAVES: Final = (str, int, bool, type(None), datetime)


def _has_non_finite(value: Any) -> bool:
    # Iterative, path-free, and leaves are never pushed: this runs on every write.
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, float):
            if not math.isfinite(current):
                return True
            continue
        if isinstance(current, BaseModel):
            children: Any = current.__dict__.values()
            if current.__pydantic_extra__:
                stack.extend(current.__pydantic_extra__.values())
        elif isinstance(current, dict):
            children = current.values()
        elif isinstance(current, list | tuple):
            children = current
        else:
            continue
        for child in children:
            if type(child) in _LEAVES:
                continue
            stack.append(child)
    return False


def _find_path(value: Any, path: str) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return path or "the top level"
    for name, child in _children(value):
        found = _find_path(child, f"{path}.{name}" if not name.startswith("[") else path + name)
        if found is not None:
            return found.lstrip(".")
    return None
