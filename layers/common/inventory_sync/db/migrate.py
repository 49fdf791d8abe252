"""Versioned SQL migrations, applied in order and recorded in ``schema_migrations``.

Two processes migrating at once are serialised by a session advisory lock, so the
second one waits and then finds nothing left to do.
"""

import hashlib
import re
import time
from collections.abc import Callable
from importlib import resources
from typing import NamedTuple

import psycopg
from psycopg.conninfo import make_conninfo

# Arbitrary constant key of the migration lock; distinct from any sync lock key space use.
MIGRATION_LOCK_KEY = 7_355_608_000_000_001
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class Migration(NamedTuple):
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationStatus(NamedTuple):
    applied: list[str]
    pending: list[str]


class MigrationError(RuntimeError):
    """A migration on disk no longer matches what was applied, or failed to apply."""


def available_migrations() -> list[Migration]:
    folder = resources.files("inventory_sync.db") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(match.group(1), match.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     text PRIMARY KEY,
    name        text NOT NULL,
    checksum    char(64) NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


def _applied(conn: psycopg.Connection) -> dict[str, str]:
    rows = conn.execute("SELECT version, checksum FROM schema_migrations ORDER BY version").fetchall()
    return {version: checksum for version, checksum in rows}


def status(conninfo: str) -> MigrationStatus:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
        exists = bool(row and row[0])
        applied = _applied(conn) if exists else {}
    return MigrationStatus(
        applied=sorted(applied),
        pending=[m.version + "_" + m.name for m in available_migrations() if m.version not in applied],
    )


def migrate(conninfo: str, timeout_ms: int | None = None, *,
            before_commit: Callable[[psycopg.Connection, list[str]], None] | None = None) -> list[str]:
    """Apply pending migrations, all in one transaction (a failure leaves the schema as it was); returns the
    ones this call applied (empty when up to date).

    With `timeout_ms`, the whole migration is bounded by it: the wait for the lock and every statement get what
    is left of it, and a migration that would commit after it rolls back instead (a deploy must answer before
    its function's own timeout, and never answer FAILED for a schema that then changes). `before_commit`, when
    given, runs inside the transaction after the last statement, with the names about to be applied; raising
    rolls everything back (the migrate function decides its answer there, once)."""
    deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms else None

    def left_ms() -> int:
        if deadline is None:
            return 0
        left = int((deadline - time.monotonic()) * 1000)
        if left <= 0:
            raise MigrationError(f"the migration did not finish within {timeout_ms} ms; nothing was applied")
        return left

    if timeout_ms:
        conninfo = make_conninfo(conninfo, options=f"-c lock_timeout={timeout_ms} -c statement_timeout={timeout_ms}")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if deadline is not None:
            conn.execute(f"SET lock_timeout = {left_ms()}")
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            conn.execute(_CREATE_TABLE)
            applied = _applied(conn)
            pending = []
            for migration in available_migrations():
                recorded = applied.get(migration.version)
                if recorded is None:
                    pending.append(migration)
                elif recorded != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version}_{migration.name} changed after it was applied")
            names = [f"{m.version}_{m.name}" for m in pending]
            with conn.transaction():
                for migration in pending:
                    if deadline is not None:  # what is left of the whole, for this migration's statements
                        budget = left_ms()
                        conn.execute(f"SET LOCAL statement_timeout = {budget}")
                        conn.execute(f"SET LOCAL lock_timeout = {budget}")
                    try:
                        conn.execute(migration.sql)
                    except psycopg.Error as exc:
                        raise MigrationError(
                            f"migration {migration.version}_{migration.name} failed: {exc}") from exc
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                left_ms()  # past the bound: roll back rather than commit late
                if before_commit is not None:
                    before_commit(conn, names)
        finally:
            if not conn.closed:
                conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return names
