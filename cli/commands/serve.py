"""``chatkit-pg serve``: the ChatKit load-test server (uvicorn) on the PostgreSQL store."""

from __future__ import annotations

import argparse
import os
import signal
from typing import TYPE_CHECKING

from chatkit_pg import DEFAULT_STRATEGY, STRATEGIES
from chatkit_pg.dsn import mask_dsn
from chatkit_pg.harness.provision import start_server

from ._common import add_dsn_option

if TYPE_CHECKING:
    from chatkit_pg.loadtest.server.settings import ServerSettings

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
    """Options of :class:`loadtest.server.ServerSettings` (shared with ``loadtest``)."""
    group = parser.add_argument_group("server under test")
    group.add_argument("--strategy", default=DEFAULT_STRATEGY, choices=list(STRATEGIES))
    group.add_argument("--pool-size", type=int, default=10, help="store pool size per worker")
    group.add_argument("--max-overflow", type=int, default=5, help="pool overflow per worker")
    group.add_argument("--deltas", type=int, default=8, help="text deltas per assistant reply")
    group.add_argument(
        "--delta-delay-ms", type=float, default=5.0, help="pause before each delta (ms)"
    )
    group.add_argument(
        "--widget-ratio", type=float, default=0.1, help="share of replies with a widget"
    )
    group.add_argument(
        "--workflow-ratio", type=float, default=0.1, help="share of replies with a workflow"
    )
    group.add_argument(
        "--max-body-bytes", type=int, default=1024 * 1024, help="larger bodies get 413"
    )


def server_settings(args: argparse.Namespace, dsn: str) -> ServerSettings:
    """Build :class:`loadtest.server.ServerSettings` from parsed options."""
    from chatkit_pg.loadtest.server.settings import ServerSettings

    return ServerSettings(
        dsn=dsn,
        strategy=args.strategy,
        pool_size=args.pool_size,
        max_overflow=args.max_overflow,
        deltas=args.deltas,
        delta_delay_ms=args.delta_delay_ms,
        widget_ratio=args.widget_ratio,
        workflow_ratio=args.workflow_ratio,
        max_body_bytes=args.max_body_bytes,
    )


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
    with start_server(dsn=args.dsn) as server:
        dsn = args.dsn
        if server.provider == "embedded":
            dsn = asyncio.run(server.create_database(prefix="chatkit_serve"))
        try:
            settings = server_settings(args, dsn)
        except ValueError as exc:
            raise SystemExit(f"chatkit-pg serve: {exc}") from None
        # Workers are fresh processes: they read the settings from the environment.
        os.environ.update(settings.to_env())
        print(
            f"serving ChatKit on http://{args.host}:{args.port}/chatkit "
            f"({args.workers} worker(s), strategy {args.strategy}, db {mask_dsn(dsn)})",
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
