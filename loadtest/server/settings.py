"""Settings of the server under test: one object, checked once, three ways in and out.

:class:`ServerSettings` is the one description of the server: ``chatkit-pg serve`` and
``chatkit-pg loadtest`` build their options from its fields (:meth:`option_fields`), turn the
parsed options back into it, and the load test hands the same object to its ``serve`` child
as options (:meth:`to_options`) plus the DSN in the environment. Uvicorn workers are fresh
processes, so ``chatkit-pg serve`` passes the settings on through the environment
(:meth:`to_env`), read back by :meth:`from_env` in
:func:`chatkit_pg.loadtest.server.create_app_from_env`; the Docker image is configured the
same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields, replace
from typing import Any, Final

from chatkit_pg.harness.vocabulary import DSN_ENV, parse_on_off
from chatkit_pg.strategies import DEFAULT_STRATEGY, STRATEGIES

ENV_PREFIX: Final = "CHATKIT_SERVER_"


def _setting(default: Any, help_text: str) -> Any:
    """A field that is also a command-line option (``--pool-size``) and an env var."""
    return field(default=default, metadata={"help": help_text})


def value_parser(kind: type[Any]) -> Callable[[str], Any]:
    """How an option or variable of a field of type ``kind`` is read from text."""
    if kind is not bool:
        return kind
    return lambda raw: parse_on_off(raw, "the value")


def option_name(name: str) -> str:
    """The command-line option of field ``name``: ``pool_size`` -> ``--pool-size``."""
    return "--" + name.replace("_", "-")


def env_name(name: str) -> str:
    """The environment variable of field ``name``: ``pool_size`` -> ``CHATKIT_SERVER_POOL_SIZE``."""
    return ENV_PREFIX + name.upper()


@dataclass(frozen=True)
class ServerSettings:
    """How the server under test behaves.

    Every field but ``dsn`` is a command-line option of ``chatkit-pg serve`` and
    ``chatkit-pg loadtest`` (same name, dashes for underscores) and an environment variable
    ``CHATKIT_SERVER_<FIELD>``. Values are checked here, once, whichever way they came in.

    Attributes:
        dsn: PostgreSQL URL of the database (migrated at start). Empty until a database is
            chosen: ``chatkit-pg loadtest`` creates a fresh one and fills it in with
            :meth:`with_database`; the server itself refuses to start without one.
        strategy: sort-key strategy of the store (:data:`chatkit_pg.STRATEGIES`).
        pool_size: connections the store keeps per worker process.
        max_overflow: extra connections per worker under load.
        deltas: text deltas the stand-in model streams per assistant message (K).
        delta_delay_ms: pause before each delta, emulating token streaming.
        delta_chars: characters per delta.
        widget_ratio: share of responses that also emit a widget item (0..1).
        workflow_ratio: share of responses that start with a workflow item (0..1).
        max_body_bytes: request bodies above this are refused with 413.
        pgbouncer: the DSN reaches PostgreSQL through PgBouncer in transaction mode (the
            store then keeps no prepared statements and sets no session settings).
    """

    dsn: str = field(default="", repr=False)  # may hold a password
    strategy: str = _setting(
        DEFAULT_STRATEGY, f"sort-key strategy of the store, one of: {', '.join(STRATEGIES)}"
    )
    pool_size: int = _setting(10, "store pool size per worker")
    max_overflow: int = _setting(5, "pool overflow per worker")
    deltas: int = _setting(8, "text deltas per assistant reply")
    delta_delay_ms: float = _setting(5.0, "pause before each delta (ms)")
    delta_chars: int = _setting(24, "characters per delta")
    widget_ratio: float = _setting(0.1, "share of replies with a widget")
    workflow_ratio: float = _setting(0.1, "share of replies with a workflow")
    max_body_bytes: int = _setting(1024 * 1024, "larger request bodies get 413")
    pgbouncer: bool = _setting(False, "the database is behind PgBouncer in transaction mode")

    def __post_init__(self) -> None:
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

    # -- the database -------------------------------------------------------------------------

    def with_database(self, dsn: str) -> ServerSettings:
        """The same settings on the database ``dsn``."""
        return replace(self, dsn=dsn)

    def require_database(self) -> None:
        """Raise ``ValueError`` unless a database was chosen (the server cannot start)."""
        if not self.dsn:
            raise ValueError(f"the server needs a database: set {DSN_ENV} or pass --dsn")

    # -- command line -------------------------------------------------------------------------

    @classmethod
    def option_fields(cls) -> tuple[Field[Any], ...]:
        """The fields that are command-line options (all but ``dsn``, which never is)."""
        return tuple(f for f in fields(cls) if f.name != "dsn")

    @classmethod
    def from_options(cls, options: Any, dsn: str = "") -> ServerSettings:
        """Build from parsed options (an argparse namespace with one attribute per field)."""
        return cls(dsn=dsn, **{f.name: getattr(options, f.name) for f in cls.option_fields()})

    def to_options(self) -> list[str]:
        """The command-line options that :meth:`from_options` reads back (no DSN: a password
        on a command line shows in ``ps``)."""
        options: list[str] = []
        for f in self.option_fields():
            options += [option_name(f.name), str(getattr(self, f.name))]
        return options

    # -- environment --------------------------------------------------------------------------

    def to_env(self) -> dict[str, str]:
        """The environment that :meth:`from_env` reads back (for worker processes)."""
        env = {DSN_ENV: self.dsn}
        for f in self.option_fields():
            env[env_name(f.name)] = str(getattr(self, f.name))
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        """Read ``CHATKIT_PG_DSN`` and ``CHATKIT_SERVER_<FIELD>`` variables.

        Raises:
            ValueError: a variable is missing or does not parse; the message names it.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {"dsn": environ.get(DSN_ENV, "")}
        for f in cls.option_fields():
            key = env_name(f.name)
            raw = environ.get(key)
            if raw is None or raw == "":
                continue
            kind: type[Any] = type(f.default)
            try:
                values[f.name] = value_parser(kind)(raw)
            except ValueError:
                raise ValueError(f"{key}={raw!r} is not a valid {kind.__name__}") from None
        return cls(**values)
