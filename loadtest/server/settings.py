"""Settings of the server under test, from arguments or from the environment.

``chatkit-pg serve`` passes them to uvicorn workers through the environment (each worker
is a fresh process that calls :func:`loadtest.server.create_app_from_env`), and the
Docker image is configured the same way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Final

from chatkit_pg.harness.vocabulary import DSN_ENV
from chatkit_pg.strategies import DEFAULT_STRATEGY, STRATEGIES

ENV_PREFIX: Final = "CHATKIT_SERVER_"


@dataclass(frozen=True)
class ServerSettings:
    """How the server under test behaves.

    Attributes:
        dsn: PostgreSQL URL of the database (migrated at start).
        strategy: sort-key strategy of the store (:data:`store.STRATEGIES`).
        pool_size: connections the store keeps per worker process.
        max_overflow: extra connections per worker under load.
        deltas: text deltas the stand-in model streams per assistant message (K).
        delta_delay_ms: pause before each delta, emulating token streaming.
        delta_chars: characters per delta.
        widget_ratio: share of responses that also emit a widget item (0..1).
        workflow_ratio: share of responses that start with a workflow item (0..1).
        max_body_bytes: request bodies above this are refused with 413.
    """

    dsn: str
    strategy: str = DEFAULT_STRATEGY
    pool_size: int = 10
    max_overflow: int = 5
    deltas: int = 8
    delta_delay_ms: float = 5.0
    delta_chars: int = 24
    widget_ratio: float = 0.1
    workflow_ratio: float = 0.1
    max_body_bytes: int = 1024 * 1024

    def __post_init__(self) -> None:
        if not self.dsn:
            raise ValueError(f"the server needs a database: set {DSN_ENV} or pass --dsn")
        if self.strategy not in STRATEGIES:
            raise ValueError(
                f"unknown strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}"
            )
        for name in ("pool_size", "deltas", "delta_chars", "max_body_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        for name in ("max_overflow", "delta_delay_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)!r}")
        for name in ("widget_ratio", "workflow_ratio"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within 0..1, got {getattr(self, name)!r}")

    def to_env(self) -> dict[str, str]:
        """The environment that :meth:`from_env` reads back (for worker processes)."""
        env = {DSN_ENV: self.dsn}
        for f in fields(self):
            if f.name != "dsn":
                env[ENV_PREFIX + f.name.upper()] = str(getattr(self, f.name))
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        """Read ``CHATKIT_PG_DSN`` and ``CHATKIT_SERVER_<FIELD>`` variables.

        Raises:
            ValueError: a variable is missing or does not parse; the message names it.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {"dsn": environ.get(DSN_ENV, "")}
        for f in fields(cls):
            if f.name == "dsn":
                continue
            key = ENV_PREFIX + f.name.upper()
            raw = environ.get(key)
            if raw is None or raw == "":
                continue
            kind: type[Any] = type(f.default)
            try:
                values[f.name] = kind(raw)
            except ValueError:
                raise ValueError(f"{key}={raw!r} is not a valid {kind.__name__}") from None
        return cls(**values)
