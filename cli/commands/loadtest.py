"""``chatkit-pg loadtest``: the server on the store, Locust against it, integrity checked;
or, with ``--host URL``, the same load against any running ChatKit server."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from chatkit_pg.harness.provision import ProvisioningError
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import DSN_ENV

from ._common import add_dsn_option
from .serve import add_server_options, server_settings

if TYPE_CHECKING:
    from chatkit_pg.loadtest.orchestration.run import CapacityOptions, TargetOptions

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
    parser.add_argument(
        "--seed-threads", type=int, default=None, help="long threads to seed (2; --host: 1)"
    )
    parser.add_argument(
        "--seed-thread-length",
        type=int,
        default=None,
        help="items per long thread (2000; --host: 20)",
    )
    parser.add_argument("--hot-threads", type=int, default=3, help="shared hot threads")
    parser.add_argument("--think-min", type=float, default=0.5, help="min think time (s)")
    parser.add_argument("--think-max", type=float, default=2.0, help="max think time (s)")
    parser.add_argument("--tags", nargs="*", default=[], help="only these user tags")
    parser.add_argument("--exclude-tags", nargs="*", default=[], help="leave out these user tags")
    add_target_options(parser)
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
    add_capacity_options(parser)
    add_server_options(parser)
    parser.set_defaults(func=run)


def add_capacity_options(parser: argparse.ArgumentParser) -> None:
    """``--find-capacity``: a stepped ramp instead of ``--users``/``--run-time``."""
    from chatkit_pg.harness.vocabulary import CAPACITY_DEFAULT_REQUEST, CAPACITY_DEFAULT_SLO_P95_MS

    group = parser.add_argument_group(
        "capacity",
        "Raise users step by step until the chosen request's p95 breaks the SLO or requests "
        "fail; loadtest/capacity.json gets every step and the sustained capacity (users, "
        "req/s). Replaces --users/--run-time; --spawn-rate is the ramp's.",
    )
    group.add_argument("--find-capacity", action="store_true", help="run the stepped ramp")
    group.add_argument("--capacity-start-users", type=int, default=10, help="first step (10)")
    group.add_argument("--capacity-step-users", type=int, default=10, help="users added (10)")
    group.add_argument(
        "--capacity-step-duration", default="30s", metavar="DURATION", help="per step (30s)"
    )
    group.add_argument("--capacity-max-users", type=int, default=200, help="top step (200)")
    group.add_argument(
        "--capacity-request",
        default=CAPACITY_DEFAULT_REQUEST,
        metavar="NAME",
        help=f"the Locust entry held to the SLO (default {CAPACITY_DEFAULT_REQUEST!r}: a "
        "reply's whole stream, every store call of the turn included; e.g. "
        "'ttft threads.add_user_message', 'threads.list')",
    )
    group.add_argument(
        "--capacity-slo-p95-ms",
        type=float,
        default=CAPACITY_DEFAULT_SLO_P95_MS,
        help=f"a step breaks the SLO above this p95 (default {CAPACITY_DEFAULT_SLO_P95_MS:g})",
    )
    group.add_argument(
        "--capacity-max-fail-ratio",
        type=float,
        default=0.0,
        help="a step breaks the SLO when more of its requests failed (default 0: any)",
    )


def capacity_options(args: argparse.Namespace) -> CapacityOptions | None:
    """The ramp of ``--find-capacity`` (None without it), checked."""
    from chatkit_pg.loadtest.orchestration.chaos import parse_seconds
    from chatkit_pg.loadtest.orchestration.run import CapacityOptions

    if not args.find_capacity:
        return None
    try:
        return CapacityOptions(
            start_users=args.capacity_start_users,
            step_users=args.capacity_step_users,
            step_duration=parse_seconds(args.capacity_step_duration),
            max_users=args.capacity_max_users,
            request=args.capacity_request,
            slo_p95_ms=args.capacity_slo_p95_ms,
            max_fail_ratio=args.capacity_max_fail_ratio,
            spawn_rate=args.spawn_rate,
        )
    except ValueError as exc:
        raise SystemExit(f"chatkit-pg loadtest: {exc}") from None


def add_target_options(parser: argparse.ArgumentParser) -> None:
    """Where the load goes and how it identifies itself (Locust's scenario options)."""
    group = parser.add_argument_group(
        "target (any ChatKit server)",
        "Secrets can come from the environment instead: CHATKIT_LT_AUTH_TOKEN, "
        "CHATKIT_LT_AUTH_TEMPLATE, CHATKIT_LT_HEADERS / CHATKIT_LT_COOKIES (JSON lists). "
        "They are passed to Locust through its environment and written nowhere.",
    )
    group.add_argument(
        "--host",
        default=None,
        metavar="URL",
        help="load this running server (an http or https URL): no database and "
        "no server are started; nothing is seeded unless --seed",
    )
    group.add_argument("--chatkit-path", default="/chatkit", help="ChatKit endpoint path")
    group.add_argument(
        "--auth-header", default="Authorization", help="header carrying identity ('' for none)"
    )
    group.add_argument(
        "--auth-template",
        default=os.environ.get("CHATKIT_LT_AUTH_TEMPLATE", ""),
        help="its value: {user} per simulated user, {token} the token (default 'Bearer {user}'"
        ", or 'Bearer {token}' with a token option)",
    )
    group.add_argument(
        "--auth-token",
        default=os.environ.get("CHATKIT_LT_AUTH_TOKEN", ""),
        help="one static token for every user (better: CHATKIT_LT_AUTH_TOKEN)",
    )
    group.add_argument(
        "--auth-tokens-file", default="", metavar="PATH", help="per-user tokens: 'user token' lines"
    )
    group.add_argument(
        "--header",
        action="append",
        default=_env_list("CHATKIT_LT_HEADERS"),
        metavar="'NAME: VALUE'",
        help="extra header on every request (repeatable)",
    )
    group.add_argument(
        "--cookie",
        action="append",
        default=_env_list("CHATKIT_LT_COOKIES"),
        metavar="NAME=VALUE",
        help="cookie on every request (repeatable)",
    )
    group.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    group.add_argument("--request-timeout", type=float, default=30.0, help="seconds (30)")
    group.add_argument(
        "--require-assistant",
        action="store_true",
        help="a turn without an assistant message is a failure (no_reply)",
    )
    group.add_argument(
        "--seed",
        action="store_true",
        help="with --host: seed the long/hot threads over the API first (small, resumable; "
        "--seed-threads/--seed-thread-length; default there 1 x 20)",
    )
    group.add_argument(
        "--fail-ratio", type=float, default=0.0, help="exit 1 above this failure ratio (0)"
    )
    group.add_argument(
        "--slo-p95",
        action="append",
        default=[],
        metavar="NAME=MS",
        help="exit 1 when this Locust entry's p95 exceeds MS (repeatable), e.g. "
        "'ttft threads.add_user_message=2000'",
    )
    group.add_argument(
        "--verify",
        action="store_true",
        help="with --host: afterwards re-read every acknowledged thread via items.list",
    )


def _env_list(name: str) -> list[str]:
    value = os.environ.get(name, "")
    if not value:
        return []
    try:
        parsed = json.loads(value)
    except ValueError:
        raise SystemExit(f"chatkit-pg loadtest: {name} must be a JSON list of strings") from None
    if not isinstance(parsed, list):
        raise SystemExit(f"chatkit-pg loadtest: {name} must be a JSON list of strings")
    return [str(v) for v in parsed]


def target_options(args: argparse.Namespace, remote: bool) -> TargetOptions:
    """The target options, checked (an option error exits with its message)."""
    from chatkit_pg.loadtest.orchestration.run import TargetOptions

    target = TargetOptions(
        chatkit_path=args.chatkit_path,
        auth_header=args.auth_header,
        auth_template=args.auth_template,
        auth_token=args.auth_token,
        auth_tokens_file=args.auth_tokens_file,
        header=list(args.header),
        cookie=list(args.cookie),
        tls_verify="false" if args.insecure else "true",
        request_timeout=args.request_timeout,
        require_assistant="true" if args.require_assistant else "false",
        seed="true" if (args.seed and remote) else "false",
        fail_ratio=args.fail_ratio,
        slo_p95=list(args.slo_p95),
    )
    try:
        target.settings()
    except ValueError as exc:
        raise SystemExit(f"chatkit-pg loadtest: {exc}") from None
    return target


def run(args: argparse.Namespace) -> int:
    from chatkit_pg.loadtest.orchestration.chaos import parse_seconds
    from chatkit_pg.loadtest.orchestration.run import LoadTestConfig, run_loadtest, run_remote

    remote = args.host is not None
    if remote and not args.host.startswith(("http://", "https://")):
        raise SystemExit(f"chatkit-pg loadtest: --host must be an http(s) URL, got {args.host!r}")
    if remote and args.chaos_restart_at:
        raise SystemExit(
            "chatkit-pg loadtest: --host loads a running server; --chaos-restart-at restarts "
            "the local run's database"
        )
    if args.verify and not remote:
        raise SystemExit("chatkit-pg loadtest: --verify is for --host runs (local runs always "
                         "check integrity against the database)")  # fmt: skip
    target = target_options(args, remote)

    args.seed_given = args.seed_threads is not None or args.seed_thread_length is not None
    if args.seed_threads is None:
        args.seed_threads = 2
    if args.seed_thread_length is None:
        args.seed_thread_length = 2000
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
        exclude_tags=list(args.exclude_tags),
        target=target,
        host=args.host,
        verify=args.verify,
        capacity=capacity_options(args),
    )
    if remote:
        if not args.seed_given:
            config.seed_threads, config.seed_thread_length = 1, 20  # small over the API
        return run_remote(config, RunFolder.at(args.results))
    try:
        return run_loadtest(config, RunFolder.at(args.results))
    except ProvisioningError as exc:
        raise SystemExit(f"chatkit-pg loadtest: {exc}") from None
