"""Read routes, cancellation, the registry and the OpenAPI document, through the real handler."""

from __future__ import annotations

import json

import psycopg
import pytest
from openapi_spec_validator import validate

from tests.support import factories
from tests.support.lambdas import FakeContext, claims_for, http_event, load_function, response_json
from tests.support.queues import drain


@pytest.fixture
def dispatch():
    return load_function("dispatch")


@pytest.fixture
def setup(db: psycopg.Connection, stack: dict[str, str]):
    tenant = factories.tenant(db)
    alice = factories.member(db, tenant.id, "alice", "owner")
    factories.member(db, tenant.id, "rita", "reader")
    return tenant, alice


def call(dispatch, method: str, path: str, subject: str = "alice", **kwargs):
    response = dispatch.lambda_handler(http_event(method, path, claims=claims_for(subject), **kwargs), FakeContext())
    return response["statusCode"], response_json(response)


def test_runs_list_and_one_run_with_cursor_pagination(dispatch, db, setup) -> None:
    tenant, alice = setup
    ops = [call(dispatch, "POST", f"/tenants/{tenant.id}/inventory-syncs", body={})[1] for _ in range(3)]
    for op in ops:
        bulk_id = op["bulk_operation_run"]["id"]
        db.execute("INSERT INTO inventory_sync_runs (tenant_id, user_id, bulk_operation_run_id, selection_hash,"
                   " selection_payload) VALUES (%s, %s, %s, %s, %s)",
                   (tenant.id, alice.id, bulk_id, op["selection_hash"], json.dumps(op["selection"])))
    db.execute("UPDATE inventory_sync_runs SET status = 'success', finished_at = now() WHERE id = "
               "(SELECT min(id) FROM inventory_sync_runs)")
    status, page = call(dispatch, "GET", f"/tenants/{tenant.id}/inventory-syncs", query={"limit": "2"})
    assert status == 200 and len(page["items"]) == 2 and page["next_cursor"]
    status, rest = call(dispatch, "GET", f"/tenants/{tenant.id}/inventory-syncs",
                        query={"limit": "2", "cursor": page["next_cursor"]})
    assert status == 200 and len(rest["items"]) == 1 and rest["next_cursor"] is None
    ids = [r["id"] for r in page["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True)
    status, only = call(dispatch, "GET", f"/tenants/{tenant.id}/inventory-syncs", query={"status": "success"})
    assert [r["status"] for r in only["items"]] == ["success"]
    status, run = call(dispatch, "GET", f"/tenants/{tenant.id}/inventory-syncs/{ids[0]}", subject="rita")
    assert status == 200 and run["id"] == ids[0] and run["status"] == "running"
    assert call(dispatch, "GET", f"/tenants/{tenant.id}/inventory-syncs/999999")[0] == 404
    assert call(dispatch, "GET", f"/tenants/{tenant.id}/inventory-syncs", query={"status": "bogus"})[0] == 422
    assert call(dispatch, "GET", f"/tenants/{tenant.id}/inventory-syncs", query={"cursor": "%%%"})[0] == 422


def test_bulk_operations_active_for_the_widget_and_cancel(dispatch, db, setup) -> None:
    tenant, _ = setup
    first = call(dispatch, "POST", f"/tenants/{tenant.id}/inventory-syncs", body={})[1]["bulk_operation_run"]
    second = call(dispatch, "POST", f"/tenants/{tenant.id}/inventory-syncs", body={})[1]["bulk_operation_run"]
    status, active = call(dispatch, "GET", "/bulk-operations", query={"status": "active"})
    assert status == 200 and [o["id"] for o in active["items"]] == [second["id"], first["id"]]
    # readers may look but not cancel
    assert call(dispatch, "POST", f"/bulk-operations/{first['id']}/cancel", subject="rita")[0] == 403
    status, cancelled = call(dispatch, "POST", f"/bulk-operations/{first['id']}/cancel")
    assert status == 200 and cancelled["status"] == "aborted"
    assert (cancelled["processed_items"], cancelled["succeeded"], cancelled["failed"], cancelled["skipped"]) == (
        1, 0, 0, 1)
    assert call(dispatch, "POST", f"/bulk-operations/{first['id']}/cancel")[0] == 409
    events = db.execute("SELECT action, actor_type FROM audit_logs WHERE resource_id = %s ORDER BY id",
                        (str(first["id"]),)).fetchall()
    assert events == [("inventory.sync.dispatched", "user"), ("inventory.sync.aborted", "user")]
    # a running one is asked to stop
    db.execute("UPDATE bulk_operation_runs SET status = 'running' WHERE id = %s", (second["id"],))
    status, view = call(dispatch, "POST", f"/bulk-operations/{second['id']}/cancel")
    assert status == 202 and view["status"] == "running"
    assert db.execute("SELECT cancel_requested_at IS NOT NULL FROM bulk_operation_runs WHERE id = %s",
                      (second["id"],)).fetchone()[0]
    status, active = call(dispatch, "GET", "/bulk-operations", query={"status": "active"})
    assert [o["id"] for o in active["items"]] == [second["id"]]
    status, one = call(dispatch, "GET", f"/bulk-operations/{second['id']}")
    assert status == 200 and one["run"] is None
    # someone else's operation is invisible
    outsider_tenant = factories.tenant(db, "Other")
    factories.member(db, outsider_tenant.id, "eve", "owner")
    assert call(dispatch, "GET", f"/bulk-operations/{second['id']}", subject="eve")[0] == 404
    assert call(dispatch, "POST", f"/bulk-operations/{second['id']}/cancel", subject="eve")[0] == 404


def test_items_filtered_and_deleted_hidden_unless_asked(dispatch, db, setup) -> None:
    tenant, _ = setup
    for ext, ptype, deleted in (("a", "deviceConfiguration", False), ("b", "deviceConfiguration", True),
                                ("c", "mobileApp", False)):
        db.execute("INSERT INTO inventory_items (tenant_id, policy_type, external_id, display_name, payload,"
                   " content_hash, deleted_at) VALUES (%s, %s, %s, %s, '{}', repeat('0', 64),"
                   " CASE WHEN %s THEN now() END)", (tenant.id, ptype, ext, ext.upper(), deleted))
    status, page = call(dispatch, "GET", f"/tenants/{tenant.id}/inventory-items", subject="rita")
    assert status == 200 and sorted(i["external_id"] for i in page["items"]) == ["a", "c"]
    _, page = call(dispatch, "GET", f"/tenants/{tenant.id}/inventory-items",
                   query={"policy_type": "deviceConfiguration", "include_deleted": "true"})
    assert sorted(i["external_id"] for i in page["items"]) == ["a", "b"]



def test_items_searched_by_name_or_category_one_item_and_counts_per_type(dispatch, db, setup) -> None:
    tenant, _ = setup
    ids = {}
    for ext, ptype, category, name, deleted in (
            ("a", "deviceConfiguration", "configuration", "Baseline 100%_Windows", False),
            ("b", "deviceConfiguration", "configuration", "Baseline 100 Windows", True),
            ("c", "mobileApp", "apps", "Company Portal", False),
            ("d", "deviceCompliancePolicy", "compliance", "baseline iOS", False)):
        ids[ext] = db.execute(
            "INSERT INTO inventory_items (tenant_id, policy_type, external_id, display_name, category, payload,"
            " content_hash, deleted_at) VALUES (%s, %s, %s, %s, %s, '{\"k\": 1}', repeat('0', 64),"
            " CASE WHEN %s THEN now() END) RETURNING id", (tenant.id, ptype, ext, name, category, deleted)
        ).fetchone()[0]
    db.execute("INSERT INTO inventory_links (tenant_id, item_id, link_type, target_type, target_id, properties)"
               " VALUES (%s, %s, 'assignment', 'group', 'g-1', '{}')", (tenant.id, ids["a"]))

    def found(**query: str) -> list[str]:
        status, page = call(dispatch, "GET", f"/tenants/{tenant.id}/inventory-items", subject="rita", query=query)
        assert status == 200, page
        return sorted(i["external_id"] for i in page["items"])

    assert found(q="baseline") == ["a", "d"]  # case-insensitive, live items only
    assert found(q="100%_") == ["a"]  # % and _ are literal, not patterns
    assert found(q="baseline", include_deleted="true") == ["a", "b", "d"]
    assert found(category="configuration") == ["a"]
    assert found(q="zzz") == []
    status, item = call(dispatch, "GET", f"/tenants/{tenant.id}/inventory-items/{ids['a']}", subject="rita")
    assert status == 200 and item["payload"] == {"k": 1}
    assert item["links"] == [{"link_type": "assignment", "target_type": "group", "target_id": "g-1",
                              "target_name": None, "properties": {}}]
    status, problem = call(dispatch, "GET", f"/tenants/{tenant.id}/inventory-items/{ids['a'] + 1000}")
    assert status == 404 and problem["status"] == 404
    status, summary = call(dispatch, "GET", f"/tenants/{tenant.id}/inventory-summary", subject="rita")
    assert status == 200 and summary["policy_types"] == [
        {"policy_type": "deviceCompliancePolicy", "display_name": "Compliance policies", "category": "compliance",
         "items": 1, "deleted": 0},
        {"policy_type": "deviceConfiguration", "display_name": "Configuration profiles (templates)",
         "category": "configuration", "items": 1, "deleted": 1},
        {"policy_type": "mobileApp", "display_name": "Apps", "category": "apps", "items": 1, "deleted": 0}]
    status, _ = call(dispatch, "GET", f"/tenants/{tenant.id}/inventory-summary", subject="stranger")
    assert status == 404

def test_audit_logs_filtered(dispatch, setup) -> None:
    tenant, _ = setup
    bulk = call(dispatch, "POST", f"/tenants/{tenant.id}/inventory-syncs", body={})[1]["bulk_operation_run"]
    call(dispatch, "POST", f"/bulk-operations/{bulk['id']}/cancel")
    status, page = call(dispatch, "GET", f"/tenants/{tenant.id}/audit-logs",
                        query={"action": "inventory.sync.aborted"}, subject="rita")
    assert status == 200 and [e["action"] for e in page["items"]] == ["inventory.sync.aborted"]
    _, page = call(dispatch, "GET", f"/tenants/{tenant.id}/audit-logs", query={"resource_type": "bulk_operation_run"})
    assert len(page["items"]) == 2


def test_policy_types_lists_the_registry_with_foundations(dispatch, setup) -> None:
    status, body = call(dispatch, "GET", "/policy-types")
    assert status == 200
    keys = {t["key"]: t for t in body["policy_types"]}
    assert len(keys) == 35
    assert keys["roleScopeTag"]["foundation"] is True and keys["deviceConfiguration"]["foundation"] is False
    assert keys["policySet"]["assignments"] == "batch"
    assert "Scripts" in body["categories"]


def test_openapi_document_is_valid_and_describes_every_route(dispatch, setup) -> None:
    status, document = call(dispatch, "GET", "/openapi.json")
    assert status == 200
    assert document["openapi"].startswith("3.1")
    validate(document)
    paths = document["paths"]
    for path, method in [("/tenants/{tenant_id}/inventory-syncs", "post"),
                         ("/tenants/{tenant_id}/inventory-syncs", "get"),
                         ("/tenants/{tenant_id}/inventory-syncs/{run_id}", "get"),
                         ("/bulk-operations", "get"), ("/bulk-operations/{bulk_id}", "get"),
                         ("/bulk-operations/{bulk_id}/cancel", "post"),
                         ("/tenants/{tenant_id}/inventory-items", "get"),
                         ("/tenants/{tenant_id}/inventory-items/{item_id}", "get"),
                         ("/tenants/{tenant_id}/inventory-summary", "get"),
                         ("/tenants/{tenant_id}/audit-logs", "get"), ("/policy-types", "get")]:
        assert method in paths[path], (path, method)
    no_token = load_function("dispatch").lambda_handler(http_event("GET", "/openapi.json"), FakeContext())
    assert no_token["statusCode"] == 401


def test_unknown_route_is_a_problem(dispatch, setup) -> None:
    status, body = call(dispatch, "GET", "/nope")
    assert status == 404 and body["title"] == "Not Found" and body["status"] == 404


def test_scheduled_dispatch_fans_out_to_enabled_active_tenants(dispatch, db, stack) -> None:
    from tests.support.lambdas import scheduled_envelope

    enabled = [factories.tenant(db, f"T{i}") for i in range(23)]
    factories.tenant(db, "Off", scheduled=False)
    factories.tenant(db, "Gone", status="inactive")
    result = dispatch.lambda_handler(scheduled_envelope(), FakeContext())
    assert result["status"] == "ok" and result["dispatched"] == 23 and result["skipped"] == 0
    messages = drain(stack["run"])
    assert sorted(m["tenant_id"] for m in messages) == [t.id for t in enabled]
    assert all(m["trigger"] == "schedule" and m["user_id"] is None for m in messages)
    rows = db.execute("SELECT b.user_id, b.trigger, a.actor_type, a.action FROM bulk_operation_runs b"
                      " JOIN audit_logs a ON a.id = b.audit_log_id").fetchall()
    assert len(rows) == 23 and set(rows) == {(None, "schedule", "system", "inventory.sync.dispatched")}
    # same full selection as an empty API body
    factories.member(db, enabled[0].id, "alice", "operator")
    api = call(dispatch, "POST", f"/tenants/{enabled[0].id}/inventory-syncs", body={})[1]
    assert {m["selection_hash"] for m in messages} == {api["selection_hash"]}
    # a second schedule while those are pending dispatches nothing new
    again = dispatch.lambda_handler({"kind": "scheduled_inventory_sync", "selection": {}}, FakeContext())
    assert again["dispatched"] == 0 and again["skipped"] == 23
    assert len(drain(stack["run"])) == 1  # only the API dispatch above


def test_scheduled_selection_and_bad_events(dispatch, db, stack) -> None:
    factories.tenant(db)
    result = dispatch.lambda_handler({"kind": "scheduled_inventory_sync",
                                      "selection": {"categories": ["Apps"]}}, FakeContext())
    assert result["dispatched"] == 1
    [message] = drain(stack["run"])
    assert message["selection"]["policy_types"] == ["mobileApp", "mobileAppConfiguration"]
    for bad in ({"kind": "mystery"}, {"hello": "world"},
                {"kind": "scheduled_inventory_sync", "selection": {"policy_types": ["nope"]}}):
        before = db.execute("SELECT count(*) FROM bulk_operation_runs").fetchone()[0]
        assert dispatch.lambda_handler(bad, FakeContext())["status"] == "rejected"
        assert db.execute("SELECT count(*) FROM bulk_operation_runs").fetchone()[0] == before
    assert drain(stack["run"]) == []


def test_scheduled_enqueue_failure_leaves_no_pending_operation(dispatch, db, stack) -> None:
    import boto3

    from tests.support.lambdas import scheduled_envelope

    for i in range(3):
        factories.tenant(db, f"T{i}")
    boto3.client("sqs").delete_queue(QueueUrl=stack["run"])
    result = dispatch.lambda_handler(scheduled_envelope(), FakeContext())
    assert result["dispatched"] == 0 and result["failed"] == 3
    assert db.execute("SELECT count(*) FROM bulk_operation_runs").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM audit_logs").fetchone()[0] == 0


def test_concurrent_schedulers_dispatch_each_tenant_once(db, stack, database_url) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from inventory_sync.adapters.queues import SqsQueue
    from inventory_sync.db.connection import Database
    from inventory_sync.db.unit_of_work import SqlUnitOfWork
    from inventory_sync.domain.registry import filter_runtime
    from inventory_sync.domain.selection import full_inventory
    from inventory_sync.services.dispatch import DispatchService

    for i in range(40):
        factories.tenant(db, f"T{i}")
    registry = filter_runtime()
    resolved = full_inventory(registry)

    def schedule(n: int):
        database = Database(database_url, application_name=f"sched-{n}")
        try:
            service = DispatchService(SqlUnitOfWork(database), SqsQueue(stack["run"]), registry)
            return service.dispatch_scheduled(resolved, f"c{n}")
        finally:
            database.close()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(schedule, range(4)))
    assert sum(len(r.dispatched) for r in results) == 40
    assert db.execute("SELECT count(*), count(DISTINCT tenant_id) FROM bulk_operation_runs").fetchone() == (40, 40)
    assert len(drain(stack["run"], 200)) == 40
