"""Options and helpers shared by several subcommands."""

from __future__ import annotations

import argparse
import os

from chatkit_pg.harness.vocabulary import DSN_ENV


def add_dsn_option(parser: argparse.ArgumentParser, *, help_suffix: str = "") -> None:
    parser.add_argument(
        "--dsn",
        default=os.environ.get(DSN_ENV) or None,
        help=f"PostgreSQL URL of an existing server (default: ${DSN_ENV}, else an embedded "
        f"PostgreSQL in a temp dir){help_suffix}",
    )
