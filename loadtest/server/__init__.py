"""The ChatKit server under test: FastAPI + ``ChatKitServer`` + ``PostgresStore``.

    from chatkit_pg.loadtest.server import ServerSettings, create_app
    app = create_app(ServerSettings(dsn="postgresql://..."))

Names are imported on first use (PEP 562): the command line reads :class:`ServerSettings`
to build its options without importing FastAPI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app, create_app_from_env
    from .settings import ServerSettings

_EXPORTS = {"ServerSettings": "settings", "create_app": "app", "create_app_from_env": "app"}

__all__ = ["ServerSettings", "create_app", "create_app_from_env"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
