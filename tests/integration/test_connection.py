"""Connection handling fit for Lambda: reuse, revalidation after the server drops us, lock sessions."""

from __future__ import annotations

import psycopg
import pytest

from inventory_sync.db.connection import Database


def _terminate(url: str, application_name: str) -> int:
    with psycopg.connect(url, autocommit=True) as admin:
        return admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        ).fetchone()[0]


def test_connection_is_reused_and_replaced_after_the_server_drops_it(database_url: str) -> None:
    database = Database(database_url, statement_timeout_ms=5_000, application_name="invsync-test-reuse")
    try:
        with database.transaction() as conn:
            first_pid = conn.info.backend_pid
        with database.transaction() as conn:
            assert conn.info.backend_pid == first_pid  # reused across "invocations"
        # what a frozen environment finds on thaw: the server closed its session
        assert _terminate(database_url, "invsync-test-reuse") == 1
        with database.transaction() as conn:
            assert conn.execute("SELECT 1").fetchone()[0] == 1
            assert conn.info.backend_pid != first_pid
    finally:
        database.close()


def test_statement_timeout_is_set(database_url: str) -> None:
    database = Database(database_url, statement_timeout_ms=1_234, application_name="invsync-test-timeout")
    try:
        with database.transaction() as conn:
            assert conn.execute("SHOW statement_timeout").fetchone()[0] == "1234ms"
            try:
                conn.execute("SELECT pg_sleep(3)")
            except psycopg.errors.QueryCanceled:
                canceled = True
            else:
                canceled = False
        assert canceled
    finally:
        database.close()


def test_transaction_rolls_back_on_error(database_url: str, db: psycopg.Connection) -> None:
    database = Database(database_url, application_name="invsync-test-rollback")
    try:
        with pytest.raises(RuntimeError), database.transaction() as conn:
            conn.execute("INSERT INTO users (subject) VALUES ('rolled-back')")
            raise RuntimeError("boom")
        assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 0
    finally:
        database.close()


def test_lock_session_is_autocommit_with_idle_timeout_and_releases_on_exit(
    database_url: str, db: psycopg.Connection
) -> None:
    database = Database(database_url, application_name="invsync-test-lock")
    with database.lock_session(idle_session_timeout_ms=45_000) as lock_conn:
        assert lock_conn.autocommit
        assert lock_conn.execute("SHOW idle_session_timeout").fetchone()[0] == "45s"
        assert lock_conn.execute("SELECT pg_try_advisory_lock(42)").fetchone()[0] is True
        assert db.execute("SELECT pg_try_advisory_lock(42)").fetchone()[0] is False
        state = db.execute(
            "SELECT state FROM pg_stat_activity WHERE pid = %s", (lock_conn.info.backend_pid,)
        ).fetchone()[0]
        assert state == "idle"  # not "idle in transaction"
    # closing the session released the lock
    assert db.execute("SELECT pg_try_advisory_lock(42)").fetchone()[0] is True
    database.close()
