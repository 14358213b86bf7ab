"""``chatkit-pg migrate``: apply (or roll back) the store's Alembic migrations."""

from __future__ import annotations

import argparse
import asyncio

from chatkit_pg import migrate
from chatkit_pg.dsn import redact
from chatkit_pg.engine import PoolOptions, create_engine
from chatkit_pg.harness.vocabulary import DSN_ENV

from ._common import add_dsn_option

ORDER = 90


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "migrate",
        help="apply the store's migrations to a database (the same code as create_schema)",
    )
    add_dsn_option(parser)
    parser.add_argument("--revision", default="head", help="target revision (default: head)")
    parser.add_argument(
        "--downgrade", action="store_true", help="downgrade to --revision (e.g. base) instead"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.dsn:
        raise SystemExit(f"chatkit-pg migrate: give --dsn URL or set {DSN_ENV}")
    return asyncio.run(_migrate(args.dsn, args.revision, args.downgrade))


async def _migrate(dsn: str, revision: str, down: bool) -> int:
    engine = create_engine(dsn, PoolOptions(pool_size=1, max_overflow=0))
    try:
        before = await migrate.current_revision(engine)
        if down:
            await migrate.downgrade(engine, revision)
        else:
            await migrate.upgrade(engine, revision)
        after = await migrate.current_revision(engine)
    finally:
        await engine.dispose()
    print(f"{redact(dsn)}: {before or 'empty'} -> {after or 'base'}")
    return 0
