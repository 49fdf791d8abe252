"""``invsync local …`` and ``invsync demo``: the whole service on this machine."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal

from inventory_sync.db import migrate as migrations
from invsync_dev.embedded_pg import EmbeddedPostgres


def start_database(data_dir, port: int = 5433) -> tuple[EmbeddedPostgres | None, str]:
    """DATABASE_URL when set, else the embedded server under the project's data folder."""
    if os.environ.get("DATABASE_URL"):
        return None, os.environ["DATABASE_URL"]
    server = EmbeddedPostgres(data_dir / "postgres", port=port).start()
    return server, server.url


def cmd_local_db(args: argparse.Namespace) -> int:
    from invsync_dev.cli import DATA_DIR

    server, url = start_database(DATA_DIR, args.port)
    try:
        applied = migrations.migrate(url)
        print(f"PostgreSQL ready at {url} ({len(applied)} migration(s) applied now)")
        state = migrations.status(url)
        print(f"schema: {len(state.applied)} applied, {len(state.pending)} pending")
        if args.foreground and server:
            print("Ctrl-C stops it")
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
    finally:
        if server and (args.foreground or not args.keep):
            server.stop()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    local = sub.add_parser("local", help="run the service on this machine").add_subparsers(
        dest="local_command", required=True)
    p = local.add_parser("db", help="start the embedded PostgreSQL (data in .data/) and migrate it")
    p.add_argument("--port", type=int, default=5433)
    p.add_argument("--foreground", action="store_true", help="keep running until Ctrl-C")
    p.add_argument("--keep", action="store_true", help="leave the server running on exit")
    p.set_defaults(func=cmd_local_db)
