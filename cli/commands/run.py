"""``chatkit-pg run``: the whole harness in one command.

One database server (embedded by default, ``--dsn`` otherwise) for every stage, one results
folder for every file: the quick bench profile, the race matrix, a short local load test, then
the report built from those files alone. The load test is a capacity ramp (``chatkit-pg
loadtest --find-capacity``; quick: 10-second steps), so every report states the sustained
capacity of the measured setup; ``--no-capacity`` runs a constant ``--users`` load instead.

Each stage runs as its own process (``chatkit-pg <stage>``), so a stage that fails is
reported and the next one still runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from chatkit_pg.dsn import redact
from chatkit_pg.harness.provision import start_server
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import DSN_ENV

from ._common import add_dsn_option

ORDER = 0

STAGES = ("bench", "races", "loadtest")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "run",
        help="the main job: bench, race matrix, load test and report on one database",
    )
    add_dsn_option(parser)
    parser.add_argument("--profile", choices=("quick", "full"), default="quick")
    parser.add_argument("--results", type=Path, help="results folder (default: a new one)")
    parser.add_argument(
        "--skip", default="", help=f"comma-separated stages to skip: {', '.join(STAGES)}"
    )
    parser.add_argument(
        "--capacity",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="load test as a capacity ramp (default); --no-capacity: constant --users load",
    )
    parser.add_argument(
        "--capacity-max-users",
        type=int,
        default=None,
        help="the ramp's top step (quick 250, full 400)",
    )
    parser.add_argument(
        "--capacity-slo-p95-ms",
        type=float,
        default=None,
        help="the ramp's SLO on the p95 of a reply's stream (default chatkit-pg loadtest's)",
    )
    parser.add_argument(
        "--users", type=int, default=30, help="--no-capacity: load test users (default 30)"
    )
    parser.add_argument("--spawn-rate", type=float, default=None, help="users started per s")
    parser.add_argument(
        "--run-time", default="45s", help="--no-capacity: load test duration (default 45s)"
    )
    parser.set_defaults(func=run)


# The ramp per profile: first step, users added per step, seconds per step, top step, spawn
# rate. Quick keeps the stage under about two minutes on a small machine (the ramp stops at
# the first step that breaks the SLO).
CAPACITY_RAMPS = {
    "quick": {"start": 10, "step": 30, "duration": "10s", "max": 250, "rate": 50.0},
    "full": {"start": 10, "step": 20, "duration": "30s", "max": 400, "rate": 20.0},
}


def _stage_args(stage: str, args: argparse.Namespace) -> list[str]:
    if stage == "bench":
        return ["--profile", args.profile]
    if stage == "races":
        return ["--full"] if args.profile == "full" else []
    if not args.capacity:
        return [
            "--users", str(args.users),
            "--spawn-rate", str(args.spawn_rate or 10),
            "--run-time", args.run_time,
        ]  # fmt: skip
    ramp = CAPACITY_RAMPS[args.profile]
    command = [
        "--find-capacity",
        "--capacity-start-users", str(ramp["start"]),
        "--capacity-step-users", str(ramp["step"]),
        "--capacity-step-duration", str(ramp["duration"]),
        "--capacity-max-users", str(args.capacity_max_users or ramp["max"]),
        "--spawn-rate", str(args.spawn_rate or ramp["rate"]),
    ]  # fmt: skip
    if args.capacity_slo_p95_ms is not None:
        command += ["--capacity-slo-p95-ms", str(args.capacity_slo_p95_ms)]
    return command


def run(args: argparse.Namespace) -> int:
    skipped = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skipped - set(STAGES)
    if unknown:
        names = ", ".join(sorted(unknown))
        raise SystemExit(f"chatkit-pg run: unknown stage(s) in --skip: {names}")
    stages = [s for s in STAGES if s not in skipped]
    folder = RunFolder.at(args.results)
    started = time.monotonic()
    with start_server(dsn=args.dsn) as server:
        print(f"results: {folder.path}", flush=True)
        print(f"database: {server.provider} at {redact(server.dsn)}", flush=True)
        folder.record_conditions(
            "run",
            {"profile": args.profile, "database": redact(server.dsn), "stages": stages},
            postgres=asyncio.run(server.server_info()),
        )
        # The DSN travels in the environment: a password never shows on a command line.
        env = {**os.environ, DSN_ENV: server.dsn}
        outcome: dict[str, int] = {}
        for number, stage in enumerate(stages, 1):
            print(f"\n=== [{number}/{len(stages)}] {stage} ===", flush=True)
            command = [
                sys.executable, "-m", "chatkit_pg.cli", stage,
                "--results", str(folder.path),
                *_stage_args(stage, args),
            ]  # fmt: skip
            stage_started = time.monotonic()
            outcome[stage] = subprocess.run(command, env=env, check=False).returncode
            took = time.monotonic() - stage_started
            print(f"=== {stage}: exit {outcome[stage]} after {took:.0f} s", flush=True)

    print("\n=== report ===", flush=True)
    from chatkit_pg.reports import (
        build_report,  # the report reads files only; imported after measuring
    )

    html = build_report(folder.path)
    print(f"\nfinished in {time.monotonic() - started:.0f} s")
    for stage, code in outcome.items():
        print(f"  {stage:<9} {'ok' if code == 0 else f'FAILED (exit {code})'}")
    print(f"report: {html}")
    return 0 if all(code == 0 for code in outcome.values()) else 1
