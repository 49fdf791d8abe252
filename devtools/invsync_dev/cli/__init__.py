"""``invsync``: the operator and developer command line (dev tooling, not shipped in the layer)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence

from inventory_sync.db import migrate as migrations


def _database_url(args: argparse.Namespace) -> str:
    if getattr(args, "database_url", None):
        return args.database_url
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    raise SystemExit("invsync: set DATABASE_URL (or pass --database-url)")


def cmd_db_migrate(args: argparse.Namespace) -> int:
    applied = migrations.migrate(_database_url(args))
    if applied:
        for name in applied:
            print(f"applied {name}")
    else:
        print("database is up to date")
    return 0


def cmd_db_status(args: argparse.Namespace) -> int:
    state = migrations.status(_database_url(args))
    for version in state.applied:
        print(f"applied  {version}")
    for name in state.pending:
        print(f"pending  {name}")
    print(f"{len(state.applied)} applied, {len(state.pending)} pending")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="invsync", description="Inventory Sync operator and developer CLI")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    for name, func, text in (("migrate", cmd_db_migrate, "apply pending migrations"),
                             ("status", cmd_db_status, "show applied and pending migrations")):
        p = db.add_parser(name, help=text)
        p.add_argument("--database-url", help="defaults to $DATABASE_URL")
        p.set_defaults(func=func)

    from invsync_dev.cli import aws as cli_aws
    from invsync_dev.cli import local as cli_local
    from invsync_dev.cli import tenants as cli_tenants

    cli_local.register(sub)
    cli_tenants.register(sub)
    cli_aws.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)

