"""``chatkit-pg report``: build the report of a results folder (reads files only)."""

from __future__ import annotations

import argparse

ORDER = 50  # after run, bench, races, loadtest, serve


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    # Imported here so `chatkit-pg --help` does not pay for matplotlib.
    from chatkit_pg.reports.cli import add_arguments

    parser = subparsers.add_parser(
        "report",
        help="build report.md/report.html (+ figures) from a results folder, optionally "
        "against a baseline",
    )
    add_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from chatkit_pg.reports.cli import run

    return run(args)
