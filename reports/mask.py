"""Secrets never reach a report: every printed string passes through :func:`redact`."""

from __future__ import annotations

import re
from typing import Any, Final

from chatkit_pg.dsn import mask_dsn

_URL: Final = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>`|]+")
_KEYWORD_PASSWORD: Final = re.compile(r"(?i)\b(password|passwd|pwd)\s*=\s*('[^']*'|\S+)")
_SECRET_KEY: Final = re.compile(r"(?i)(password|passwd|secret|token|api[_-]?key)")


def redact(text: str) -> str:
    """Mask passwords in URLs (``mask_dsn``) and in libpq ``password=...`` keywords."""
    text = _URL.sub(lambda m: mask_dsn(m.group(0)), text)
    return _KEYWORD_PASSWORD.sub(lambda m: f"{m.group(1)}=***", text)


def redact_setting(key: str, value: Any) -> Any:
    """A setting's value, or ``***`` when its name says it is a secret."""
    if value not in (None, "") and _SECRET_KEY.search(key):
        return "***"
    return value
