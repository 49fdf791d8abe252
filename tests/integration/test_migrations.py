"""`invsync db migrate`: ordered, recorded, idempotent and safe when run concurrently."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

from inventory_sync.db import migrate as migrations

EXPECTED_TABLES = {
    "tenants", "users", "tenant_memberships", "inventory_sync_runs", "bulk_operation_runs",
    "audit_logs", "inventory_items", "inventory_links", "schema_migrations",
}


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {r[0] for r in rows}


def _invsync(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "invsync_dev.cli", *args], env=env, text=True,
                          capture_output=True, timeout=120)


def test_migrate_twice_is_a_no_op_the_second_time(fresh_database: str) -> None:
    first = _invsync("db", "migrate", url=fresh_database)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_initial" in first.stdout
    second = _invsync("db", "migrate", url=fresh_database)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout
    assert _tables(fresh_database) >= EXPECTED_TABLES
    with psycopg.connect(fresh_database) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations").fetchall()]
    assert versions == [m.version for m in migrations.available_migrations()]


def test_status_lists_pending_then_applied(fresh_database: str) -> None:
    before = _invsync("db", "status", url=fresh_database)
    assert before.returncode == 0, before.stderr
    assert "pending  0001_initial" in before.stdout
    migrations.migrate(fresh_database)
    after = _invsync("db", "status", url=fresh_database)
    assert "applied  0001" in after.stdout
    assert "0 pending" in after.stdout


def test_two_processes_migrating_at_once_leave_one_schema(fresh_database: str) -> None:
    env = {**os.environ, "DATABASE_URL": fresh_database}
    procs = [
        subprocess.Popen([sys.executable, "-m", "invsync_dev.cli", "db", "migrate"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    assert all(code == 0 for _, _, code in results), results
    # exactly one process applied the migration; the others waited on the lock and found nothing to do
    applied = [out for out, _, _ in results if "applied 0001_initial" in out]
    assert len(applied) == 1, results
    with psycopg.connect(fresh_database) as conn:
        count = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
    assert count == len(migrations.available_migrations())
    assert _tables(fresh_database) >= EXPECTED_TABLES


def test_a_changed_migration_is_refused(fresh_database: str) -> None:
    migrations.migrate(fresh_database)
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = '0001'")
    with pytest.raises(migrations.MigrationError, match="changed after it was applied"):
        migrations.migrate(fresh_database)


def test_migrate_without_database_url_says_what_is_missing(fresh_database: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run([sys.executable, "-m", "invsync_dev.cli", "db", "migrate"], env=env,
                            text=True, capture_output=True, timeout=60)
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr
