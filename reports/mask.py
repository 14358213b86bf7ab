"""Secrets never reach a report: every printed string passes through :func:`redact`.

:func:`redact` is the library's own (``chatkit_pg.dsn``, which imports nothing heavy); this
module adds only the rule for a recorded setting whose name says it is a secret.
"""

from __future__ import annotations

import re
from typing import Any, Final

from chatkit_pg.dsn import MASK, SECRET_PARAMETERS, redact

__all__ = ["redact", "redact_setting"]

# A setting's name that says its value is a secret: a libpq secret, or a credential's name.
_SECRET_SETTING: Final = re.compile(
    r"(?i)(" + "|".join(sorted(SECRET_PARAMETERS)) + r"|passwd|secret|token|api[_-]?key)"
)


def redact_setting(key: str, value: Any) -> Any:
    """A setting's value, or ``***`` when its name says it is a secret."""
    if value not in (None, "") and _SECRET_SETTING.search(key):
        return MASK
    return value
