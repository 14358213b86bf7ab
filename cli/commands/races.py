"""``chatkit-pg races``: the race matrix (strategy x scenario x concurrency) on real PostgreSQL.

The matrix is the volume races of ``tests/concurrency`` (each cell is checked, not only
timed), so this command runs them with pytest in a child process and then prints the table
from ``<results>/races/race_matrix.json``. ``--all`` runs every race test, not only the
matrix.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from chatkit_pg.dsn import mask_dsn
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import DSN_ENV
from chatkit_pg.harness.vocabulary import RACE_FULL_ENV as FULL_ENV

from ._common import add_dsn_option

ORDER = 20
SOURCE_ROOT = Path(__file__).resolve().parents[2]
RACE_TESTS = SOURCE_ROOT / "tests" / "concurrency"
MATRIX_TESTS = RACE_TESTS / "test_volume.py"
COLUMNS = (
    "strategy",
    "scenario",
    "concurrency",
    "adds",
    "failed_adds",
    "duplicates",
    "retries",
    "gaps",
    "ops_per_s",
)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "races",
        help="race every sort-key strategy (checked) and write races/race_matrix.json",
    )
    add_dsn_option(parser)
    parser.add_argument(
        "--full",
        action="store_true",
        default=os.environ.get(FULL_ENV, "0") not in ("", "0"),
        help=f"more writers and rounds (N up to 80; a few minutes); also ${FULL_ENV}=1",
    )
    parser.add_argument(
        "--results",
        type=Path,
        help="results folder of this run (default: a new results/<timestamp>/)",
    )
    parser.add_argument(
        "--all", action="store_true", help="run every race test, not only the matrix"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not MATRIX_TESTS.is_file():
        raise SystemExit(
            f"chatkit-pg races: {MATRIX_TESTS} not found; the race matrix runs the race tests, "
            "so run it from a source checkout of chatkit-pg"
        )
    folder = RunFolder.at(args.results).path
    env = {**os.environ, "CHATKIT_PG_RESULTS_DIR": str(folder), FULL_ENV: "1" if args.full else "0"}
    if args.dsn:
        env[DSN_ENV] = args.dsn
    target = RACE_TESTS if args.all else MATRIX_TESTS
    print(
        f"races: {'full' if args.full else 'quick'} profile on "
        f"{mask_dsn(args.dsn) if args.dsn else 'an embedded PostgreSQL'}; results in {folder}",
        flush=True,
    )
    matrix = folder / RunFolder.RACE_MATRIX_FILE
    matrix.unlink(missing_ok=True)  # never show a matrix this run did not write
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(target),
        "-m",
        "race",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    code = subprocess.run(command, cwd=SOURCE_ROOT, env=env, check=False).returncode
    if matrix.is_file():
        print(format_table(json.loads(matrix.read_text())["rows"]))
        print(f"race matrix: {matrix}")
    else:
        print(f"races: no race matrix was written ({matrix})", file=sys.stderr)
        code = code or 1
    return code


def format_table(rows: list[dict[str, Any]]) -> str:
    """The race matrix as a fixed-width text table."""
    cells = [[str(row[c]) for c in COLUMNS] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True))]
    lines += [
        "  ".join(
            v.rjust(w) if i > 1 else v.ljust(w)
            for i, (v, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in cells
    ]
    return "\n".join(lines)
