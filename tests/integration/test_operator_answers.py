"""What an operator asks the console, answered by the API after real syncs: what changed (old → new), which
tenants need attention (last run, changes, item count, missing permissions), the inventory filtered, sorted and
counted once per category, one vocabulary for outcomes, and exports that hold exactly what the API lists."""

from __future__ import annotations

import base64
import csv
import io
import json
import uuid
from datetime import datetime
from typing import Any

import boto3
import pytest

from invsync_dev.local.graph_standin import Fault
from tests.support import factories
from tests.support.lambdas import FakeContext, claims_for, http_event

DMA = "DeviceManagementApps.Read.All"
DMC = "DeviceManagementConfiguration.Read.All"
SELECTION = {"policy_types": ["deviceConfiguration", "settingsCatalogPolicy", "mobileApp"],
             "include_foundations": False}


def _sync(env, tenant_id: int | None = None, body: dict[str, Any] | None = None) -> dict[str, Any]:
    bulk_id = env.pipeline.dispatch(tenant_id or env.tenant.id, SELECTION if body is None else body)[
        "bulk_operation_run"]["id"]
    env.pipeline.run_all()
    run_id, status = env.db.execute("SELECT id, status FROM inventory_sync_runs WHERE bulk_operation_run_id = %s",
                                    (bulk_id,)).fetchone()
    return {"id": run_id, "status": status}


def _raw(env, path: str, query: dict[str, str] | None = None, subject: str = "alice") -> dict[str, Any]:
    return env.pipeline.dispatch_fn.lambda_handler(http_event("GET", path, claims=claims_for(subject), query=query),
                                                   FakeContext())


def _all(env, path: str, query: dict[str, str] | None = None, subject: str = "alice") -> list[dict[str, Any]]:
    """Every row of a cursor-paged list route."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page_query = {**(query or {}), "limit": "200", **({"cursor": cursor} if cursor else {})}
        status, page = env.pipeline.api("GET", path, query=page_query, subject=subject)
        assert status == 200, page
        found += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def _second_tenant(env, name: str, subject: str = "alice", role: str = "owner") -> Any:
    gid = f"tenant-{uuid.uuid4().hex[:12]}.onmicrosoft.com"
    tenant = factories.tenant(env.db, name, graph_tenant_id=gid)
    env.graph.add_tenant(gid, "client-app-id", "another-s3cr3t-for-tests")
    boto3.client("secretsmanager").create_secret(Name=f"inventory-sync/tenants/{tenant.id}",
                                                 SecretString=json.dumps({"client_secret": "another-s3cr3t-for-tests"}))
    factories.member(env.db, tenant.id, subject, role)
    return tenant


# -- old → new -------------------------------------------------------------------------------------------------

def test_a_changed_setting_reads_old_to_new_in_the_run_and_the_item_history(env) -> None:
    gid = env.graph_tenant_id
    _sync(env)
    env.graph.modify_item(gid, "settingsCatalogPolicy", 2)
    second = _sync(env)
    [changed] = _all(env, f"/tenants/{env.tenant.id}/inventory-syncs/{second['id']}/changes", {"change": "changed"})
    assert changed["previous_values_recorded"] is True
    [entry] = changed["entries"]
    assert (entry["op"], entry["old"], entry["new"]) == ("replace", "value", "value")
    assert entry["old_value"].endswith("_mode_1") and entry["new_value"].endswith("_mode_2")
    assert entry["old_value"] == entry["setting"] + "_1"  # named by the setting the payload says it is in
    # the item's history answers the same, and an added item has no diff to read
    history = _all(env, f"/tenants/{env.tenant.id}/inventory-items/{changed['inventory_item_id']}/history")
    assert [h["change"] for h in history] == ["changed", "added"]
    assert history[0]["entries"] == changed["entries"] and history[1]["entries"] is None

    # the CLI prints the same reading
    from invsync_dev.cli.output import change_set

    text = change_set([changed])
    old, new = json.dumps(entry["old_value"]), json.dumps(entry["new_value"])
    assert f"~ {entry['setting']} ({entry['path']}): {old} → {new}" in text

    # a row written before earlier values were kept: the API says they were not recorded
    env.db.execute("INSERT INTO inventory_item_changes (tenant_id, inventory_sync_run_id, inventory_item_id,"
                   " policy_type, external_id, change, previous_hash, new_hash, diff) SELECT tenant_id, %s,"
                   " inventory_item_id, policy_type, external_id, 'changed', previous_hash, new_hash,"
                   " '[{\"op\": \"replace\", \"path\": \"/name\", \"value\": \"B\"}]' FROM inventory_item_changes"
                   " WHERE id = %s", (second["id"], changed["id"]))
    older = _all(env, f"/tenants/{env.tenant.id}/inventory-syncs/{second['id']}/changes", {"change": "changed"})[-1]
    assert older["previous_values_recorded"] is False
    assert older["entries"] == [{"op": "replace", "path": "/name", "from_path": None, "setting": None,
                                 "old": "not_recorded",
                                 "old_value": None, "new": "value", "new_value": "B"}]


# -- tenant overview -------------------------------------------------------------------------------------------

def test_the_overview_tells_three_tenants_apart(env) -> None:
    partial = env.tenant
    factories.member(env.db, partial.id, "olivia", "owner")
    env.graph.set_fault("mobileApp", Fault(status=403))
    run = _sync(env)
    assert run["status"] == "partial"
    env.graph.clear_faults()
    healthy = _second_tenant(env, "Fabrikam")
    good = _sync(env, healthy.id)
    assert good["status"] == "success"
    never = _second_tenant(env, "Northwind")
    stranger = _second_tenant(env, "Elsewhere", subject="mallory")

    tenants = {t["id"]: t for t in _all(env, "/tenants")}
    assert set(tenants) == {partial.id, healthy.id, never.id}  # not the tenant alice is no member of
    live = dict(env.db.execute("SELECT tenant_id, count(*) FROM inventory_items WHERE deleted_at IS NULL"
                               " GROUP BY tenant_id").fetchall())
    one = tenants[partial.id]
    assert one["last_run"]["id"] == run["id"] and one["last_run"]["status"] == "partial"
    assert one["last_run"]["error_codes"] == ["graph_forbidden"] and one["last_run"]["trigger"] == "api"
    assert one["missing_permissions"] == [DMA] and one["missing_permissions_checked_at"]
    assert one["item_count"] == live[partial.id] > 0
    assert one["last_changes"] == {"added": live[partial.id], "changed": 0, "deleted": 0, "restored": 0}
    two = tenants[healthy.id]
    assert two["last_run"]["status"] == "success" and two["missing_permissions"] == []
    assert two["item_count"] == live[healthy.id]
    three = tenants[never.id]
    assert (three["last_run"], three["last_changes"], three["item_count"], three["missing_permissions"],
            three["missing_permissions_checked_at"]) == (None, None, 0, [], None)
    status, alone = env.pipeline.api("GET", f"/tenants/{partial.id}")
    assert status == 200 and alone == one
    assert [t["id"] for t in _all(env, "/tenants", subject="mallory")] == [stranger.id]

    # a later run that reads the refused type completely clears the permission; a skipped one tells nothing
    again = _sync(env, body={"policy_types": ["mobileApp"], "include_foundations": False})
    assert again["status"] == "success"
    assert env.pipeline.api("GET", f"/tenants/{partial.id}")[1]["missing_permissions"] == []

    # the permission check is kept where every execution environment reads it (not only its own cache)
    env.graph.set_fault("policySet", Fault(status=403))
    status, report = env.pipeline.api("GET", f"/tenants/{partial.id}/permission-check", subject="olivia")
    assert status == 200 and report["missing_permissions"] == [DMC]
    env.pipeline.rewire()
    assert env.pipeline.api("GET", f"/tenants/{partial.id}")[1]["missing_permissions"] == [DMC]

    # a run under way is the latest run; what it changed is not known until it finishes
    bulk = env.pipeline.dispatch(never.id, {"policy_types": ["mobileApp"]})
    env.db.execute("INSERT INTO inventory_sync_runs (tenant_id, bulk_operation_run_id, selection_hash,"
                   " selection_payload, trigger) VALUES (%s, %s, %s, '{}', 'api')",
                   (never.id, bulk["bulk_operation_run"]["id"], bulk["selection_hash"]))
    running = env.pipeline.api("GET", f"/tenants/{never.id}")[1]
    assert running["last_run"]["status"] == "running" and running["last_run"]["finished_at"] is None
    assert running["last_changes"] is None


def test_a_fatal_run_leaves_the_known_permissions_alone(env) -> None:
    env.graph.set_fault("mobileApp", Fault(status=403))
    _sync(env)
    env.graph.clear_faults()
    env.graph.tenants[env.graph_tenant_id].client_secret = "rotated-elsewhere"
    env.graph.tokens.clear()
    failed = _sync(env)
    assert failed["status"] == "failed"
    tenant = env.pipeline.api("GET", f"/tenants/{env.tenant.id}")[1]
    assert tenant["last_run"]["status"] == "failed" and tenant["missing_permissions"] == [DMA]


# -- inventory -------------------------------------------------------------------------------------------------

def test_each_item_counts_once_and_a_category_syncs_what_it_lists(env) -> None:
    _sync(env, body={})  # the full inventory, foundations and assignments included
    t = env.tenant.id
    summary = env.pipeline.api("GET", f"/tenants/{t}/inventory-summary")[1]["policy_types"]
    per_category: dict[str, int] = {}
    for row in summary:
        per_category[row["category"]] = per_category.get(row["category"], 0) + row["items"]
    listed = {c: len(_all(env, f"/tenants/{t}/inventory-items", {"category": c})) for c in per_category}
    assert listed == per_category
    assert sum(per_category.values()) == len(_all(env, f"/tenants/{t}/inventory-items"))
    security = {row["policy_type"] for row in summary if row["category"] == "Endpoint Security"}
    assert security == {"endpointSecurityIntent", "settingsCatalogPolicy"}
    names = {row["policy_type"]: row["display_name"] for row in summary}
    assert names["settingsCatalogPolicy"] == "Settings catalog"

    # the picker's category syncs every type it lists, and says so
    registry = env.pipeline.api("GET", "/policy-types")[1]
    detail = next(c for c in registry["category_details"] if c["key"] == "Endpoint Security")
    assert set(detail["policy_types"]) == security and detail["display_name"] == "Endpoint security"
    dispatched = env.pipeline.dispatch(t, {"categories": ["Endpoint Security"]})
    assert set(dispatched["selection"]["policy_types"]) == security


def test_filters_sorting_and_named_links(env) -> None:
    _sync(env, body={})
    t = env.tenant.id
    started = datetime.now().astimezone().isoformat()
    env.graph.modify_item(env.graph_tenant_id, "settingsCatalogPolicy", 1)
    env.graph.add_items(env.graph_tenant_id, "deviceConfiguration", 1)
    second = _sync(env, body={})
    everything = _all(env, f"/tenants/{t}/inventory-items")

    windows = _all(env, f"/tenants/{t}/inventory-items", {"platform": "windows"})
    assert windows and {i["platform"] for i in windows} == {"windows"}
    assigned = _all(env, f"/tenants/{t}/inventory-items", {"assigned": "true"})
    unassigned = _all(env, f"/tenants/{t}/inventory-items", {"assigned": "false"})
    assert assigned and unassigned and len(assigned) + len(unassigned) == len(everything)
    assert all(any(link["link_type"] == "assignment" for link in i["links"]) and i["assigned"] for i in assigned)
    assert not any(i["assigned"] for i in unassigned)
    recent = _all(env, f"/tenants/{t}/inventory-items", {"changed_since": started})
    changed_ids = {c["inventory_item_id"] for c in _all(env, f"/tenants/{t}/inventory-syncs/{second['id']}/changes")}
    assert {i["id"] for i in recent} == changed_ids and len(changed_ids) == 2
    assert all(datetime.fromisoformat(i["last_changed_at"]) >= datetime.fromisoformat(started) for i in recent)

    # sorted pages: the same rows as one sort of everything, the cursor keeping its sort
    query = {"sort": "display_name", "order": "desc", "limit": "7"}
    pages, cursor = [], None
    while True:
        status, page = env.pipeline.api("GET", f"/tenants/{t}/inventory-items",
                                        query=query | ({"cursor": cursor} if cursor else {}))
        assert status == 200, page
        pages += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    expected = sorted(everything, key=lambda i: (i["display_name"] or "", i["id"]), reverse=True)
    assert [i["id"] for i in pages] == [i["id"] for i in expected]

    # links name their targets where the inventory holds them
    filters = {i["external_id"]: i["display_name"] for i in everything if i["policy_type"] == "assignmentFilter"}
    filter_links = [link for i in everything for link in i["links"] if link["link_type"] == "assignment_filter"]
    assert filter_links and all(link["target_name"] == filters[link["target_id"]] for link in filter_links)
    default_tags = [link for i in everything for link in i["links"]
                    if link["link_type"] == "scope_tag" and link["target_id"] == "0"]
    assert default_tags and {link["target_name"] for link in default_tags} == {"Default"}
    groups = [link for i in everything for link in i["links"] if link["target_type"] == "group"]
    assert groups and {link["target_name"] for link in groups} == {None}


def _cursor(body: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


@pytest.mark.parametrize("query", [
    {"sort": "payload"}, {"order": "sideways"}, {"changed_since": "yesterday"}, {"assigned": "maybe"},
    {"platform": "win<script>"}, {"policy_type": "device Configuration"}, {"include_deleted": "2"},
    {"sort": "display_name", "cursor": _cursor({"id": 1})},  # a cursor of the id order
    {"sort": "first_seen_at", "cursor": _cursor({"id": 1, "sort": "first_seen_at", "desc": False,
                                                 "value": "no-date"})},  # a forged one: never reaches the SQL
])
def test_bad_filters_are_refused(env, query) -> None:
    for path in (f"/tenants/{env.tenant.id}/inventory-items", f"/tenants/{env.tenant.id}/exports/inventory-items"):
        status, problem = env.pipeline.api("GET", path, query=query)
        assert status == 422 and problem["status"] == 422, (path, query, problem)


# -- one vocabulary --------------------------------------------------------------------------------------------

def test_the_audit_trail_says_partial_for_a_partial_run(env) -> None:
    env.graph.set_fault("mobileApp", Fault(status=403))
    run = _sync(env)
    assert run["status"] == "partial"
    [event] = _all(env, f"/tenants/{env.tenant.id}/audit-logs", {"action": "inventory.sync.completed"})
    assert (event["status"], event["outcome"]) == ("success", "partial")
    [dispatched] = _all(env, f"/tenants/{env.tenant.id}/audit-logs", {"action": "inventory.sync.dispatched"})
    assert dispatched["outcome"] == dispatched["status"]
    for path in (f"/tenants/{env.tenant.id}/audit-logs", f"/tenants/{env.tenant.id}/exports/audit-logs"):
        status, problem = env.pipeline.api("GET", path, query={"action": "inventory.sync\x00"})
        assert status == 400 and problem["status"] == 400  # PostgreSQL text cannot hold NUL: refused at the edge


# -- exports ---------------------------------------------------------------------------------------------------

def _export(env, path: str, query: dict[str, str], subject: str = "alice") -> tuple[list[Any], list[dict[str, Any]]]:
    """Follow an export's cursors: (the CSV rows or JSON items of every page, each page's response)."""
    rows: list[Any] = []
    responses = []
    cursor = None
    while True:
        response = _raw(env, path, query | ({"cursor": cursor} if cursor else {}), subject)
        assert response["statusCode"] == 200, response
        responses.append(response)
        headers = response["headers"]
        if query.get("format") == "json":
            assert headers["Content-Type"] == "application/json"
            body = json.loads(response["body"])
            rows += body["items"]
            assert body["count"] == len(body["items"]) and body["next_cursor"] == headers.get("X-Next-Cursor")
        else:
            assert headers["Content-Type"].startswith("text/csv")
            assert "attachment" in headers["Content-Disposition"]
            parsed = list(csv.DictReader(io.StringIO(response["body"], newline="")))
            assert len(parsed) == int(headers["X-Row-Count"])
            rows += parsed
        cursor = headers.get("X-Next-Cursor")
        if not cursor:
            return rows, responses


def test_exports_hold_what_the_api_lists_page_by_page(env, monkeypatch) -> None:
    from inventory_sync.services import exports

    env.graph.set_fault("mobileApp", Fault(status=403))
    _sync(env, body={})
    env.graph.clear_faults()
    env.graph.modify_item(env.graph_tenant_id, "settingsCatalogPolicy", 2)
    second = _sync(env, body={})
    t = env.tenant.id
    monkeypatch.setattr(exports, "MAX_ROWS", 40)  # several pages from a small inventory

    listed = _all(env, f"/tenants/{t}/inventory-items", {"include_deleted": "true"})
    rows, responses = _export(env, f"/tenants/{t}/exports/inventory-items", {"format": "csv",
                                                                            "include_deleted": "true"})
    assert len(responses) > 2 and len(rows) == len(listed) == int(responses[0]["headers"]["X-Total-Count"])
    assert [int(r["id"]) for r in rows] == [i["id"] for i in listed]
    assert {r["policy_type_name"] for r in rows if r["policy_type"] == "settingsCatalogPolicy"} == {"Settings catalog"}
    json_rows, _ = _export(env, f"/tenants/{t}/exports/inventory-items", {"format": "json", "sort": "display_name"})
    assert [r["id"] for r in json_rows] == [i["id"] for i in _all(env, f"/tenants/{t}/inventory-items",
                                                                  {"sort": "display_name"})]

    changes = _all(env, f"/tenants/{t}/inventory-syncs/{second['id']}/changes")
    rows, _ = _export(env, f"/tenants/{t}/exports/inventory-syncs/{second['id']}/changes", {"format": "csv"})
    assert [int(r["id"]) for r in rows] == [c["id"] for c in changes] and rows
    changed = next(r for r in rows if r["change"] == "changed")
    assert json.loads(changed["diff"])[0]["op"] == "test" and changed["previous_values_recorded"] == "true"

    events = _all(env, f"/tenants/{t}/audit-logs")
    rows, _ = _export(env, f"/tenants/{t}/exports/audit-logs", {"format": "csv"})
    assert [int(r["id"]) for r in rows] == [e["id"] for e in events]
    assert [r["outcome"] for r in rows if r["action"] == "inventory.sync.completed"] == ["success", "partial"]
    json_rows, _ = _export(env, f"/tenants/{t}/exports/audit-logs", {"format": "json"})
    assert [r["id"] for r in json_rows] == [e["id"] for e in events]


def test_exports_are_tenant_isolated_and_refuse_bad_input(env) -> None:
    run = _sync(env)
    other = factories.tenant(env.db, "Fabrikam", graph_tenant_id="fabrikam.example")
    factories.member(env.db, other.id, "mallory", "owner")
    t = env.tenant.id
    for path in (f"/tenants/{t}/exports/inventory-items", f"/tenants/{t}/exports/audit-logs",
                 f"/tenants/{t}/exports/inventory-syncs/{run['id']}/changes"):
        status, problem = env.pipeline.api("GET", path, subject="mallory")
        assert status == 404 and problem["status"] == 404, (path, problem)
        own = path.replace(f"/tenants/{t}/", f"/tenants/{other.id}/")
        if "inventory-syncs" in own:  # the run is not hers through her own tenant either
            assert env.pipeline.api("GET", own, subject="mallory")[0] == 404
        else:  # her own tenant's export holds nothing of ours
            rows, _ = _export(env, own, {"format": "csv"}, subject="mallory")
            assert rows == []
        for query in ({"format": "xml"}, {"cursor": "not-a-cursor"}):
            status, problem = env.pipeline.api("GET", path, query=query)
            assert status == 422, (path, query, problem)
    status, _ = env.pipeline.api("GET", f"/tenants/{t}/exports/inventory-syncs/999999/changes")
    assert status == 404


def test_a_page_never_outgrows_the_lambda_response_and_an_oversized_change_loses_only_its_diff() -> None:
    from inventory_sync.services.exports import Sheet, _cost, render

    rows = [{"id": n, "text": "\"quoted\"\n" * (n % 7) + "é" * 50} for n in range(1, 400)]
    pages, cursor_at, size = [], 0, 5_000

    def read_from(position: int):
        return iter(rows[position:])

    while True:
        page = render(read_from(cursor_at), "csv", Sheet(("id", "text"), lambda r: r, lambda r: str(r["id"]), "t"),
                      total=len(rows), max_bytes=size)
        assert _cost(page.body) <= size
        pages.append(page)
        if page.next_cursor is None:
            break
        cursor_at = int(page.next_cursor)
    exported = [row for p in pages for row in csv.DictReader(io.StringIO(p.body, newline=""))]
    assert [int(r["id"]) for r in exported] == [r["id"] for r in rows]
    assert exported[10]["text"] == rows[10]["text"]

    huge = [{"id": 1, "diff": ["x" * 10_000], "links_diff": None, "diff_omitted": False}]
    sheet: Sheet[dict[str, Any]] = Sheet(("id", "diff", "links_diff", "diff_omitted"), lambda r: dict(r),
                                         lambda r: str(r["id"]), "t", heavy=("diff", "links_diff"))
    page = render(iter(huge), "json", sheet, total=1, max_bytes=2_000)
    assert json.loads(page.body)["items"] == [{"id": 1, "diff": None, "links_diff": None, "diff_omitted": True}]
