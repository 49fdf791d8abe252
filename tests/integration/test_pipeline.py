"""End to end through the real handlers: dispatch → run_sync → finalize (the mapping table, docs/architecture.md §4)."""

from __future__ import annotations

import pytest

from invsync_dev.local.graph_standin import Fault


def _bulk(db, bulk_id):
    return db.execute("SELECT status, processed_items, succeeded, failed, skipped, item_ids FROM bulk_operation_runs"
                      " WHERE id = %s", (bulk_id,)).fetchone()


def _terminal_events(db, bulk_id):
    return db.execute(
        "SELECT action, resource_type, resource_id, actor_type, actor_id, actor_email, metadata FROM audit_logs"
        " WHERE metadata ->> 'bulk_operation_run_id' = %s"
        " AND action NOT IN ('inventory.sync.dispatched', 'inventory.sync.cancel_requested')",
        (str(bulk_id),)).fetchall()


def _run(db, bulk_id):
    return db.execute("SELECT id, status, error_codes, error_context, items_observed_count, items_upserted_count,"
                      " errors_count, had_errors, finished_at FROM inventory_sync_runs"
                      " WHERE bulk_operation_run_id = %s", (bulk_id,)).fetchone()


def test_success_row(env) -> None:
    sel = {"policy_types": ["deviceConfiguration", "settingsCatalogPolicy", "policySet"]}
    bulk = env.pipeline.dispatch(env.tenant.id, sel)["bulk_operation_run"]
    env.pipeline.run_all()
    run = _run(env.db, bulk["id"])
    assert run[1] == "success" and run[2] == [] and run[7] is False and run[8] is not None
    counts = env.graph.tenants[env.graph_tenant_id].counts
    expected = counts["deviceConfiguration"] + counts["settingsCatalogPolicy"] + counts["policySet"] + 3 + 5 + 3 + 6
    assert run[4] == expected and run[5] == expected  # foundations count too; built-in scope tag filtered
    assert _bulk(env.db, bulk["id"]) == ("completed", 1, 1, 0, 0, [run[0]])
    [event] = _terminal_events(env.db, bulk["id"])
    assert event[:6] == ("inventory.sync.completed", "inventory_sync_run", str(run[0]), "user", env.user.id,
                         "alice@contoso.com")
    assert event[6]["status"] == "success" and event[6]["bulk_operation_run_id"] == bulk["id"]
    # settings catalog settings paged past 25
    policies = env.db.execute("SELECT payload FROM inventory_items WHERE policy_type = 'settingsCatalogPolicy'"
                              " AND tenant_id = %s", (env.tenant.id,)).fetchall()
    assert any(len(p[0]["settings"]) > 25 for p in policies)
    assert all(len(p[0]["settings"]) == p[0]["settingCount"] for p in policies)
    # policy sets got their assignments through $batch
    sets = env.db.execute("SELECT payload FROM inventory_items WHERE policy_type = 'policySet'").fetchall()
    assert sets and all(p[0]["assignments"] for p in sets)
    links = env.db.execute("SELECT DISTINCT link_type FROM inventory_links").fetchall()
    assert {r[0] for r in links} == {"assignment", "assignment_filter", "scope_tag", "policy_set_item"}


def test_partial_row_one_type_forbidden(env) -> None:
    env.graph.set_fault("mobileApp", Fault(status=403))
    bulk = env.pipeline.dispatch(env.tenant.id, {"policy_types": ["deviceConfiguration", "mobileApp"],
                                                 "include_foundations": False})["bulk_operation_run"]
    env.pipeline.run_all()
    run = _run(env.db, bulk["id"])
    assert run[1] == "partial" and run[2] == ["graph_forbidden"] and run[7] is True and run[6] == 1
    detail = run[3]["types"]["mobileApp"]
    assert detail["status"] == 403 and detail["request_id"] and detail["permission"] == "DeviceManagementApps.Read.All"
    assert run[3]["graph_forbidden"]["policy_types"] == ["mobileApp"]
    assert _bulk(env.db, bulk["id"])[:5] == ("completed_with_errors", 1, 1, 0, 0)
    [event] = _terminal_events(env.db, bulk["id"])
    assert event[0] == "inventory.sync.completed" and event[6]["status"] == "partial"
    assert event[6]["error_codes"] == ["graph_forbidden"]


def test_failed_row_auth(env) -> None:
    env.graph.tenants[env.graph_tenant_id].client_secret = "rotated-elsewhere"
    bulk = env.pipeline.dispatch(env.tenant.id, {"policy_types": ["deviceConfiguration"]})["bulk_operation_run"]
    env.pipeline.run_all()
    run = _run(env.db, bulk["id"])
    assert run[1] == "failed" and run[2] == ["graph_auth_failed"]
    assert "s3cr3t" not in str(run[3]) and "rotated" not in str(run[3])
    assert _bulk(env.db, bulk["id"])[:5] == ("failed", 1, 0, 1, 0)
    [event] = _terminal_events(env.db, bulk["id"])
    assert event[0] == "inventory.sync.failed"


def test_failed_when_credentials_missing_or_tenant_inactive(env) -> None:
    import boto3

    boto3.client("secretsmanager").delete_secret(SecretId=f"inventory-sync/tenants/{env.tenant.id}",
                                                 ForceDeleteWithoutRecovery=True)
    bulk = env.pipeline.dispatch(env.tenant.id, {"policy_types": ["deviceConfiguration"]})["bulk_operation_run"]
    env.pipeline.run_all()
    assert _run(env.db, bulk["id"])[1:3] == ("failed", ["credentials_missing"])
    env.db.execute("UPDATE tenants SET status = 'inactive' WHERE id = %s", (env.tenant.id,))
    bulk = env.pipeline.dispatch(env.tenant.id, {"policy_types": ["mobileApp"]})["bulk_operation_run"]
    env.pipeline.run_all()
    assert _run(env.db, bulk["id"])[1:3] == ("failed", ["tenant_inactive"])
    assert _bulk(env.db, bulk["id"])[0] == "failed"


def test_skipped_row_lock_held_by_another_connection(env, database_url) -> None:
    import psycopg

    from inventory_sync.db import locks

    dispatched = env.pipeline.dispatch(env.tenant.id, {"policy_types": ["deviceConfiguration"]})
    key = locks.sync_key(env.tenant.id, dispatched["selection_hash"])
    with psycopg.connect(database_url, autocommit=True) as holder:
        assert locks.try_lock(holder, key)
        env.pipeline.run_all()
    bulk_id = dispatched["bulk_operation_run"]["id"]
    run = _run(env.db, bulk_id)
    assert run[1] == "skipped" and run[2] == ["lock_held"]
    assert _bulk(env.db, bulk_id)[:5] == ("completed", 1, 0, 0, 1)
    [event] = _terminal_events(env.db, bulk_id)
    assert event[0] == "inventory.sync.skipped"


def test_aborted_row_cancelled_while_pending(env) -> None:
    bulk = env.pipeline.dispatch(env.tenant.id)["bulk_operation_run"]
    status, view = env.pipeline.api("POST", f"/bulk-operations/{bulk['id']}/cancel")
    assert status == 200 and view["status"] == "aborted"
    env.pipeline.run_all()
    assert _run(env.db, bulk["id"]) is None  # no run is created
    assert _bulk(env.db, bulk["id"])[:5] == ("aborted", 1, 0, 0, 1)
    events = _terminal_events(env.db, bulk["id"])
    assert [e[0] for e in events] == ["inventory.sync.aborted"]
    assert events[0][3] == "user"


def test_aborted_row_cancelled_while_running(env) -> None:
    env.graph.latency_ms = 300  # slow pages: time to cancel between them
    bulk = env.pipeline.dispatch(env.tenant.id, {"policy_types": ["mobileApp"], "include_foundations": False})
    bulk_id = bulk["bulk_operation_run"]["id"]
    # request the stop as soon as the run is running
    import threading

    def cancel_when_running():
        import time

        for _ in range(200):
            row = env.db.execute("SELECT status FROM bulk_operation_runs WHERE id = %s", (bulk_id,)).fetchone()
            if row[0] == "running":
                env.pipeline.api("POST", f"/bulk-operations/{bulk_id}/cancel")
                return
            time.sleep(0.02)

    import boto3  # noqa: F401 - moto is shared across threads

    canceller = threading.Thread(target=cancel_when_running)
    canceller.start()
    env.graph.add_items(env.graph_tenant_id, "mobileApp", 1000)  # ~11 slow pages: the stop comes between them
    env.pipeline.run_all()
    canceller.join()
    run = _run(env.db, bulk_id)
    assert run[1] == "failed" and "cancelled" in run[2]
    assert _bulk(env.db, bulk_id)[:5] == ("aborted", 1, 0, 0, 1)
    assert [e[0] for e in _terminal_events(env.db, bulk_id)] == ["inventory.sync.aborted"]
    seen = env.db.execute("SELECT count(*) FROM inventory_items WHERE tenant_id = %s", (env.tenant.id,)).fetchone()[0]
    assert 0 < seen < 1060  # stopped between pages: what was written stays, nothing is marked deleted
    assert env.db.execute("SELECT count(*) FROM inventory_items WHERE deleted_at IS NOT NULL").fetchone()[0] == 0


@pytest.mark.parametrize("redeliveries", [1, 3])
def test_redelivery_after_a_finished_run_only_resends_finalize(env, redeliveries) -> None:
    dispatched = env.pipeline.dispatch(env.tenant.id, {"policy_types": ["deviceConfiguration"]})
    [message] = env.pipeline.receive("run")
    body = message["Body"]
    env.pipeline.run_pending()  # (moto made it visible again? no: deleted after success)
    env.pipeline.finalize_pending()
    for _ in range(redeliveries):
        env.pipeline.send_raw("run", body)
    env.pipeline.run_all()
    bulk_id = dispatched["bulk_operation_run"]["id"]
    assert env.db.execute("SELECT count(*) FROM inventory_sync_runs WHERE bulk_operation_run_id = %s",
                          (bulk_id,)).fetchone()[0] == 1
    assert len(_terminal_events(env.db, bulk_id)) == 1
    assert _bulk(env.db, bulk_id)[:5] == ("completed", 1, 1, 0, 0)


def test_malformed_run_message_is_dropped_and_writes_nothing(env) -> None:
    for body in ("not json", {"version": 2}, {"version": 1, "bulk_operation_run_id": "x"}):
        env.pipeline.send_raw("run", body)
    results = env.pipeline.run_pending()
    assert all(r == {"batchItemFailures": []} for r in results) and len(results) == 3
    assert env.pipeline.receive("run") == []
    assert env.db.execute("SELECT count(*) FROM inventory_sync_runs").fetchone()[0] == 0
    assert env.pipeline.receive("finalize") == []
