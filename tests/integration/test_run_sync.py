"""run_sync: faults per type, deletion rules, deadline, redelivery, resume, duplicates, locks, SIGKILL."""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from inventory_sync.db import bulk_operations, locks
from invsync_dev.local.graph_standin import Fault
from tests.support.lambdas import FakeContext, sqs_event
from tests.support.scenarios import dead_attempt, worker_process

ROOT = Path(__file__).resolve().parents[2]


def _run_row(db, bulk_id):
    return db.execute("SELECT id, status, error_codes, error_context, items_observed_count, items_upserted_count,"
                      " attempts, items_deleted_count FROM inventory_sync_runs WHERE bulk_operation_run_id = %s",
                      (bulk_id,)).fetchone()


def _sync(env, body, **kwargs):
    dispatched = env.pipeline.dispatch(env.tenant.id, body)
    env.pipeline.run_all(**kwargs)
    return dispatched["bulk_operation_run"]["id"]


def test_each_fault_class_recorded_per_type_with_the_others_synced(env, monkeypatch) -> None:
    env.pipeline.rewire(graph_retry_base_seconds=0.01, graph_max_attempts=3)
    faults = {"mobileApp": Fault(status=403), "policySet": Fault(status=404),
              "deviceShellScript": Fault(status=429, retry_after="0"), "deviceHealthScript": Fault(status=500),
              "termsAndConditions": Fault(malformed=True)}
    for key, fault in faults.items():
        env.graph.set_fault(key, fault)
    bulk_id = _sync(env, {"policy_types": ["deviceConfiguration", *faults], "include_foundations": False})
    run = _run_row(env.db, bulk_id)
    assert run[1] == "partial"
    assert run[2] == sorted(["graph_forbidden", "graph_not_found", "graph_throttled", "graph_unavailable",
                             "graph_invalid_response"])
    types = run[3]["types"]
    assert {k: v["code"] for k, v in types.items()} == {
        "mobileApp": "graph_forbidden", "policySet": "graph_not_found", "deviceShellScript": "graph_throttled",
        "deviceHealthScript": "graph_unavailable", "termsAndConditions": "graph_invalid_response"}
    assert all(v["request_id"] for k, v in types.items() if k != "termsAndConditions")
    dc = env.db.execute("SELECT count(*) FROM inventory_items WHERE policy_type = 'deviceConfiguration'").fetchone()
    assert dc[0] == env.graph.tenants[env.graph_tenant_id].counts["deviceConfiguration"]


def test_one_token_request_for_a_whole_sync(env) -> None:
    before = env.graph.count("token_requests")
    bulk_id = _sync(env, {})
    assert _run_row(env.db, bulk_id)[1] == "success"
    assert env.graph.count("token_requests") - before == 1


def test_deletion_rules_and_upsert_counting(env) -> None:
    sel = {"policy_types": ["deviceConfiguration", "mobileApp"], "include_foundations": False}
    first = _run_row(env.db, _sync(env, sel))
    total = first[4]
    assert first[1] == "success" and first[5] == total  # everything new
    unchanged = _run_row(env.db, _sync(env, sel))
    assert unchanged[1] == "success" and unchanged[4] == total and unchanged[5] == 0
    gid = env.graph_tenant_id
    env.graph.remove_item(gid, "deviceConfiguration", 3)
    env.graph.remove_item(gid, "deviceConfiguration", 4)
    env.graph.remove_item(gid, "mobileApp", 5)
    env.graph.modify_item(gid, "deviceConfiguration", 7)
    env.graph.add_items(gid, "deviceConfiguration", 2)
    env.graph.set_fault("mobileApp", Fault(status=403))  # this type's listing fails: it deletes nothing
    third = _run_row(env.db, _sync(env, sel))
    assert third[1] == "partial"
    assert third[5] == 3  # one changed + two new
    assert third[7] == 2
    deleted = env.db.execute("SELECT policy_type, external_id FROM inventory_items WHERE deleted_at IS NOT NULL"
                             " ORDER BY 2").fetchall()
    assert sorted(deleted) == sorted([("deviceConfiguration", env.graph.item_id(gid, "deviceConfiguration", i))
                                      for i in (3, 4)])
    live_apps = env.db.execute("SELECT count(*) FROM inventory_items WHERE policy_type = 'mobileApp'"
                               " AND deleted_at IS NULL").fetchone()[0]
    assert live_apps == env.graph.tenants[gid].counts["mobileApp"]  # the removed app is still there
    env.graph.clear_faults()
    env.graph.add_items(gid, "deviceConfiguration", 0)
    fourth = _run_row(env.db, _sync(env, sel))
    assert fourth[1] == "success" and fourth[7] == 1  # now the app is gone too
    # an item that comes back is live again and counts as upserted
    env.graph.tenants[gid].removed.discard(("deviceConfiguration", 3))
    fifth = _run_row(env.db, _sync(env, sel))
    assert fifth[5] == 1
    assert env.db.execute("SELECT deleted_at FROM inventory_items WHERE external_id = %s",
                          (env.graph.item_id(gid, "deviceConfiguration", 3),)).fetchone()[0] is None


def test_links_replace_per_item(env) -> None:
    sel = {"policy_types": ["deviceConfiguration"], "include_foundations": False}
    _sync(env, sel)
    gid = env.graph_tenant_id
    ext = env.graph.item_id(gid, "deviceConfiguration", 3)
    before = env.db.execute("SELECT count(*) FROM inventory_links l JOIN inventory_items i ON i.id = l.item_id"
                            " WHERE i.external_id = %s", (ext,)).fetchone()[0]
    assert before > 0
    counts = env.db.execute("SELECT count(*) FROM inventory_links").fetchone()[0]
    _sync(env, sel)
    assert env.db.execute("SELECT count(*) FROM inventory_links").fetchone()[0] == counts


def test_deadline_stops_cleanly_and_lists_types_not_done(env) -> None:
    env.graph.latency_ms = 200
    env.graph.add_items(env.graph_tenant_id, "mobileApp", 2000)
    env.pipeline.remaining_ms = 7_500  # margin is 5 s in tests: about 2.5 s of work
    started = time.monotonic()
    bulk_id = _sync(env, {})
    elapsed = time.monotonic() - started
    run = _run_row(env.db, bulk_id)
    assert "deadline_exceeded" in run[2]
    assert run[1] in ("partial", "failed")
    not_done = run[3]["deadline_exceeded"]["policy_types"]
    assert "mobileApp" in not_done and len(not_done) >= 1
    assert elapsed < 7.5
    assert env.db.execute("SELECT count(*) FROM inventory_items WHERE deleted_at IS NOT NULL").fetchone()[0] == 0
    assert env.db.execute("SELECT status FROM bulk_operation_runs WHERE id = %s", (bulk_id,)).fetchone()[0] in (
        "completed_with_errors", "failed")


def test_resume_after_a_dead_attempt_is_the_same_run(env) -> None:
    dispatched = env.pipeline.dispatch(env.tenant.id, {"policy_types": ["deviceConfiguration"]})
    bulk_id = dispatched["bulk_operation_run"]["id"]
    [message] = env.pipeline.receive("run")
    with psycopg.connect(env.queues["database_url"], autocommit=True) as conn:
        run = dead_attempt(conn, env, message["Body"])
        bulk_operations.mark_running(conn, bulk_id, run.id)
    import boto3

    boto3.client("sqs").change_message_visibility(QueueUrl=env.queues["run"], ReceiptHandle=message["ReceiptHandle"],
                                                  VisibilityTimeout=0)
    env.pipeline.run_all()
    row = _run_row(env.db, bulk_id)
    assert row[0] == run.id and row[1] == "success" and row[6] == 2
    assert env.db.execute("SELECT count(*) FROM inventory_sync_runs").fetchone()[0] == 1
    assert env.db.execute("SELECT status FROM bulk_operation_runs WHERE id = %s", (bulk_id,)).fetchone()[0] == (
        "completed")


def test_concurrent_duplicate_deliveries_make_one_run(env) -> None:
    env.graph.latency_ms = 100
    dispatched = env.pipeline.dispatch(env.tenant.id, {"policy_types": ["deviceConfiguration", "mobileApp"]})
    [message] = env.pipeline.receive("run")
    fn = env.pipeline.run_fn

    def deliver(_):
        return fn.lambda_handler(sqs_event([message["Body"]]), FakeContext())

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(deliver, range(3)))
    assert all(r == {"batchItemFailures": []} for r in results)
    bulk_id = dispatched["bulk_operation_run"]["id"]
    assert env.db.execute("SELECT count(*), min(status) FROM inventory_sync_runs").fetchone() == (1, "success")
    finals = env.pipeline.finalize_pending()
    assert 1 <= len(finals) <= 3  # duplicates dropped; a late one may re-send finalize, which is idempotent
    assert env.db.execute("SELECT count(*) FROM audit_logs WHERE action = 'inventory.sync.completed'"
                          " AND metadata ->> 'bulk_operation_run_id' = %s", (str(bulk_id),)).fetchone()[0] == 1


def test_ten_workers_ten_dispatches_one_does_the_work(env, database_url) -> None:
    env.graph.latency_ms = 50
    sel = {"policy_types": ["deviceConfiguration", "mobileApp"]}
    hashes = {env.pipeline.dispatch(env.tenant.id, sel)["selection_hash"] for _ in range(10)}
    assert len(hashes) == 1
    key = locks.sync_key(env.tenant.id, hashes.pop())
    by_id: dict[str, dict] = {}
    while len(by_id) < 10:  # ten distinct messages (SQS may hand one out twice: at-least-once delivery)
        by_id.update((m["MessageId"], m) for m in env.pipeline.receive("run"))
    messages = list(by_id.values())
    samples: list[int] = []
    stop = threading.Event()

    def monitor() -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            while not stop.is_set():
                samples.append(conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND classid = ((%(k)s >> 32) & 4294967295)::oid AND objid = (%(k)s & 4294967295)::oid"
                    " AND objsubid = 1", {"k": key}).fetchone()[0])
                time.sleep(0.005)

    watcher = threading.Thread(target=monitor)
    watcher.start()
    fn = env.pipeline.run_fn
    barrier = threading.Barrier(10)

    def deliver(message):
        barrier.wait()
        return fn.lambda_handler(sqs_event([message["Body"]]), FakeContext())

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(deliver, messages))
    stop.set()
    watcher.join()
    assert all(r == {"batchItemFailures": []} for r in results)
    statuses = [r[0] for r in env.db.execute("SELECT status FROM inventory_sync_runs ORDER BY id").fetchall()]
    assert len(statuses) == 10
    assert statuses.count("success") == 1 and statuses.count("skipped") == 9
    assert max(samples) == 1 and len(samples) > 10
    assert env.db.execute("SELECT count(DISTINCT last_seen_run_id) FROM inventory_items").fetchone()[0] == 1
    env.pipeline.finalize_pending()
    env.pipeline.finalize_pending()
    by_status = env.db.execute("SELECT status, count(*) FROM bulk_operation_runs GROUP BY 1").fetchall()
    assert by_status == [("completed", 10)]


@pytest.mark.slow
def test_sigkill_mid_sync_frees_the_lock_and_redelivery_resumes(server_env, database_url) -> None:
    env = server_env
    env.graph.latency_ms = 150
    env.graph.add_items(env.graph_tenant_id, "mobileApp", 3000)
    dispatched = env.pipeline.dispatch(env.tenant.id, {"policy_types": ["mobileApp"], "include_foundations": False})
    bulk_id = dispatched["bulk_operation_run"]["id"]
    [message] = env.pipeline.receive("run")
    proc = worker_process(message["Body"])
    attempt_key = locks.attempt_key(bulk_id)
    sync_key = locks.sync_key(env.tenant.id, dispatched["selection_hash"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row = env.db.execute("SELECT status, items_observed_count FROM inventory_sync_runs"
                             " WHERE bulk_operation_run_id = %s", (bulk_id,)).fetchone()
        if row and row[1] > 0:
            break
        time.sleep(0.05)
    assert row and row[0] == "running" and row[1] > 0, "the worker never got going"
    with psycopg.connect(database_url, autocommit=True) as probe:
        assert locks.is_held(probe, attempt_key) and locks.is_held(probe, sync_key)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        killed_at = time.monotonic()
        while locks.is_held(probe, sync_key) or locks.is_held(probe, attempt_key):
            assert time.monotonic() - killed_at < 65, "lock not freed within the idle_session_timeout bound"
            time.sleep(0.05)
        freed_after = time.monotonic() - killed_at
    assert freed_after < 5  # the kernel closed the socket: the server ended the session at once
    assert _run_row(env.db, bulk_id)[1] == "running"
    env.graph.latency_ms = 0
    import boto3

    boto3.client("sqs").change_message_visibility(QueueUrl=env.queues["run"], ReceiptHandle=message["ReceiptHandle"],
                                                  VisibilityTimeout=0)
    env.pipeline.run_all()
    row = _run_row(env.db, bulk_id)
    assert row[1] == "success" and row[6] == 2
    assert env.db.execute("SELECT count(*) FROM inventory_sync_runs").fetchone()[0] == 1
    assert env.db.execute("SELECT count(*) FROM inventory_items WHERE policy_type = 'mobileApp'"
                          " AND deleted_at IS NULL").fetchone()[0] == 3060
