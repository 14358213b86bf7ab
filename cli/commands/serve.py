"""``chatkit-pg serve``: the ChatKit load-test server (uvicorn) on the PostgreSQL store."""

from __future__ import annotations

import argparse
import os
import signal

from chatkit_pg.dsn import redact
from chatkit_pg.harness.provision import start_server
from chatkit_pg.loadtest.server.settings import (
    ServerSettings,
    env_name,
    option_name,
    value_parser,
)

from ._common import add_dsn_option

ORDER = 50


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "serve",
        help="run the ChatKit HTTP server under test (POST /chatkit, GET /healthz, /metrics)",
    )
    add_dsn_option(parser, help_suffix="; the embedded one gets a fresh database")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    add_server_options(parser)
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")
    parser.set_defaults(func=run)


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """One option per :class:`ServerSettings` field (shared with ``loadtest``).

    An option not given takes its ``CHATKIT_SERVER_<FIELD>`` variable when set (containers
    configure the server that way), else the field's default. Only parsing happens here;
    the values are checked once, by :class:`ServerSettings`.
    """
    group = parser.add_argument_group("server under test")
    for f in ServerSettings.option_fields():
        group.add_argument(
            option_name(f.name),
            type=value_parser(type(f.default)),
            default=os.environ.get(env_name(f.name)) or f.default,
            help=f"{f.metadata['help']} (default ${env_name(f.name)}, else {f.default})",
        )


def server_settings(args: argparse.Namespace, dsn: str = "") -> ServerSettings:
    """:class:`ServerSettings` from parsed options, on database ``dsn`` (empty: chosen later).

    Raises:
        SystemExit: an option is out of range; the message names it.
    """
    try:
        return ServerSettings.from_options(args, dsn)
    except ValueError as exc:
        raise SystemExit(f"chatkit-pg {args.command}: {exc}") from None


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(143)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    import uvicorn

    # One INFO line per request ("Received request op") costs real CPU under load.
    for noisy in ("chatkit", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    if args.workers < 1:
        raise SystemExit("chatkit-pg serve: --workers must be at least 1")
    settings = server_settings(args)  # checked before a database is made for it
    with start_server(dsn=args.dsn) as server:
        dsn = args.dsn
        if server.provider == "embedded":
            dsn = asyncio.run(server.create_database(prefix="chatkit_serve"))
        settings = settings.with_database(dsn)
        # Workers are fresh processes: they read the settings from the environment.
        os.environ.update(settings.to_env())
        print(
            f"serving ChatKit on http://{args.host}:{args.port}/chatkit "
            f"({args.workers} worker(s), strategy {settings.strategy}, db {redact(dsn)})",
            flush=True,
        )
        # uvicorn re-raises SIGTERM after its graceful shutdown; turn it into an exception
        # so the embedded database is stopped and deleted on the way out.
        signal.signal(signal.SIGTERM, _terminate)
        uvicorn.run(
            "chatkit_pg.loadtest.server:create_app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            timeout_graceful_shutdown=5,
        )
    return 0
