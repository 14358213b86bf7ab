"""``chatkit-pg bench``: the micro-benchmarks end to end, results in one run folder.

Runs ``pytest bench`` (pytest-benchmark JSON, EXPLAIN plans, sizes, pgbench, conditions, all
under ``results/<timestamp>/``) on the embedded PostgreSQL or ``--dsn``, then prints the
summary of the issue's goals from ``bench/summary.json``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

from chatkit_pg.bench.profiles import PROFILES
from chatkit_pg.dsn import redact
from chatkit_pg.harness.provision import to_libpq_url
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import DSN_ENV

from ._common import add_dsn_option

ORDER = 20


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "bench",
        help="run the micro-benchmarks (sort keys, pagination, index variants, limits) "
        "and print the summary",
    )
    add_dsn_option(parser)
    parser.add_argument(
        "--profile",
        choices=list(PROFILES),
        default="quick",
        help="sizes: quick (default, a few minutes), full (realistic scale), smoke (seconds), "
        "large (10^7 items; see the README for its time and disk; pass -- --variants a,b)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help="run folder to write into (default: a new results/<timestamp>/)",
    )
    parser.add_argument(
        "pytest_args",
        nargs=argparse.REMAINDER,
        help="extra pytest arguments after '--' (e.g. -- -k keyset --benchmark-autosave)",
    )
    parser.set_defaults(func=run)


def bench_dir() -> Path:
    """The bench/ folder (a package, so it is found installed or in a checkout)."""
    module = importlib.import_module("chatkit_pg.bench")
    return Path(next(iter(module.__path__))).resolve()


def run(args: argparse.Namespace) -> int:
    if args.dsn:
        try:
            to_libpq_url(args.dsn)
        except ValueError as exc:
            raise SystemExit(f"chatkit-pg bench: --dsn: {exc}") from None
    folder = RunFolder.at(args.results)
    env = dict(os.environ)
    if args.dsn:  # through the environment: a password never shows on a command line
        env[DSN_ENV] = args.dsn
    bench = bench_dir()
    extra = [a for a in args.pytest_args if a != "--"]
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(bench),
        f"--profile={args.profile}",
        f"--results={folder.path}",
        f"--benchmark-json={folder.file(RunFolder.BENCHMARK_FILE)}",
        "--benchmark-columns=min,median,max,ops,rounds",
        "-p",
        "no:cacheprovider",
        "-q",
        *extra,
    ]
    where = redact(args.dsn) if args.dsn else "embedded PostgreSQL"
    print(
        f"chatkit-pg bench: profile {args.profile} on {where}; results in {folder.path}",
        flush=True,
    )
    # The bench runs in its own interpreter: pytest owns that process's event loop and
    # plugins, and the CLI stays importable without the harness extras.
    done = subprocess.run(command, cwd=bench.parent, env=env, check=False)
    summary_path = folder.path / RunFolder.SUMMARY_FILE
    if summary_path.exists():
        from chatkit_pg.bench.summary import format_table

        summary = json.loads(summary_path.read_text())
        print(f"\nSummary ({summary_path}):")
        print(format_table(summary))
    else:
        print(f"no summary written ({summary_path} missing); see the pytest output above")
    return done.returncode
