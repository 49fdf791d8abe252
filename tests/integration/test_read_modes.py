"""Incremental reads (read modes): every run lists every collection in full; an incremental run reads below
only the objects whose change markers moved, and keeps the others as stored. Through the real handlers,
against the stand-in (whose markers move when, and only when, configuration does)."""

from __future__ import annotations

import json
from typing import Any

from inventory_sync.domain.registry import BY_KEY
from tests.support.lambdas import FakeContext, claims_for, http_event

TYPES = ["settingsCatalogPolicy", "groupPolicyConfiguration", "deviceCompliancePolicy", "deviceManagementScript",
         "deviceConfiguration"]
SELECTION = {"policy_types": TYPES, "include_foundations": False}
COLLECTIONS = {BY_KEY[key].collection for key in TYPES}


def _sync(env, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    bulk_id = env.pipeline.dispatch(env.tenant.id, {**SELECTION, **(extra or {})})["bulk_operation_run"]["id"]
    env.pipeline.run_all()
    row = env.db.execute("SELECT id, status, read_mode, items_observed_count, items_upserted_count, progress,"
                         " selection_hash FROM inventory_sync_runs WHERE bulk_operation_run_id = %s",
                         (bulk_id,)).fetchone()
    return dict(zip(("id", "status", "read_mode", "observed", "upserted", "progress", "selection_hash"), row,
                    strict=True))


def _state(db) -> dict[tuple[str, str], tuple[str, str | None, str]]:
    rows = db.execute("SELECT policy_type, external_id, content_hash, assignments_hash, payload::text"
                      " FROM inventory_items WHERE deleted_at IS NULL").fetchall()
    return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}


def _links(db) -> set[tuple]:
    return set(db.execute("SELECT item_id, link_type, target_type, target_id, link_key, properties::text"
                          " FROM inventory_links").fetchall())


def _below(trace: list[str]) -> list[str]:
    """The traced Graph paths that are not a collection's listing: requests below objects."""
    return [path for path in trace if path.removeprefix("/beta") not in COLLECTIONS]


def _changed(env, run_id: int) -> set[tuple[str, str, str]]:
    rows = env.db.execute("SELECT policy_type, external_id, change FROM inventory_item_changes"
                          " WHERE inventory_sync_run_id = %s", (run_id,)).fetchall()
    return set(rows)


def test_unchanged_markers_read_nothing_below_and_upsert_nothing(env) -> None:
    first = _sync(env)
    assert first["status"] == "success" and first["read_mode"] == "full"
    state, links = _state(env.db), _links(env.db)
    env.graph.trace = []
    second = _sync(env)
    assert second["status"] == "success" and second["read_mode"] == "incremental"
    assert env.graph.trace and _below(env.graph.trace) == []  # every collection listed, nothing below read
    assert second["upserted"] == 0 and second["observed"] == first["observed"]
    # the objects kept as stored keep their configuration, payload, hashes and links
    assert _state(env.db) == state and _links(env.db) == links
    skippable = sum(1 for key in state if BY_KEY[key[0]].change_markers)
    assert second["progress"]["read_mode"] == "incremental"
    assert second["progress"]["items_unchanged"] == skippable > 0
    # and every one of them was seen by this run (nothing looks deleted to the next complete listing)
    assert env.db.execute("SELECT count(*) FROM inventory_items WHERE deleted_at IS NULL"
                          " AND last_seen_run_id IS DISTINCT FROM %s", (second["id"],)).fetchone()[0] == 0


def test_a_moved_marker_rereads_exactly_that_object(env) -> None:
    gid = env.graph_tenant_id
    _sync(env)
    env.graph.modify_item(gid, "settingsCatalogPolicy", 2)  # a nested setting below it, and its timestamp
    env.graph.modify_below(gid, "deviceCompliancePolicy", 1)  # its grace period, and its timestamp
    env.graph.trace = []
    run = _sync(env)
    assert run["read_mode"] == "incremental" and run["upserted"] == 2
    policy_id = env.graph.item_id(gid, "settingsCatalogPolicy", 2)
    compliance_id = env.graph.item_id(gid, "deviceCompliancePolicy", 1)
    below = _below(env.graph.trace)
    assert sorted(below) == sorted([
        f"/beta/deviceManagement/configurationPolicies/{policy_id}/settings",
        f"/beta/deviceManagement/deviceCompliancePolicies/{compliance_id}/scheduledActionsForRule"])
    assert _changed(env, run["id"]) == {("settingsCatalogPolicy", policy_id, "changed"),
                                        ("deviceCompliancePolicy", compliance_id, "changed")}


def test_a_change_below_without_a_marker_is_caught_by_the_next_full_read(env) -> None:
    gid = env.graph_tenant_id
    first = _sync(env)
    policy_id = env.graph.item_id(gid, "settingsCatalogPolicy", 3)
    env.graph.modify_below(gid, "settingsCatalogPolicy", 3, markers_move=False)
    missed = _sync(env)  # what the markers do not show, an incremental read cannot see
    assert missed["read_mode"] == "incremental" and missed["upserted"] == 0
    caught = _sync(env, {"read_mode": "full"})
    assert caught["read_mode"] == "full" and caught["selection_hash"] == first["selection_hash"]
    assert _changed(env, caught["id"]) == {("settingsCatalogPolicy", policy_id, "changed")}
    # FULL_READ_INTERVAL_HOURS: a full read older than the interval makes the next run read in full
    other_id = env.graph.item_id(gid, "groupPolicyConfiguration", 1)
    env.graph.modify_below(gid, "groupPolicyConfiguration", 1, markers_move=False)
    assert _sync(env)["upserted"] == 0
    env.pipeline.rewire(full_read_interval_hours=0)
    due = _sync(env)
    assert due["read_mode"] == "full" and _changed(env, due["id"]) == {("groupPolicyConfiguration", other_id,
                                                                       "changed")}


def test_an_incremental_run_still_adds_and_deletes(env) -> None:
    gid = env.graph_tenant_id
    _sync(env)
    env.graph.add_items(gid, "settingsCatalogPolicy", 1)
    env.graph.remove_item(gid, "settingsCatalogPolicy", 4)
    run = _sync(env)
    assert run["read_mode"] == "incremental" and run["status"] == "success"
    new_id = env.graph.item_id(gid, "settingsCatalogPolicy", env.graph.tenants[gid].total("settingsCatalogPolicy") - 1)
    assert _changed(env, run["id"]) == {
        ("settingsCatalogPolicy", new_id, "added"),
        ("settingsCatalogPolicy", env.graph.item_id(gid, "settingsCatalogPolicy", 4), "deleted")}
    settings = env.db.execute("SELECT jsonb_array_length(payload->'settings') FROM inventory_items"
                              " WHERE external_id = %s", (new_id,)).fetchone()[0]
    assert settings > 0  # the new object was read whole


def test_read_mode_rides_the_message_but_not_the_selection(env) -> None:
    plain = env.pipeline.dispatch(env.tenant.id, SELECTION)
    full = env.pipeline.dispatch(env.tenant.id, {**SELECTION, "read_mode": "full"})
    assert plain["selection_hash"] == full["selection_hash"] and "read_mode" not in full["selection"]
    bodies = [json.loads(m["Body"]) for m in env.pipeline.receive("run")]
    by_bulk = {b["bulk_operation_run_id"]: b for b in bodies}
    assert "read_mode" not in by_bulk[plain["bulk_operation_run"]["id"]]  # absent: the default
    assert by_bulk[full["bulk_operation_run"]["id"]]["read_mode"] == "full"
    response = env.pipeline.dispatch_fn.lambda_handler(
        http_event("POST", f"/tenants/{env.tenant.id}/inventory-syncs", body={"read_mode": "sometimes"},
                   claims=claims_for("alice")), FakeContext())
    assert response["statusCode"] == 422
    assert env.db.execute("SELECT count(*) FROM bulk_operation_runs").fetchone()[0] == 2


def test_an_item_stored_before_a_sub_resource_was_read_is_read_whole(env) -> None:
    """After an upgrade that reads something new below a type (compliance actions, say), the stored payloads
    lack it: an incremental run reads those objects whole, whatever their markers say."""
    gid = env.graph_tenant_id
    _sync(env)
    policy_id = env.graph.item_id(gid, "deviceCompliancePolicy", 2)
    env.db.execute("UPDATE inventory_items SET payload = payload - 'scheduledActionsForRule', payload_hash = NULL"
                   " WHERE external_id = %s", (policy_id,))  # as an older version stored it
    env.graph.trace = []
    run = _sync(env)
    assert run["read_mode"] == "incremental"
    assert _below(env.graph.trace) == [
        f"/beta/deviceManagement/deviceCompliancePolicies/{policy_id}/scheduledActionsForRule"]
    payload = env.db.execute("SELECT payload FROM inventory_items WHERE external_id = %s", (policy_id,)).fetchone()[0]
    assert payload["scheduledActionsForRule"]
