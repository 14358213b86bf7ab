"""``chatkit-pg loadtest``: the server on the store, Locust against it, integrity checked;
or, with ``--host URL``, the same load against any running ChatKit server."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from chatkit_pg.harness.provision import ProvisioningError
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import DSN_ENV
from chatkit_pg.loadtest.orchestration.config import LoadTestConfig as Run

from ._common import add_dsn_option
from ._scenario_options import add_scenario_options, given_settings
from .serve import add_server_options, server_settings

if TYPE_CHECKING:
    from chatkit_pg.loadtest.orchestration.config import CapacityOptions
    from chatkit_pg.loadtest.orchestration.sweep import Sweep
    from chatkit_pg.loadtest.scenarios.settings import ScenarioSettings

ORDER = 40


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "loadtest",
        help="load the store behind a real ChatKit server with Locust, then check integrity",
    )
    add_dsn_option(parser, help_suffix="; a fresh database is created on it and dropped after")
    parser.add_argument(
        "--users", type=int, default=Run.users, help=f"simulated users (default {Run.users})"
    )
    parser.add_argument(
        "--spawn-rate",
        type=float,
        default=Run.spawn_rate,
        help=f"users started per s (default {Run.spawn_rate:g})",
    )
    parser.add_argument(
        "--run-time", default=Run.run_time, help=f"e.g. 60s, 5m (default {Run.run_time})"
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help="run folder to write into (default: a new results/<timestamp>/)",
    )
    parser.add_argument(
        "--workers", type=int, default=Run.workers, help="server (uvicorn) processes"
    )
    parser.add_argument(
        "--locust-workers",
        type=int,
        default=Run.locust_workers,
        help="run Locust distributed: one master and N workers on 127.0.0.1 (default 0: one "
        "process)",
    )
    parser.add_argument("--tags", nargs="*", default=[], help="only these user tags")
    parser.add_argument("--exclude-tags", nargs="*", default=[], help="leave out these user tags")
    add_scenario_groups(parser)
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
        default=f"{Run.chaos_grace_s:g}s",
        metavar="DURATION",
        help="failures are expected until this long after the restart "
        f"(default {Run.chaos_grace_s:g}s)",
    )
    add_server_options(parser)
    parser.set_defaults(func=run)


def add_scenario_groups(parser: argparse.ArgumentParser) -> None:
    """The scenario settings, in three groups, with the options of the run that sit beside
    them (``--host``, ``--verify``, ``--find-capacity``)."""
    target = parser.add_argument_group(
        "target (any ChatKit server)",
        "Secrets can come from the environment instead: CHATKIT_LT_AUTH_TOKEN, "
        "CHATKIT_LT_AUTH_TEMPLATE, CHATKIT_LT_HEADERS / CHATKIT_LT_COOKIES (JSON lists). "
        "They are passed to Locust through its environment and written nowhere.",
    )
    target.add_argument(
        "--host",
        default=None,
        metavar="URL",
        help="load this running server (an http or https URL): no database and "
        "no server are started; nothing is seeded unless --seed",
    )
    target.add_argument(
        "--verify",
        action="store_true",
        help="with --host: afterwards re-read every acknowledged thread via items.list",
    )
    load = parser.add_argument_group("scenario", "What the simulated users do.")
    capacity = parser.add_argument_group(
        "capacity",
        "Raise users step by step until the chosen request's p95 breaks the SLO or requests "
        "fail; loadtest/capacity.json gets every step and the sustained capacity (users, "
        "req/s). Replaces --users/--run-time; --spawn-rate is the ramp's.",
    )
    capacity.add_argument("--find-capacity", action="store_true", help="run the stepped ramp")
    arrivals = parser.add_argument_group(
        "open loop",
        "New conversations arrive at a rate of their own, whatever the server's pace (one "
        "open-loop user per Locust process, each with its share of rate and cap); replaces "
        "--users and the user mix. run.json's 'arrivals' has the rate achieved.",
    )
    add_scenario_options(
        {"target": target, "load": load, "capacity": capacity, "arrivals": arrivals}
    )
    add_goodput_options(parser)


def add_goodput_options(parser: argparse.ArgumentParser) -> None:
    from chatkit_pg.loadtest.orchestration.sweep import DEFAULT_TARGET

    group = parser.add_argument_group(
        "goodput and sweeps",
        "Goodput is the share (and rate) of requests that met every limit, from the "
        "per-request records (run.json 'goodput'). A sweep runs the whole load test at each "
        "load into loadtest/sweep/<load>/ and writes loadtest/sweep.json with the knee.",
    )
    group.add_argument(
        "--goodput",
        default=None,
        metavar="'ttft=MS,itl=MS,e2e=MS'",
        help="SLO limits per request: ttft, itl (the largest gap between deltas), tpot, "
        "e2e, ttfe (ms)",
    )
    group.add_argument(
        "--goodput-target",
        type=float,
        default=DEFAULT_TARGET,
        help=f"a sweep's knee: the highest load at this goodput share (default {DEFAULT_TARGET:g})",
    )
    sweeps = group.add_mutually_exclusive_group()
    sweeps.add_argument(
        "--sweep-rates",
        default=None,
        metavar="R1,R2,...",
        help="open loop at each arrival rate (conversations/s); needs --goodput",
    )
    sweeps.add_argument(
        "--sweep-users",
        default=None,
        metavar="N1,N2,...",
        help="closed loop at each user count; needs --goodput",
    )


def scenario_of(args: argparse.Namespace, remote: bool) -> ScenarioSettings:
    """The scenario settings, checked (an option error exits with its message). A local
    run seeds through the store, never over the API."""
    from chatkit_pg.loadtest.scenarios.settings import from_values, in_cli_terms

    given = given_settings(args)
    if not remote:
        given["seed"] = False
    if args.find_capacity:
        given["step_rate"] = args.spawn_rate
    if given.get("arrival_rate"):
        given["arrival_generators"] = open_loop_users(args)
    try:
        return from_values(local=not remote, **given)
    except ValueError as exc:
        raise SystemExit(f"chatkit-pg loadtest: {in_cli_terms(str(exc))}") from None


def open_loop_users(args: argparse.Namespace) -> int:
    """One open-loop user per Locust process (the master of a distributed run runs none)."""
    return max(1, args.locust_workers)


def open_loop_checks(args: argparse.Namespace, scenario: ScenarioSettings) -> None:
    """What an open-loop run or a warm-up cannot be combined with."""
    if scenario.arrival_rate:
        if args.find_capacity:
            raise SystemExit("chatkit-pg loadtest: --arrival-rate is an open loop; "
                             "--find-capacity ramps closed-loop users (give one)")  # fmt: skip
        if args.tags or args.exclude_tags:
            raise SystemExit("chatkit-pg loadtest: --arrival-rate runs the open-loop user "
                             "alone; drop --tags/--exclude-tags")  # fmt: skip
    if scenario.warmup and args.find_capacity:
        raise SystemExit("chatkit-pg loadtest: --warmup is for a fixed load; the ramp's "
                         "steps are measured one by one (drop one of them)")  # fmt: skip


def sweep_of(args: argparse.Namespace) -> Sweep | None:
    """The sweep of ``--sweep-rates``/``--sweep-users`` (None without one), checked."""
    from chatkit_pg.loadtest.orchestration.sweep import Sweep, parse_loads

    kind = "rates" if args.sweep_rates else "users" if args.sweep_users else None
    if kind is None:
        return None
    if args.goodput is None:
        raise SystemExit(f"chatkit-pg loadtest: --sweep-{kind} finds the knee at a goodput "
                         "SLO: give --goodput, e.g. 'ttft=2000,itl=200,e2e=10000'")  # fmt: skip
    if args.find_capacity or args.chaos_restart_at:
        raise SystemExit(f"chatkit-pg loadtest: --sweep-{kind} runs fixed loads; drop "
                         "--find-capacity/--chaos-restart-at")  # fmt: skip
    option = f"--sweep-{kind}"
    try:
        loads = parse_loads(getattr(args, f"sweep_{kind}"), option)
        return Sweep(kind, loads, args.goodput_target)  # type: ignore[arg-type]
    except ValueError as exc:
        raise SystemExit(f"chatkit-pg loadtest: {exc}") from None


def goodput_of(args: argparse.Namespace) -> dict[str, float] | None:
    from chatkit_pg.loadtest.orchestration.goodput import parse_goodput

    if args.goodput is None:
        return None
    try:
        return parse_goodput(args.goodput)
    except ValueError as exc:
        raise SystemExit(f"chatkit-pg loadtest: {exc}") from None


def capacity_options(
    args: argparse.Namespace, scenario: ScenarioSettings
) -> CapacityOptions | None:
    """The ramp of ``--find-capacity`` (None without it), from the checked settings."""
    from chatkit_pg.loadtest.orchestration.config import CapacityOptions

    if not args.find_capacity:
        return None
    return CapacityOptions.of(scenario)


def run(args: argparse.Namespace) -> int:
    from chatkit_pg.loadtest.orchestration.chaos import parse_seconds
    from chatkit_pg.loadtest.orchestration.run import run_loadtest, run_remote

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
    sweep = sweep_of(args)
    if sweep is not None and sweep.kind == "rates" and not args.arrival_rate:
        args.arrival_rate = sweep.loads[0]  # each point sets its own; this selects the open loop
    scenario = scenario_of(args, remote)
    open_loop_checks(args, scenario)
    if scenario.arrival_rate:
        args.users = args.spawn_rate = open_loop_users(args)
        args.tags = ["open-loop"]
    for name in ("users", "workers"):
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
    config = Run(
        server=server_settings(args),  # its database is made by the run
        users=args.users,
        spawn_rate=args.spawn_rate,
        run_time=args.run_time,
        dsn=args.dsn,
        workers=args.workers,
        locust_workers=args.locust_workers,
        scenario=scenario,
        tags=list(args.tags),
        keep_database=args.keep_database,
        chaos_restart_at=chaos_at,
        chaos_grace_s=chaos_grace,
        exclude_tags=list(args.exclude_tags),
        host=args.host,
        verify=args.verify,
        capacity=capacity_options(args, scenario),
        goodput=goodput_of(args),
    )
    flow = run_remote if remote else run_loadtest
    folder = RunFolder.at(args.results)
    try:
        if sweep is not None:
            from chatkit_pg.loadtest.orchestration.sweep import run_sweep

            return run_sweep(config, folder, sweep, flow)
        return flow(config, folder)
    except ProvisioningError as exc:
        raise SystemExit(f"chatkit-pg loadtest: {exc}") from None
