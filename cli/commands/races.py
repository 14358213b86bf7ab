"""``chatkit-pg races``: the race matrix (strategy x scenario x concurrency) on real PostgreSQL.

Runs the volume-race producer (:mod:`chatkit_pg.harness.races`) directly: every cell races
N writers on a fresh database and is judged against its strategy's own promises, not only
timed. The producer checks the choice and writes ``conditions.json`` (its ``races``
section), ``strategies.json`` and ``races/race_matrix.json`` into the run folder; this
command prints the table and exits 1 when any cell broke its strategy's promises. Needs no
source checkout: the other race tests are pytest's (``pytest tests/concurrency -m race``
from a checkout).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatkit_pg.dsn import redact
from chatkit_pg.harness.results import RunFolder
from chatkit_pg.harness.vocabulary import RACE_FULL_ENV, SCENARIOS

from ._common import add_dsn_option

if TYPE_CHECKING:
    from chatkit_pg.harness.provision import PostgresServer
    from chatkit_pg.harness.races import CellResult, RacePlan

ORDER = 20
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
        default=os.environ.get(RACE_FULL_ENV, "0") not in ("", "0"),
        help=f"more writers and rounds (N up to 80; a few minutes); also ${RACE_FULL_ENV}=1",
    )
    parser.add_argument(
        "--results",
        type=Path,
        help="results folder of this run (default: a new results/<timestamp>/)",
    )
    parser.add_argument(
        "--strategies",
        type=_names,
        metavar="NAME,...",
        help="comma-separated sort-key strategies to race (default: every strategy)",
    )
    parser.add_argument(
        "--scenarios",
        type=_names,
        metavar="NAME,...",
        help=f"comma-separated scenarios: {', '.join(SCENARIOS)} (default: both)",
    )
    parser.add_argument(
        "--concurrency",
        type=_counts,
        metavar="N,...",
        help="comma-separated writer counts per round, e.g. 2,16 (default: the profile's)",
    )
    parser.set_defaults(func=run)


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of names")
    return names


def _counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(n) for n in _names(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    return counts


def run(args: argparse.Namespace) -> int:
    # Imported here: the producer brings chatkit and SQLAlchemy, which `--help` never needs.
    from chatkit_pg.harness.provision import ProvisioningError, start_server
    from chatkit_pg.harness.races import FULL, QUICK, clear_race_matrix, plan_races

    profile = FULL if args.full else QUICK
    if args.concurrency:
        profile = replace(profile, concurrency=args.concurrency)
    try:
        # The producer checks the choice; offline, so a typo fails before a database starts.
        plan = plan_races(profile, args.strategies, args.scenarios)
    except ValueError as exc:
        raise SystemExit(f"chatkit-pg races: {exc}") from None

    folder = RunFolder.at(args.results)
    matrix = clear_race_matrix(folder)
    try:
        server = start_server(dsn=args.dsn)
    except (ProvisioningError, ValueError) as exc:
        raise SystemExit(f"chatkit-pg races: {exc}") from None
    with server:
        print(
            f"races: {profile.name} profile (N = {', '.join(map(str, profile.concurrency))}; "
            f"{profile.rounds} rounds) on {server.provider} PostgreSQL at "
            f"{redact(server.dsn)}; results in {folder.path}",
            flush=True,
        )
        cells = asyncio.run(_race(server, folder, plan))

    rows = [cell.row for cell in cells]
    print(format_table(rows))
    print(f"race matrix: {matrix}")
    broken = [f"{cell.label}: {problem}" for cell in cells for problem in cell.problems]
    if broken:
        print(f"races: {len(broken)} broken promise(s):", file=sys.stderr)
        for line in broken:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


async def _race(server: PostgresServer, folder: RunFolder, plan: RacePlan) -> list[CellResult]:
    from chatkit_pg.harness.races import produce_race_matrix

    return await produce_race_matrix(
        server, folder, plan, progress=lambda line: print(line, flush=True)
    )


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
