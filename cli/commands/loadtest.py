"""``chatkit-pg loadtest``: the server on the store, Locust against it, integrity checked."""

from __future__ import annotations

import argparse
from pathlib import Path

from chatkit_pg.harness.provision import ProvisioningError
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import DSN_ENV

from ._common import add_dsn_option
from .serve import add_server_options, server_settings

ORDER = 40


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "loadtest",
        help="load the store behind a real ChatKit server with Locust, then check integrity",
    )
    add_dsn_option(parser, help_suffix="; a fresh database is created on it and dropped after")
    parser.add_argument("--users", type=int, default=50, help="simulated users (default 50)")
    parser.add_argument("--spawn-rate", type=float, default=10.0, help="users started per s")
    parser.add_argument("--run-time", default="60s", help="e.g. 60s, 5m (default 60s)")
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help="run folder to write into (default: a new results/<timestamp>/)",
    )
    parser.add_argument("--workers", type=int, default=1, help="server (uvicorn) processes")
    parser.add_argument(
        "--locust-workers",
        type=int,
        default=0,
        help="run Locust distributed: one master and N workers on 127.0.0.1 (default 0: one "
        "process)",
    )
    parser.add_argument("--seed-threads", type=int, default=2, help="long threads to seed")
    parser.add_argument(
        "--seed-thread-length", type=int, default=2000, help="items per long thread"
    )
    parser.add_argument("--hot-threads", type=int, default=3, help="shared hot threads")
    parser.add_argument("--think-min", type=float, default=0.5, help="min think time (s)")
    parser.add_argument("--think-max", type=float, default=2.0, help="max think time (s)")
    parser.add_argument("--tags", nargs="*", default=[], help="only these user tags")
    parser.add_argument(
        "--keep-database", action="store_true", help="do not drop the database afterwards"
    )
    parser.add_argument(
        "--chaos-restart-at",
        default=None,
        metavar="DURATION",
        help="restart the embedded PostgreSQL this long after Locust starts (e.g. 20s); "
        "failures must stay inside the restart window and integrity must hold",
    )
    parser.add_argument(
        "--chaos-grace",
        default="10s",
        metavar="DURATION",
        help="failures are expected until this long after the restart (default 10s)",
    )
    add_server_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chatkit_pg.loadtest.orchestration.chaos import parse_seconds
    from chatkit_pg.loadtest.orchestration.run import LoadTestConfig, run_loadtest

    for name in ("users", "workers", "seed_threads", "hot_threads"):
        if getattr(args, name) < 1:
            raise SystemExit(f"chatkit-pg loadtest: --{name.replace('_', '-')} must be >= 1")
    if args.spawn_rate <= 0:
        raise SystemExit("chatkit-pg loadtest: --spawn-rate must be positive")
    chaos_at = chaos_grace = None
    try:
        if args.chaos_restart_at is not None:
            chaos_at = parse_seconds(args.chaos_restart_at)
        chaos_grace = parse_seconds(args.chaos_grace)
    except ValueError as exc:
        raise SystemExit(f"chatkit-pg loadtest: --chaos-restart-at/--chaos-grace: {exc}") from None
    if chaos_at is not None and args.dsn:
        raise SystemExit(
            "chatkit-pg loadtest: --chaos-restart-at restarts the database, which only works on "
            f"the embedded PostgreSQL; drop --dsn (and unset {DSN_ENV})"
        )
    config = LoadTestConfig(
        server=server_settings(args),  # its database is made by the run
        users=args.users,
        spawn_rate=args.spawn_rate,
        run_time=args.run_time,
        dsn=args.dsn,
        workers=args.workers,
        locust_workers=args.locust_workers,
        seed_threads=args.seed_threads,
        seed_thread_length=args.seed_thread_length,
        hot_threads=args.hot_threads,
        think_min=args.think_min,
        think_max=args.think_max,
        tags=list(args.tags),
        keep_database=args.keep_database,
        chaos_restart_at=chaos_at,
        chaos_grace_s=chaos_grace,
    )
    try:
        return run_loadtest(config, RunFolder.at(args.results))
    except ProvisioningError as exc:
        raise SystemExit(f"chatkit-pg loadtest: {exc}") from None
