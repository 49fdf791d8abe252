"""Faults, each on purpose: a Graph throttling storm, SQS failing at finalize time, PostgreSQL restarted in
the middle of a sync."""

from __future__ import annotations

import threading
import time

import boto3
import psycopg
import pytest

from invsync_dev.local.graph_standin import Fault


def _run(db, bulk_id):
    return db.execute("SELECT id, status, error_codes, attempts, progress FROM inventory_sync_runs"
                      " WHERE bulk_operation_run_id = %s", (bulk_id,)).fetchone()


def _terminal_count(db, bulk_id):
    return db.execute("SELECT count(*) FROM audit_logs WHERE metadata ->> 'bulk_operation_run_id' = %s AND action"
                      " IN ('inventory.sync.completed', 'inventory.sync.failed', 'inventory.sync.skipped',"
                      " 'inventory.sync.aborted')", (str(bulk_id),)).fetchone()[0]


def test_throttling_storm_is_waited_out_within_the_deadline(env) -> None:
    keys = ["deviceConfiguration", "mobileApp", "deviceCompliancePolicy"]
    for key in keys:  # every request of every type answers 429 for a while
        env.graph.set_fault(key, Fault(status=429, times=3, retry_after="1"))
    started = time.monotonic()
    bulk = env.pipeline.dispatch(env.tenant.id, {"policy_types": keys, "include_foundations": False})
    env.pipeline.run_all()
    elapsed = time.monotonic() - started
    run = _run(env.db, bulk["bulk_operation_run"]["id"])
    assert run[1] == "success", run
    assert run[4]["graph_throttled"] >= 9
    assert elapsed >= 3  # the Retry-After waits really happened
    assert elapsed < 60


def test_throttling_storm_past_the_deadline_ends_cleanly(env) -> None:
    env.graph.set_fault("mobileApp", Fault(status=429, retry_after="30"))
    env.pipeline.remaining_ms = 12_000  # margin 5 s: a 30 s Retry-After cannot be honoured
    bulk = env.pipeline.dispatch(env.tenant.id, {"policy_types": ["deviceConfiguration", "mobileApp"],
                                                 "include_foundations": False})
    started = time.monotonic()
    env.pipeline.run_all()
    run = _run(env.db, bulk["bulk_operation_run"]["id"])
    assert time.monotonic() - started < 12
    assert run[1] == "partial" and "deadline_exceeded" in run[2]


def test_sqs_failure_when_run_sync_sends_finalize_is_retried(env) -> None:
    bulk = env.pipeline.dispatch(env.tenant.id, {"policy_types": ["mobileApp"]})
    bulk_id = bulk["bulk_operation_run"]["id"]
    sqs = boto3.client("sqs")
    sqs.delete_queue(QueueUrl=env.queues["finalize"])
    [result] = env.pipeline.run_pending()
    assert result["batchItemFailures"]  # the message will come back
    assert _run(env.db, bulk_id)[1] == "success"  # the run itself is done
    assert env.db.execute("SELECT status FROM bulk_operation_runs WHERE id = %s", (bulk_id,)).fetchone()[0] == "running"
    sqs.create_queue(QueueName="FinalizeQueue")
    env.pipeline.run_all()
    assert env.db.execute("SELECT status FROM bulk_operation_runs WHERE id = %s", (bulk_id,)).fetchone()[0] == (
        "completed")
    assert _terminal_count(env.db, bulk_id) == 1
    assert env.db.execute("SELECT count(*) FROM inventory_sync_runs").fetchone()[0] == 1


@pytest.mark.slow
def test_postgres_restart_mid_sync_then_redelivery_completes(env, pg, database_url) -> None:
    if pg.server is None:
        pytest.skip("TEST_DATABASE_URL points at an external server: this test restarts the embedded one")
    # the test server runs with synchronous_commit=off for speed; a crash may then lose acknowledged
    # commits, which production (synchronous_commit=on) never does: this database gets the real setting
    dbname = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
    env.db.execute(f'ALTER DATABASE "{dbname}" SET synchronous_commit = on')
    env.pipeline.rewire()  # new sessions pick the setting up
    env.graph.latency_ms = 150
    env.graph.add_items(env.graph_tenant_id, "mobileApp", 4000)  # ~40 slow pages: the restart lands mid-sync
    bulk = env.pipeline.dispatch(env.tenant.id, {"policy_types": ["mobileApp"], "include_foundations": False})
    bulk_id = bulk["bulk_operation_run"]["id"]
    outcome: dict = {}
    worker = threading.Thread(target=lambda: outcome.setdefault("r", env.pipeline.run_pending()))
    worker.start()
    for _ in range(400):
        row = env.db.execute("SELECT items_observed_count FROM inventory_sync_runs WHERE bulk_operation_run_id = %s",
                             (bulk_id,)).fetchone()
        if row and row[0] > 0:
            break
        time.sleep(0.05)
    assert row and row[0] > 0
    env.db.close()
    pg.server.restart()  # immediate stop (a crash) and start on the same port
    worker.join(timeout=120)
    assert outcome["r"][0]["batchItemFailures"], outcome  # the attempt failed: SQS will redeliver
    with psycopg.connect(database_url, autocommit=True) as db:
        assert db.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()[0] == 0
        run = _run(db, bulk_id)
        assert run[1] == "running"
        counted = db.execute("SELECT items_observed_count, items_upserted_count FROM inventory_sync_runs"
                             " WHERE id = %s", (run[0],)).fetchone()
        assert counted is not None
        observed, upserted = counted
        stored = db.execute("SELECT count(*) FROM inventory_items").fetchone()[0]
        assert upserted <= stored, (observed, upserted, stored)
        env.graph.latency_ms = 0
        redelivered = env.pipeline.run_pending()
        assert redelivered == [{"batchItemFailures": []}], redelivered
        env.pipeline.run_all()
        run = _run(db, bulk_id)
        assert run[1] == "success" and run[3] == 2
        assert db.execute("SELECT count(*) FROM inventory_items WHERE deleted_at IS NULL").fetchone()[0] == 4060
        assert _terminal_count(db, bulk_id) == 1
        assert db.execute("SELECT status FROM bulk_operation_runs WHERE id = %s", (bulk_id,)).fetchone()[0] == (
            "completed")
