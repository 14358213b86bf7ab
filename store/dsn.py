"""Connection strings as they may appear in messages: never with a secret in them."""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# libpq parameters whose values are secrets (URL query keys and key=value keywords alike).
SECRET_PARAMETERS: Final = frozenset({"password", "sslpassword"})
_KEYWORD_SECRET: Final = re.compile(
    r"(?i)\b(" + "|".join(sorted(SECRET_PARAMETERS)) + r")\s*=\s*('(?:[^'\\]|\\.)*'|\S+)"
)


def mask_dsn(dsn: str) -> str:
    """Return ``dsn`` with every secret replaced by ``***`` (safe for logs, errors, reports).

    Handles URLs (``postgresql://user:secret@host/db?sslpassword=...``) and libpq key=value
    strings (``host=db user=app password=secret``).
    """
    if "://" not in dsn:
        return _KEYWORD_SECRET.sub(lambda m: f"{m.group(1)}=***", dsn)
    parts = urlsplit(dsn)
    if parts.password:
        userinfo, _, hostinfo = parts.netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        parts = parts._replace(netloc=f"{user}:***@{hostinfo}")
    query = [
        (k, "***" if k.lower() in SECRET_PARAMETERS else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe="/,:*")))
