"""What changed: per-run change sets and item history, end to end through run_sync and the HTTP API."""

from __future__ import annotations

from typing import Any

from invsync_dev.local.graph_standin import Fault
from tests.support import factories

SELECTION = {"policy_types": ["deviceConfiguration", "settingsCatalogPolicy", "mobileApp"],
             "include_foundations": False}


def _sync(env, body: dict[str, Any] | None = None) -> dict[str, Any]:
    bulk_id = env.pipeline.dispatch(env.tenant.id, SELECTION if body is None else body)["bulk_operation_run"]["id"]
    env.pipeline.run_all()
    run_id, status = env.db.execute("SELECT id, status FROM inventory_sync_runs WHERE bulk_operation_run_id = %s",
                                    (bulk_id,)).fetchone()
    return {"id": run_id, "status": status, "bulk_id": bulk_id}


def _changes(env, run_id: int, query: str = "") -> list[dict[str, Any]]:
    found, cursor = [], None
    while True:
        page_query = query + (f"&cursor={cursor}" if cursor else "")
        status, page = env.pipeline.api("GET", f"/tenants/{env.tenant.id}/inventory-syncs/{run_id}/changes",
                                        query=dict(p.split("=", 1) for p in page_query.split("&") if p) | {
                                            "limit": "200"})
        assert status == 200, page
        found += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def _kinds(changes: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    return {(c["policy_type"], c["external_id"]): c["change"] for c in changes}


def test_each_change_kind_end_to_end(env) -> None:
    gid, graph = env.graph_tenant_id, env.graph
    first = _sync(env)
    added = _changes(env, first["id"])
    observed = env.db.execute("SELECT items_observed_count FROM inventory_sync_runs WHERE id = %s",
                              (first["id"],)).fetchone()[0]
    assert len(added) == observed and {c["change"] for c in added} == {"added"}
    assert all(c["diff"] is None and c["previous_hash"] is None and c["new_hash"] for c in added)

    graph.modify_item(gid, "settingsCatalogPolicy", 2)
    graph.add_items(gid, "deviceConfiguration", 1)
    graph.remove_item(gid, "deviceConfiguration", 5)
    graph.touch(gid)  # noise on every object: none of it may show up
    second = _sync(env)
    new_id = graph.item_id(gid, "deviceConfiguration", graph.tenants[gid].total("deviceConfiguration") - 1)
    policy_id = graph.item_id(gid, "settingsCatalogPolicy", 2)
    gone_id = graph.item_id(gid, "deviceConfiguration", 5)
    changes = _changes(env, second["id"])
    assert _kinds(changes) == {("settingsCatalogPolicy", policy_id): "changed",
                               ("deviceConfiguration", new_id): "added",
                               ("deviceConfiguration", gone_id): "deleted"}
    changed = next(c for c in changes if c["change"] == "changed")
    # the nested settings-catalog change, named by its exact path — and nothing else; the earlier value kept
    path = "/settings/0/settingInstance/groupSettingCollectionValue/0/children/0/choiceSettingValue/value"
    setting = "device_vendor_msft_policy_config_area2_setting0_group_mode"
    assert changed["diff"] == [
        {"op": "test", "path": path, "value": f"{setting}_1"},
        {"op": "replace", "path": path, "value": f"{setting}_2", "setting": setting}]
    assert changed["previous_values_recorded"] is True
    assert changed["entries"] == [{
        "op": "replace", "path": path, "from_path": None, "setting": setting,
        "old": "value", "old_value": "device_vendor_msft_policy_config_area2_setting0_group_mode_1",
        "new": "value", "new_value": "device_vendor_msft_policy_config_area2_setting0_group_mode_2"}]
    assert changed["previous_hash"] != changed["new_hash"] and changed["display_name"] == "settingsCatalogPolicy 00002"
    assert changed["links_diff"] == {"added": [], "removed": []}
    deleted = next(c for c in changes if c["change"] == "deleted")
    assert deleted["new_hash"] is None and deleted["previous_hash"] and deleted["diff"] is None
    # counters on the run and in the terminal audit event
    row = env.db.execute("SELECT items_added_count, items_changed_count, items_deleted_count, items_restored_count,"
                         " items_upserted_count FROM inventory_sync_runs WHERE id = %s", (second["id"],)).fetchone()
    assert row == (1, 1, 1, 0, 2)
    metadata = env.db.execute("SELECT metadata FROM audit_logs WHERE action = 'inventory.sync.completed'"
                              " AND resource_id = %s", (str(second["id"]),)).fetchone()[0]
    assert metadata["changes"] == {"added": 1, "changed": 1, "deleted": 1, "restored": 0}
    status, run = env.pipeline.api("GET", f"/tenants/{env.tenant.id}/inventory-syncs/{second['id']}")
    assert status == 200 and run["changes"] == metadata["changes"]
    # filters
    assert [c["change"] for c in _changes(env, second["id"], "change=deleted")] == ["deleted"]
    assert {c["policy_type"] for c in _changes(env, second["id"], "policy_type=settingsCatalogPolicy")} == {
        "settingsCatalogPolicy"}

    graph.tenants[gid].removed.discard(("deviceConfiguration", 5))
    third = _sync(env)
    restored = _changes(env, third["id"])
    assert _kinds(restored) == {("deviceConfiguration", gone_id): "restored"}
    assert restored[0]["diff"] == []  # it came back as it was

    # the item's history, newest first
    item_id = env.db.execute("SELECT id FROM inventory_items WHERE external_id = %s", (gone_id,)).fetchone()[0]
    status, history = env.pipeline.api("GET", f"/tenants/{env.tenant.id}/inventory-items/{item_id}/history")
    assert status == 200
    assert [(h["change"], h["inventory_sync_run_id"]) for h in history["items"]] == [
        ("restored", third["id"]), ("deleted", second["id"]), ("added", first["id"])]


def test_nothing_changed_records_nothing_and_a_failed_listing_deletes_nothing(env) -> None:
    gid = env.graph_tenant_id
    _sync(env)
    env.graph.touch(gid)
    quiet = _sync(env)
    assert quiet["status"] == "success" and _changes(env, quiet["id"]) == []
    env.graph.remove_item(gid, "mobileApp", 1)
    env.graph.set_fault("mobileApp", Fault(status=403))
    failed = _sync(env)
    assert failed["status"] == "partial" and _changes(env, failed["id"]) == []
    assert env.db.execute("SELECT count(*) FROM inventory_item_changes WHERE change = 'deleted'").fetchone()[0] == 0


def test_an_assignment_change_shows_the_links_added_and_removed(env) -> None:
    gid = env.graph_tenant_id
    _sync(env)
    env.graph.reassign_item(gid, "deviceConfiguration", 3)
    run = _sync(env)
    [change] = _changes(env, run["id"])
    assert change["change"] == "changed" and change["diff"] == []  # the configuration itself did not change
    added = [(link["target_type"], link["target_id"]) for link in change["links_diff"]["added"]]
    removed = [(link["target_type"], link["target_id"]) for link in change["links_diff"]["removed"]]
    assert added and removed and len(added) == len(removed) and set(added).isdisjoint(removed)
    assert all(kind == "group" for kind, _ in added + removed)


def test_both_routes_are_tenant_isolated(env) -> None:
    run = _sync(env)
    item_id = env.db.execute("SELECT id FROM inventory_items WHERE tenant_id = %s LIMIT 1",
                             (env.tenant.id,)).fetchone()[0]
    other = factories.tenant(env.db, "Fabrikam")
    factories.member(env.db, other.id, "mallory", "owner")
    paths = [f"/tenants/{{t}}/inventory-syncs/{run['id']}/changes", f"/tenants/{{t}}/inventory-items/{item_id}/history"]
    for path in paths:
        status, own = env.pipeline.api("GET", path.format(t=env.tenant.id))
        assert status == 200 and own["items"]
        # a member of another tenant: through their own tenant the ids are unknown, through ours not a member
        for tenant_id in (other.id, env.tenant.id):
            status, problem = env.pipeline.api("GET", path.format(t=tenant_id), subject="mallory")
            assert status == 404, problem
    status, _ = env.pipeline.api("GET", f"/tenants/{env.tenant.id}/inventory-syncs/999999/changes")
    assert status == 404


def test_pruning_removes_old_change_rows_only(env) -> None:
    from inventory_sync.db.connection import Database
    from inventory_sync.db.unit_of_work import SqlUnitOfWork
    from inventory_sync.services.finalize import ChangeRetention, FinalizeService

    run = _sync(env)
    total = env.db.execute("SELECT count(*) FROM inventory_item_changes").fetchone()[0]
    old = total // 2
    env.db.execute("UPDATE inventory_item_changes SET recorded_at = now() - interval '400 days'"
                   " WHERE id IN (SELECT id FROM inventory_item_changes ORDER BY id LIMIT %s)", (old,))
    audit_before = env.db.execute("SELECT count(*) FROM audit_logs").fetchone()[0]
    db = Database(env.queues["database_url"], application_name="test-prune")
    try:
        service = FinalizeService(SqlUnitOfWork(db), 60_000, 3_600,
                                  ChangeRetention(days=365, batch=7, max_batches=1_000))
        assert service.sweep().pruned_changes == old
    finally:
        db.close()
    left = env.db.execute("SELECT count(*), min(recorded_at) > now() - interval '1 day' FROM inventory_item_changes"
                          " WHERE inventory_sync_run_id = %s", (run["id"],)).fetchone()
    assert left == (total - old, True)
    assert env.db.execute("SELECT count(*) FROM audit_logs").fetchone()[0] == audit_before
