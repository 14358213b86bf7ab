"""The report's command line, shared by ``python -m chatkit_pg.reports`` and ``chatkit-pg report``.

Light to import (``chatkit-pg --help`` loads it): matplotlib is imported only when a report
is built.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .compare import DEFAULT_THRESHOLD


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_dir", type=Path, help="a results folder (results/<timestamp>)")
    parser.add_argument(
        "--baseline", type=Path, default=None, help="another results folder to compare against"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help=f"flag changes for the worse beyond this fraction (default {DEFAULT_THRESHOLD})",
    )
    parser.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit with status 3 when the baseline comparison flags a regression",
    )


def run(args: argparse.Namespace) -> int:
    """Build the report; print where it is, what was skipped and any regression."""
    from .build import build
    from .load import ReportInputError
    from .render import regression_lines

    try:
        report = build(args.results_dir, args.baseline, args.threshold)
    except (FileNotFoundError, ReportInputError, ValueError) as exc:
        print(f"report: error: {exc}", file=sys.stderr)
        return 2
    for part in report.missing:
        print(f"skipped (not in the results folder): {part}")
    if args.baseline is not None:
        print(f"{len(report.regressions)} regression(s) beyond {args.threshold:.0%}")
        for line in regression_lines(report.regressions):
            print(f"  REGRESSION {line}")
    print(f"figures: {len(report.figures)} in {report.html.parent / 'figures'}")
    print(f"markdown: {report.markdown}")
    print(f"report: {report.html}")
    if args.fail_on_regression and report.regressions:
        return 3
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chatkit_pg.reports",
        description="Build report.md, report.html and figures/ from a results folder.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
