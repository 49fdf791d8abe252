"""finalize: exactly once under duplicates and races, the DLQ path, and the orphan sweep."""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

from inventory_sync.db import bulk_operations, locks
from tests.support.lambdas import FakeContext, scheduled_envelope, sqs_event
from tests.support.scenarios import dead_attempt, worker_process

ROOT = Path(__file__).resolve().parents[2]


def _terminal(db, bulk_id):
    return db.execute(
        "SELECT action, actor_type, actor_id, metadata FROM audit_logs WHERE metadata ->> 'bulk_operation_run_id' = %s"
        " AND action IN ('inventory.sync.completed', 'inventory.sync.failed', 'inventory.sync.skipped',"
        " 'inventory.sync.aborted')", (str(bulk_id),)).fetchall()


def _bulk(db, bulk_id):
    return db.execute("SELECT status, processed_items, succeeded, failed, skipped FROM bulk_operation_runs"
                      " WHERE id = %s", (bulk_id,)).fetchone()


def test_scheduled_run_ends_with_a_system_actor(env) -> None:
    result = env.pipeline.dispatch_fn.lambda_handler(scheduled_envelope(), FakeContext())
    assert result["dispatched"] == 1
    env.pipeline.run_all()
    bulk_id = env.db.execute("SELECT id FROM bulk_operation_runs").fetchone()[0]
    [event] = _terminal(env.db, bulk_id)
    assert event[:3] == ("inventory.sync.completed", "system", None)
    assert env.db.execute("SELECT user_id FROM inventory_sync_runs").fetchone()[0] is None


def test_twenty_concurrent_duplicate_finalize_messages_write_once(env) -> None:
    dispatched = env.pipeline.dispatch(env.tenant.id, {"policy_types": ["mobileApp"]})
    bulk_id = dispatched["bulk_operation_run"]["id"]
    env.pipeline.run_pending()
    [message] = env.pipeline.receive("finalize")
    body = message["Body"]
    fn = env.pipeline.finalize_fn
    barrier = threading.Barrier(20)

    def deliver(_):
        barrier.wait()
        return fn.lambda_handler(sqs_event([body]), FakeContext())

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(deliver, range(20)))
    assert all(r == {"batchItemFailures": []} for r in results)
    assert len(_terminal(env.db, bulk_id)) == 1
    assert _bulk(env.db, bulk_id) == ("completed", 1, 1, 0, 0)
    # and a batch of ten copies in one event
    out = fn.lambda_handler(sqs_event([body] * 10), FakeContext())
    assert out == {"batchItemFailures": []}
    assert len(_terminal(env.db, bulk_id)) == 1


def test_finalize_for_a_running_run_is_retried_later(env) -> None:
    dispatched = env.pipeline.dispatch(env.tenant.id, {"policy_types": ["mobileApp"]})
    bulk_id = dispatched["bulk_operation_run"]["id"]
    [message] = env.pipeline.receive("run")
    run = dead_attempt(env.db, env, message["Body"])
    event = sqs_event([{"version": 1, "inventory_sync_run_id": run.id, "bulk_operation_run_id": bulk_id}])
    out = env.pipeline.finalize_fn.lambda_handler(event, FakeContext())
    assert out == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert _terminal(env.db, bulk_id) == [] and _bulk(env.db, bulk_id)[0] == "pending"


def test_bad_finalize_messages_are_dropped_and_write_nothing(env) -> None:
    bodies = ["{", {"version": 1}, {"version": 1, "inventory_sync_run_id": None, "bulk_operation_run_id": 99999},
              {"version": 9, "inventory_sync_run_id": None, "bulk_operation_run_id": 1}, [1, 2]]
    out = env.pipeline.finalize_fn.lambda_handler(sqs_event(bodies), FakeContext())
    assert out == {"batchItemFailures": []}
    assert env.db.execute("SELECT count(*) FROM audit_logs").fetchone()[0] == 0


def _with_broken_database(pipeline, fn):
    """Run `fn` while the functions cannot reach PostgreSQL (a crash on every delivery)."""
    pipeline.rewire(database_url="postgresql://postgres@127.0.0.1:1/none?connect_timeout=1",
                    db_connect_timeout_seconds=1)
    try:
        return fn()
    finally:
        pipeline.rewire()


def test_poison_message_before_any_run_ends_failed_run_crashed(env, monkeypatch) -> None:
    dispatched = env.pipeline.dispatch(env.tenant.id, {"policy_types": ["mobileApp"]})
    bulk_id = dispatched["bulk_operation_run"]["id"]

    def crash_three_times():
        for _ in range(3):
            [result] = env.pipeline.run_pending()
            assert result["batchItemFailures"]

    _with_broken_database(env.pipeline, crash_three_times)
    env.pipeline.run_pending()  # the fourth receive moves it to the DLQ (maxReceiveCount 3)
    dead = env.pipeline.dlq_pending()
    assert len(dead) == 1 and dead[0] == {"batchItemFailures": []}
    assert _bulk(env.db, bulk_id) == ("failed", 1, 0, 1, 0)
    [event] = _terminal(env.db, bulk_id)
    assert event[0] == "inventory.sync.failed" and event[3]["error_codes"] == ["run_crashed"]
    assert event[1] == "user"


def test_poison_message_with_a_started_run_fails_the_run(env, monkeypatch) -> None:
    dispatched = env.pipeline.dispatch(env.tenant.id, {"policy_types": ["mobileApp"]})
    bulk_id = dispatched["bulk_operation_run"]["id"]
    [message] = env.pipeline.receive("run")
    run = dead_attempt(env.db, env, message["Body"])
    bulk_operations.mark_running(env.db, bulk_id, run.id)
    env.pipeline.send_raw("dlq", message["Body"])
    env.pipeline.dlq_pending()
    row = env.db.execute("SELECT status, error_codes FROM inventory_sync_runs WHERE id = %s", (run.id,)).fetchone()
    assert row == ("failed", ["run_crashed"])
    assert _bulk(env.db, bulk_id) == ("failed", 1, 0, 1, 0)
    assert len(_terminal(env.db, bulk_id)) == 1
    env.pipeline.send_raw("dlq", message["Body"])  # redelivered DLQ message: nothing new
    env.pipeline.dlq_pending()
    assert len(_terminal(env.db, bulk_id)) == 1


def test_sweep_fails_a_killed_worker_run_and_leaves_a_live_one(server_env, database_url) -> None:
    env = server_env
    env.graph.latency_ms = 150
    env.graph.add_items(env.graph_tenant_id, "mobileApp", 3000)
    doomed = env.pipeline.dispatch(env.tenant.id, {"policy_types": ["mobileApp"], "include_foundations": False})
    doomed_id = doomed["bulk_operation_run"]["id"]
    [message] = env.pipeline.receive("run")
    proc = worker_process(message["Body"])
    for _ in range(600):
        row = env.db.execute("SELECT items_observed_count FROM inventory_sync_runs WHERE bulk_operation_run_id = %s",
                             (doomed_id,)).fetchone()
        if row and row[0] > 0:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    # a live run of another selection, in this process
    live = env.pipeline.dispatch(env.tenant.id, {"policy_types": ["mobileApp"], "include_foundations": True})
    live_id = live["bulk_operation_run"]["id"]
    worker = threading.Thread(target=env.pipeline.run_pending)
    worker.start()
    for _ in range(600):
        row = env.db.execute("SELECT status FROM inventory_sync_runs WHERE bulk_operation_run_id = %s",
                             (live_id,)).fetchone()
        if row:
            break
        time.sleep(0.05)
    with psycopg.connect(database_url, autocommit=True) as probe:
        while locks.is_held(probe, locks.attempt_key(doomed_id)):
            time.sleep(0.05)
    fn = env.pipeline.finalize_fn
    with ThreadPoolExecutor(4) as pool:  # sweeps racing each other
        reports = list(pool.map(lambda _: fn.lambda_handler({"kind": "sweep"}, FakeContext()), range(4)))
    orphaned = [r for report in reports for r in report["orphaned_runs"]]
    doomed_run = env.db.execute("SELECT id, status, error_codes FROM inventory_sync_runs"
                                " WHERE bulk_operation_run_id = %s", (doomed_id,)).fetchone()
    assert orphaned == [doomed_run[0]]
    assert doomed_run[1:] == ("failed", ["run_orphaned"])
    assert _bulk(env.db, doomed_id) == ("failed", 1, 0, 1, 0)
    assert len(_terminal(env.db, doomed_id)) == 1
    live_status = env.db.execute("SELECT status FROM inventory_sync_runs WHERE bulk_operation_run_id = %s",
                                 (live_id,)).fetchone()[0]
    assert live_status == "running"  # untouched while it runs
    env.graph.latency_ms = 0
    worker.join(timeout=120)
    env.pipeline.finalize_pending()
    env.pipeline.finalize_pending()
    assert env.db.execute("SELECT status FROM inventory_sync_runs WHERE bulk_operation_run_id = %s",
                          (live_id,)).fetchone()[0] == "success"
    assert len(_terminal(env.db, doomed_id)) == 1 and len(_terminal(env.db, live_id)) == 1


def test_sweep_fails_stale_pending_operations(env) -> None:
    old = env.pipeline.dispatch(env.tenant.id, {"policy_types": ["mobileApp"]})["bulk_operation_run"]["id"]
    fresh = env.pipeline.dispatch(env.tenant.id, {"policy_types": ["deviceConfiguration"]})["bulk_operation_run"]["id"]
    env.db.execute("UPDATE bulk_operation_runs SET created_at = now() - interval '2 hours' WHERE id = %s", (old,))
    report = env.pipeline.finalize_fn.lambda_handler(scheduled_envelope(), FakeContext())
    assert report["stale_pending"] == [old]
    assert _bulk(env.db, old)[0] == "failed" and _bulk(env.db, fresh)[0] == "pending"
    [event] = _terminal(env.db, old)
    assert event[0] == "inventory.sync.failed" and event[3]["error_codes"] == ["run_orphaned"]
    assert env.pipeline.finalize_fn.lambda_handler({"kind": "what"}, FakeContext())["status"] == "rejected"
