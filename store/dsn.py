"""The one redaction: text that may hold a connection string, never with a secret in it.

Every place where a DSN or another libpq secret can reach a message, a log, a result file or
a report passes the text through :func:`redact`; nothing else masks secrets.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# libpq parameters whose values are secrets, as URL query keys and as key=value keywords.
# (sslkey, sslcert and passfile name files, not secrets; oauth_client_secret is PostgreSQL 18's.)
SECRET_PARAMETERS: Final = frozenset({"password", "sslpassword", "oauth_client_secret"})

MASK: Final = "***"

# A URL anywhere in free text: scheme://, then up to whitespace, a quote or a delimiter; a
# sentence's punctuation right after it (": refused", "...db).") is not part of it.
_URL: Final = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>`|]*[^\s'\"<>`|.,:;)]")

# key=value secrets (libpq keyword strings, and PGPASSWORD=... as in a shell line). The value
# is a single-quoted libpq string (backslash escapes) or a run of non-blanks that are no quote
# (so the quote that closes a DSN quoted in a message survives).
_KEYWORD_SECRET: Final = re.compile(
    r"(?i)\b((?:pg)?(?:" + "|".join(sorted(SECRET_PARAMETERS)) + r"))\s*=\s*"
    r"""('(?:[^'\\]|\\.)*'|[^\s'"]+)"""
)


def redact(text: str) -> str:
    """Return ``text`` with every libpq secret replaced by ``***``.

    ``text`` is a DSN or any text that holds DSNs: URLs (``postgresql://user:secret@host/db``,
    ``?sslpassword=...``) wherever they stand in it, and libpq key=value strings
    (``host=db user=app password=secret``). Everything that is not a secret stays as it is.
    """
    out: list[str] = []
    done = 0
    for url in _URL.finditer(text):
        out += [_redact_keywords(text[done : url.start()]), _redact_url(url.group(0))]
        done = url.end()
    out.append(_redact_keywords(text[done:]))
    return "".join(out)


def _redact_keywords(text: str) -> str:
    # Never run over a URL: in a query string a value ends at '&', in a keyword string not.
    return _KEYWORD_SECRET.sub(lambda match: f"{match.group(1)}={MASK}", text)


def _redact_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL urllib can read (a bad port, say): mask the userinfo whole
        scheme, _, rest = url.partition("://")
        return f"{scheme}://{MASK}@{rest.rpartition('@')[2]}" if "@" in rest else url
    if password is not None:
        userinfo, _, hostinfo = parts.netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        parts = parts._replace(netloc=f"{user}:{MASK}@{hostinfo}")
    if not parts.query:
        return urlunsplit(parts)
    query = [
        (key, MASK if key.lower() in SECRET_PARAMETERS else value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe="/,:*")))
