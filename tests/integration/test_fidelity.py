"""Inventory fidelity through the real handlers: what is hashed, what counts as a change, which links a
sync keeps, and the configuration below objects — against the stand-in's documented Graph shapes."""

from __future__ import annotations

from typing import Any

from inventory_sync.domain.registry import BY_KEY


def _sync(env, body: dict[str, Any]) -> dict[str, Any]:
    bulk_id = env.pipeline.dispatch(env.tenant.id, body)["bulk_operation_run"]["id"]
    env.pipeline.run_all()
    row = env.db.execute("SELECT status, items_observed_count, items_upserted_count, error_codes"
                         " FROM inventory_sync_runs WHERE bulk_operation_run_id = %s", (bulk_id,)).fetchone()
    return {"status": row[0], "observed": row[1], "upserted": row[2], "error_codes": row[3]}


def _state(db) -> dict[tuple[str, str], tuple[str, str | None]]:
    rows = db.execute("SELECT policy_type, external_id, content_hash, assignments_hash FROM inventory_items"
                      " WHERE deleted_at IS NULL").fetchall()
    return {(r[0], r[1]): (r[2], r[3]) for r in rows}


def _links(db) -> set[tuple]:
    rows = db.execute("SELECT i.policy_type, i.external_id, l.link_type, l.target_type, l.target_id, l.link_key,"
                      " l.properties::text FROM inventory_links l JOIN inventory_items i ON i.id = l.item_id"
                      ).fetchall()
    return set(rows)


def _item(db, policy_type: str, external_id: str) -> dict[str, Any]:
    row = db.execute("SELECT id, display_name, category, payload, content_hash, assignments_hash"
                     " FROM inventory_items WHERE policy_type = %s AND external_id = %s",
                     (policy_type, external_id)).fetchone()
    assert row is not None, (policy_type, external_id)
    return dict(zip(("id", "display_name", "category", "payload", "content_hash", "assignments_hash"), row,
                    strict=True))


def _item_links(db, item_id: int) -> list[tuple]:
    return db.execute("SELECT link_type, target_type, target_id, properties FROM inventory_links"
                      " WHERE item_id = %s ORDER BY id", (item_id,)).fetchall()


def test_only_noise_changed_upserts_nothing_and_changes_no_hash(env) -> None:
    first = _sync(env, {})
    assert first["status"] == "success" and first["upserted"] == first["observed"] > 300
    before, links = _state(env.db), _links(env.db)
    gid = env.graph_tenant_id
    driver_id = env.graph.item_id(gid, "windowsDriverUpdateProfile", 0)
    reporting = _item(env.db, "windowsDriverUpdateProfile", driver_id)["payload"]["deviceReporting"]
    # server timestamps and versions, reporting counters, @odata.etag and assignments@odata.context move
    env.graph.touch(gid)
    second = _sync(env, {})
    assert second["status"] == "success" and second["observed"] == first["observed"]
    assert second["upserted"] == 0
    assert _state(env.db) == before and _links(env.db) == links
    # the payload is kept whole and current: the new counters are there, just not a change
    payload = _item(env.db, "windowsDriverUpdateProfile", driver_id)["payload"]
    assert payload["deviceReporting"] == reporting + 1 and payload["@odata.etag"] == 'W/"1"'


def test_a_real_setting_change_upserts_exactly_that_item(env) -> None:
    _sync(env, {})
    before = _state(env.db)
    gid = env.graph_tenant_id
    env.graph.modify_item(gid, "windowsDriverUpdateProfile", 1)  # deploymentDeferralInDays
    env.graph.modify_item(gid, "settingsCatalogPolicy", 2)  # a choice nested in a group collection
    env.graph.modify_item(gid, "groupPolicyConfiguration", 1)  # a presentation value below a definition value
    after_sync = _sync(env, {})
    assert after_sync["upserted"] == 3
    after = _state(env.db)
    changed = {key for key in after if after[key] != before[key]}
    assert changed == {("windowsDriverUpdateProfile", env.graph.item_id(gid, "windowsDriverUpdateProfile", 1)),
                       ("settingsCatalogPolicy", env.graph.item_id(gid, "settingsCatalogPolicy", 2)),
                       ("groupPolicyConfiguration", env.graph.item_id(gid, "groupPolicyConfiguration", 1))}
    assert all(after[key][1] == before[key][1] for key in changed)  # assignments did not change


def test_a_sync_without_dependencies_changes_no_link_and_no_hash(env) -> None:
    _sync(env, {})
    before, links = _state(env.db), _links(env.db)
    gid = env.graph_tenant_id
    app_id = env.graph.item_id(gid, "mobileApp", 3)
    assignments = _item(env.db, "mobileApp", app_id)["payload"]["assignments"]
    assert assignments
    shallow = _sync(env, {"include_dependencies": False})
    assert shallow["status"] == "success" and shallow["upserted"] == 0
    assert _state(env.db) == before and _links(env.db) == links
    assert _item(env.db, "mobileApp", app_id)["payload"]["assignments"] == assignments
    # a real change seen by a sync that does not read assignments: the row changes, its assignments stay
    env.graph.modify_item(gid, "mobileApp", 3)
    changed = _sync(env, {"include_dependencies": False, "policy_types": ["mobileApp"]})
    assert changed["upserted"] == 1
    item = _item(env.db, "mobileApp", app_id)
    assert item["payload"]["assignments"] == assignments
    assert item["assignments_hash"] == before[("mobileApp", app_id)][1]
    assert item["content_hash"] != before[("mobileApp", app_id)][0]
    assert {link for link in _links(env.db) if link[1] == app_id} == {link for link in links if link[1] == app_id}
    # and the next full sync sees nothing new
    assert _sync(env, {})["upserted"] == 0


def test_every_target_kind_intent_and_source_is_its_own_link(env) -> None:
    _sync(env, {})
    gid = env.graph_tenant_id
    # an app assigned to one group as required and as available: two links, neither overwrites the other
    app = _item(env.db, "mobileApp", env.graph.item_id(gid, "mobileApp", 3))
    group_links = [link for link in _item_links(env.db, app["id"]) if link[0] == "assignment" and link[1] == "group"]
    intents = sorted(link[3].get("intent") for link in group_links if link[2] == group_links[0][2])
    assert intents == ["available", "required"]
    # directly and through a policy set: two links, the second says which set
    config = _item(env.db, "deviceConfiguration", env.graph.item_id(gid, "deviceConfiguration", 9))
    via_set = [link for link in _item_links(env.db, config["id"]) if link[3].get("source") == "policySets"]
    sets = env.graph.tenants[gid].total("policySet")
    assert len(via_set) == 1 and via_set[0][3]["source_id"] == env.graph.item_id(gid, "policySet", 9 % sets)
    # Configuration Manager collections keep their collection id
    sccm = _item(env.db, "deviceConfiguration", env.graph.item_id(gid, "deviceConfiguration", 4))
    collections = [link for link in _item_links(env.db, sccm["id"]) if link[1] == "configurationManagerCollection"]
    assert [link[2] for link in collections] == ["SMS00004"]
    # Windows 365 targets (written without the leading '#') are groups
    cloud_pc = _item(env.db, "cloudPcProvisioningPolicy", env.graph.item_id(gid, "cloudPcProvisioningPolicy", 1))
    assigned = [link for link in _item_links(env.db, cloud_pc["id"]) if link[0] == "assignment"]
    assert len(assigned) == 1 and assigned[0][1] == "group" and assigned[0][2]
    assert assigned[0][3]["target"] == "cloudPcManagementGroupAssignmentTarget"
    kinds = {r[0] for r in env.db.execute("SELECT DISTINCT target_type FROM inventory_links"
                                           " WHERE link_type = 'assignment'").fetchall()}
    assert kinds == {"group", "exclusionGroup", "allDevices", "allLicensedUsers", "configurationManagerCollection"}


def test_policy_sets_keep_scope_tags_and_link_their_members(env) -> None:
    _sync(env, {})
    gid = env.graph_tenant_id
    tagged = _item(env.db, "policySet", env.graph.item_id(gid, "policySet", 0))  # tagged `roleScopeTags`
    assert sorted(link[2] for link in _item_links(env.db, tagged["id"]) if link[0] == "scope_tag") == ["0", "1"]
    policy_set = _item(env.db, "policySet", env.graph.item_id(gid, "policySet", 2))
    links = _item_links(env.db, policy_set["id"])
    assert [link[2] for link in links if link[0] == "scope_tag"] == ["0"]
    members = [link for link in links if link[0] == "policy_set_item"]
    assert [(m[1], m[2]) for m in members] == [
        ("deviceConfiguration", env.graph.item_id(gid, "deviceConfiguration", 2)),
        ("mobileApp", env.graph.item_id(gid, "mobileApp", 2)),
        ("settingsCatalogPolicy", env.graph.item_id(gid, "settingsCatalogPolicy", 2))]
    # every member is an item of this inventory
    for _, target_type, target_id, _ in members:
        _item(env.db, target_type, target_id)
    # a membership change is a change of the set
    before = policy_set["content_hash"]
    env.graph.modify_item(gid, "policySet", 2)
    assert _sync(env, {"policy_types": ["policySet"]})["upserted"] == 1
    assert _item(env.db, "policySet", policy_set_id := env.graph.item_id(gid, "policySet", 2))["content_hash"] != before
    moved = [link[2] for link in _item_links(env.db, _item(env.db, "policySet", policy_set_id)["id"])
             if link[0] == "policy_set_item"]
    assert moved[0] == env.graph.item_id(gid, "deviceConfiguration", 3)


def test_configuration_below_the_object_is_in_the_payload(env) -> None:
    _sync(env, {})
    gid = env.graph_tenant_id
    for index in range(4):
        compliance = _item(env.db, "compliancePolicy", env.graph.item_id(gid, "compliancePolicy", index))["payload"]
        assert len(compliance["settings"]) == compliance["settingCount"] == env.graph.settings_count(index)
    many = [i for i in range(env.graph.tenants[gid].counts["compliancePolicy"]) if env.graph.settings_count(i) > 25]
    assert many  # paged past the first 25 settings
    gpo = _item(env.db, "groupPolicyConfiguration", env.graph.item_id(gid, "groupPolicyConfiguration", 1))["payload"]
    assert len(gpo["definitionValues"]) == 2
    for value in gpo["definitionValues"]:
        assert value["definition"]["displayName"].startswith("Administrative template setting")
        assert value["presentationValues"], value
        assert all(p["presentation"]["label"] == "Tenant URL" for p in value["presentationValues"])
    intent = _item(env.db, "endpointSecurityIntent", env.graph.item_id(gid, "endpointSecurityIntent", 0))["payload"]
    assert [s["definitionId"] for s in intent["settings"]][:1] == [
        "deviceConfiguration--windows10EndpointProtectionConfiguration_setting0"]
    # the script list leaves the content out; the inventory has it from the script's own GET
    script = _item(env.db, "deviceHealthScript", env.graph.item_id(gid, "deviceHealthScript", 0))["payload"]
    assert script["detectionScriptContent"] and script["remediationScriptContent"]


def test_names_categories_and_no_dangling_reference(env) -> None:
    _sync(env, {})
    gid = env.graph_tenant_id
    names = env.db.execute("SELECT display_name, payload->>'displayName', payload->>'profileName' FROM inventory_items"
                           " WHERE policy_type = 'intuneBrandingProfile' ORDER BY external_id").fetchall()
    named = [name for name, _, profile in names if profile is not None]
    assert named and all(name.startswith("intuneBrandingProfile ") for name in named)
    assert {company for _, company, _ in names} == {"Contoso Ltd"}  # displayName is the company name, on all
    # a profile with no name of its own (the default one) stays unnamed: never the company's name
    unnamed = [name for name, _, profile in names if profile is None]
    assert unnamed and unnamed == [None] * len(unnamed)
    catalog = env.db.execute("SELECT payload->'templateReference'->>'templateFamily', category FROM inventory_items"
                             " WHERE policy_type = 'settingsCatalogPolicy'").fetchall()
    families = {family: category for family, category in catalog}
    assert families == {"none": "Configuration", "endpointSecurityFirewall": "Endpoint Security",
                        "baseline": "Endpoint Security"}
    assert _item(env.db, "endpointSecurityIntent", env.graph.item_id(gid, "endpointSecurityIntent", 0))[
        "category"] == "Endpoint Security"
    # scope tags and filters: every reference resolves to a foundation item, or says why it cannot
    dangling = env.db.execute(
        "SELECT l.link_type, l.target_id, l.properties FROM inventory_links l"
        " WHERE l.link_type IN ('scope_tag', 'assignment_filter') AND NOT EXISTS (SELECT 1 FROM inventory_items f"
        "   WHERE f.tenant_id = l.tenant_id AND f.policy_type = l.target_type AND f.external_id = l.target_id)"
    ).fetchall()
    assert dangling and all(props == {"built_in": True} and target == "0" for _, target, props in dangling)
    assert BY_KEY["roleScopeTag"].built_in_ids == frozenset({"0"})


def test_compliance_actions_for_noncompliance_are_configuration(env) -> None:
    """scheduledActionsForRule is a relationship the list leaves out: read below each policy, with its action
    items, so a grace period change is a change of the policy."""
    _sync(env, {})
    gid = env.graph_tenant_id
    policy_id = env.graph.item_id(gid, "deviceCompliancePolicy", 1)
    payload = _item(env.db, "deviceCompliancePolicy", policy_id)["payload"]
    [rule] = payload["scheduledActionsForRule"]
    assert rule["ruleName"] == "PasswordRequired"
    assert [(a["actionType"], a["gracePeriodHours"]) for a in rule["scheduledActionConfigurations"]] == [
        ("block", 0), ("notification", 24), ("retire", 4320)]
    env.graph.modify_below(gid, "deviceCompliancePolicy", 1)
    run = _sync(env, {"policy_types": ["deviceCompliancePolicy"]})
    assert run["upserted"] == 1
    [diff] = env.db.execute("SELECT diff FROM inventory_item_changes WHERE external_id = %s AND change = 'changed'",
                            (policy_id,)).fetchone()
    path = "/scheduledActionsForRule/0/scheduledActionConfigurations/1/gracePeriodHours"
    assert diff == [{"op": "test", "path": path, "value": 24}, {"op": "replace", "path": path, "value": 48}]


def test_policy_set_members_of_shared_subtypes_link_to_their_items(env) -> None:
    _sync(env, {})
    gid = env.graph_tenant_id
    policy_set = _item(env.db, "policySet", env.graph.item_id(gid, "policySet", 3))
    members = {(link[1], link[2]) for link in _item_links(env.db, policy_set["id"]) if link[0] == "policy_set_item"}
    assert ("iosManagedAppProtection", env.graph.item_id(gid, "iosManagedAppProtection", 0)) in members
    assert ("deviceEnrollmentConfiguration", env.graph.item_id(gid, "deviceEnrollmentConfiguration", 1)) in members
    for target_type, target_id in members:  # every member resolves to an item of this inventory
        _item(env.db, target_type, target_id)
