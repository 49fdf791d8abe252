"""Pure rules of an inventory item: what is configuration, hashes, names, categories, links."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from inventory_sync.domain.configuration import configuration_of
from inventory_sync.domain.items import NO_FILTER, assignment_links, change_marker, to_record, type_name
from inventory_sync.domain.outcomes import EngineResult, RunProgress, Totals, UnitOutcome
from inventory_sync.domain.registry import BY_KEY, CHANGE_MARKERS, FOUNDATIONS, POLICY_TYPES, SubResource
from invsync_dev.local.graph_fixtures import SHAPES

DRIVER = {
    "@odata.context": "https://graph.microsoft.com/beta/$metadata#deviceManagement/windowsDriverUpdateProfiles/$entity",
    "@odata.type": "#microsoft.graph.windowsDriverUpdateProfile", "id": "d1", "displayName": "Drivers",
    "description": "", "approvalType": "manual", "deviceReporting": 12, "newUpdates": 2,
    "deploymentDeferralInDays": 0, "createdDateTime": "2026-01-01T00:00:00Z",
    "lastModifiedDateTime": "2026-01-01T00:00:00Z", "roleScopeTagIds": ["0"],
    "inventorySyncStatus": {"lastSuccessfulSyncDateTime": "2026-11-01T00:00:00Z",
                            "driverInventorySyncState": "success"},
}


def _noise(payload: dict) -> dict:
    noisy = copy.deepcopy(payload)
    noisy |= {"@odata.etag": 'W/"9"', "@odata.context": "other", "lastModifiedDateTime": "2026-11-28T00:00:00Z",
              "deviceReporting": 99, "newUpdates": 0, "version": 7, "isAssigned": True,
              "inventorySyncStatus": {"lastSuccessfulSyncDateTime": "2026-11-28T00:00:00Z",
                                      "driverInventorySyncState": "success"},
              "assignments@odata.context": "https://graph.microsoft.com/beta/$metadata#x"}
    return noisy


def test_noise_is_not_configuration() -> None:
    ptype = BY_KEY["windowsDriverUpdateProfile"]
    base = to_record(ptype, DRIVER)
    noisy = to_record(ptype, _noise(DRIVER))
    assert noisy.content_hash == base.content_hash
    assert noisy.payload_hash != base.payload_hash  # the stored payload is refreshed all the same
    assert to_record(ptype, DRIVER | {"deploymentDeferralInDays": 7}).content_hash != base.content_hash
    config = configuration_of(ptype, _noise(DRIVER))
    assert "@odata.type" in config and not any(k.startswith("@odata.") and k != "@odata.type" for k in config)
    assert not {"deviceReporting", "createdDateTime", "lastModifiedDateTime", "version", "isAssigned",
                "assignments@odata.context"} & set(config)


def test_control_annotations_nested_and_in_sub_resources() -> None:
    ptype = BY_KEY["groupPolicyConfiguration"]
    gpo = {"id": "g", "displayName": "ADMX", "definitionValues": [{
        "id": "v", "enabled": True, "lastModifiedDateTime": "a", "definition@odata.context": "x",
        "definition": {"id": "def", "displayName": "Setting", "version": "1.0", "lastModifiedDateTime": "b"},
        "presentationValues": [{"@odata.type": "#microsoft.graph.groupPolicyPresentationValueText", "id": "p",
                                "value": "https://a", "lastModifiedDateTime": "c",
                                "presentation": {"id": "pr", "label": "URL", "lastModifiedDateTime": "d"}}]}]}
    moved = copy.deepcopy(gpo)
    value = moved["definitionValues"][0]
    value["lastModifiedDateTime"] = "z"
    value["definition"] |= {"version": "2.0", "lastModifiedDateTime": "z"}
    value["presentationValues"][0]["lastModifiedDateTime"] = "z"
    value["presentationValues"][0]["presentation"]["lastModifiedDateTime"] = "z"
    assert to_record(ptype, moved).content_hash == to_record(ptype, gpo).content_hash
    value["presentationValues"][0]["value"] = "https://b"
    assert to_record(ptype, moved).content_hash != to_record(ptype, gpo).content_hash


def test_policy_set_members_and_scope_tags() -> None:
    ptype = BY_KEY["policySet"]
    policy_set = {"id": "s", "displayName": "Set", "status": "success", "errorCode": "noError",
                  "roleScopeTags": ["0", "4"], "items": [
                      {"@odata.type": "#microsoft.graph.mobileAppPolicySetItem", "id": "i1", "payloadId": "app1",
                       "status": "success", "intent": "required", "lastModifiedDateTime": "a"},
                      {"@odata.type": "microsoft.graph.DeviceConfigurationPolicySetItem", "id": "i2",
                       "payloadId": "dc1", "status": "error"}]}
    record = to_record(ptype, policy_set)
    links = {(link.link_type, link.target_type, link.target_id) for link in record.links}
    assert links == {("scope_tag", "roleScopeTag", "0"), ("scope_tag", "roleScopeTag", "4"),
                     ("policy_set_item", "mobileApp", "app1"), ("policy_set_item", "deviceConfiguration", "dc1")}
    reported: dict[str, Any] = copy.deepcopy(policy_set)
    reported["status"] = "partialSuccess"
    reported["items"][1]["status"] = "success"
    assert to_record(ptype, reported).content_hash == record.content_hash
    reported["items"].pop()
    assert to_record(ptype, reported).content_hash != record.content_hash


@pytest.mark.parametrize("odata_type", ["#microsoft.graph.groupAssignmentTarget",
                                        "microsoft.graph.groupAssignmentTarget",
                                        "#Microsoft.Graph.GroupAssignmentTarget", "groupAssignmentTarget"])
def test_target_type_spellings(odata_type: str) -> None:
    assert type_name(odata_type) == "groupAssignmentTarget"
    [link] = assignment_links([{"target": {"@odata.type": odata_type, "groupId": "g1"}}])
    assert (link.link_type, link.target_type, link.target_id) == ("assignment", "group", "g1")


def test_every_target_kind_and_what_keeps_links_apart() -> None:
    def target(kind: str, **fields: object) -> dict:
        return {"@odata.type": f"#microsoft.graph.{kind}", **fields}

    assignments = [
        {"intent": "required", "source": "direct", "target": target("groupAssignmentTarget", groupId="g")},
        {"intent": "available", "source": "direct", "target": target("groupAssignmentTarget", groupId="g")},
        {"intent": "required", "source": "policySets", "sourceId": "set1",
         "target": target("groupAssignmentTarget", groupId="g")},
        {"target": target("exclusionGroupAssignmentTarget", groupId="x")},
        {"target": target("allDevicesAssignmentTarget", deviceAndAppManagementAssignmentFilterId="f1",
                          deviceAndAppManagementAssignmentFilterType="exclude")},
        {"target": target("allLicensedUsersAssignmentTarget", deviceAndAppManagementAssignmentFilterId=NO_FILTER,
                          deviceAndAppManagementAssignmentFilterType="none")},
        {"target": target("configurationManagerCollectionAssignmentTarget", collectionId="SMS00001")},
        {"target": {"@odata.type": "microsoft.graph.cloudPcManagementGroupAssignmentTarget", "groupId": "w365",
                    "servicePlanId": "plan"}},
    ]
    links = assignment_links(assignments)
    assigned = [(link.target_type, link.target_id, link.properties.get("intent"), link.properties.get("source_id"))
                for link in links if link.link_type == "assignment"]
    assert assigned == [("group", "g", "required", None), ("group", "g", "available", None),
                        ("group", "g", "required", "set1"), ("exclusionGroup", "x", None, None),
                        ("allDevices", "", None, None), ("allLicensedUsers", "", None, None),
                        ("configurationManagerCollection", "SMS00001", None, None), ("group", "w365", None, None)]
    assert len({(link.link_type, link.target_type, link.target_id, link.key) for link in links}) == len(links)
    filters = [(link.target_id, link.properties) for link in links if link.link_type == "assignment_filter"]
    assert filters == [("f1", {"filter_type": "exclude"})]
    assert links[-1].properties["service_plan_id"] == "plan"


def test_assignments_hashed_apart_and_only_when_read() -> None:
    ptype = BY_KEY["deviceConfiguration"]
    item = {"id": "c", "displayName": "C", "roleScopeTagIds": ["0"],
            "assignments": [{"id": "a", "target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}},
                            {"id": "b", "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget",
                                                   "groupId": "g"}}]}
    full = to_record(ptype, item)
    reordered = to_record(ptype, item | {"assignments": list(reversed(item["assignments"]))})
    assert reordered.assignments_hash == full.assignments_hash and reordered.content_hash == full.content_hash
    shallow = to_record(ptype, {k: v for k, v in item.items() if k != "assignments"}, dependencies_read=False)
    assert shallow.assignments_hash is None and not shallow.assignments_read
    assert shallow.content_hash == full.content_hash and shallow.payload_hash == full.payload_hash
    assert {link.link_type for link in shallow.links} == {"scope_tag"}
    none = to_record(ptype, {k: v for k, v in item.items() if k != "assignments"})
    assert none.assignments_hash is not None and none.assignments_hash != full.assignments_hash  # read: none


def test_names_categories_and_built_in_scope_tags() -> None:
    branding = to_record(BY_KEY["intuneBrandingProfile"], {"id": "b", "profileName": "EMEA", "displayName": "Contoso"})
    assert branding.display_name == "EMEA"
    assert to_record(BY_KEY["compliancePolicy"], {"id": "c", "name": "Linux"}).display_name == "Linux"
    for family, category in (("baseline", "Endpoint Security"), ("endpointSecurityAntivirus", "Endpoint Security"),
                             ("none", "Configuration"), ("deviceConfigurationScripts", "Configuration")):
        policy = {"id": "p", "name": "P", "templateReference": {"templateFamily": family}}
        assert to_record(BY_KEY["settingsCatalogPolicy"], policy).category == category
    assert BY_KEY["endpointSecurityIntent"].category == "Endpoint Security"
    tags = to_record(BY_KEY["deviceCategory"], {"id": "d", "roleScopeTagIds": ["0", "3"]}).links
    assert [(t.target_id, t.properties) for t in tags] == [("0", {"built_in": True}), ("3", {})]


def test_every_registry_type_has_documented_shapes_with_a_name() -> None:
    for ptype in POLICY_TYPES + FOUNDATIONS:
        assert SHAPES[ptype.key], ptype.key
    several = {key for key, shapes in SHAPES.items()
               if len({s.get("@odata.type") for s in shapes if s.get("@odata.type")}) >= 2}
    assert {"deviceConfiguration", "deviceCompliancePolicy", "mobileApp", "deviceEnrollmentConfiguration",
            "windowsAutopilotDeploymentProfile", "mobileAppConfiguration"} <= several
    platforms = {s["@odata.type"].split(".")[-1][:3] for s in SHAPES["deviceConfiguration"]}
    assert {"win", "ios", "and", "mac"} <= platforms


def test_policy_set_members_of_a_shared_subtype_resolve_through_item_type() -> None:
    """managedAppProtectionPolicySetItem and windows10EnrollmentCompletionPageConfigurationPolicySetItem, in
    the policySetItem resource's documented shape: the member's type is in `itemType`."""
    members = [
        {"@odata.type": "#microsoft.graph.managedAppProtectionPolicySetItem", "id": "m1", "payloadId": "ios1",
         "itemType": "#microsoft.graph.iosManagedAppProtection", "displayName": "iOS MAM", "status": "success",
         "errorCode": "noError", "guidedDeploymentTags": [], "targetedAppManagementLevels": "unspecified"},
        {"@odata.type": "#microsoft.graph.managedAppProtectionPolicySetItem", "id": "m2", "payloadId": "and1",
         "itemType": "#microsoft.graph.androidManagedAppProtection", "displayName": "Android MAM"},
        {"@odata.type": "#microsoft.graph.windows10EnrollmentCompletionPageConfigurationPolicySetItem",
         "id": "m3", "payloadId": "esp1", "itemType": "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration",
         "displayName": "ESP", "priority": 1}]
    record = to_record(BY_KEY["policySet"], {"id": "s", "displayName": "Set", "items": members})
    assert {(link.target_type, link.target_id) for link in record.links if link.link_type == "policy_set_item"} == {
        ("iosManagedAppProtection", "ios1"), ("androidManagedAppProtection", "and1"),
        ("deviceEnrollmentConfiguration", "esp1")}
    assert all(link.target_type in BY_KEY for link in record.links)


def test_a_scope_tag_group_target_keeps_its_object_and_kind() -> None:
    """scopeTagGroupAssignmentTarget (documented properties: entraObjectId, targetType user|device)."""
    [link] = assignment_links([{"id": "a1", "target": {
        "@odata.type": "#microsoft.graph.scopeTagGroupAssignmentTarget",
        "deviceAndAppManagementAssignmentFilterId": None, "deviceAndAppManagementAssignmentFilterType": "none",
        "targetType": "device", "entraObjectId": "6b4c0f3e-2a1d-4e5f-9a8b-7c6d5e4f3a2b"}}])
    assert (link.link_type, link.target_type, link.target_id) == (
        "assignment", "group", "6b4c0f3e-2a1d-4e5f-9a8b-7c6d5e4f3a2b")
    assert link.properties == {"target": "scopeTagGroupAssignmentTarget", "target_type": "device"}


def test_a_branding_profile_without_a_name_is_not_named_after_the_company() -> None:
    ptype = BY_KEY["intuneBrandingProfile"]
    default = {"id": "b0", "profileName": None, "displayName": "Contoso Ltd", "isDefaultProfile": True}
    assert to_record(ptype, default).display_name is None
    assert to_record(ptype, {**default, "profileName": "Kiosks"}).display_name == "Kiosks"


def test_a_filters_payloads_are_not_its_configuration() -> None:
    ptype = BY_KEY["assignmentFilter"]
    flt = {"id": "f", "displayName": "Lab", "platform": "windows10AndLater", "rule": "(device.deviceName -eq \"a\")",
           "payloads": []}
    used = {**flt, "payloads": [{"payloadId": "p1", "payloadType": "deviceConfigurationAndCompliance",
                                 "groupId": "g1", "assignmentFilterType": "include"}]}
    assert to_record(ptype, used).content_hash == to_record(ptype, flt).content_hash
    assert to_record(ptype, {**flt, "rule": "x"}).content_hash != to_record(ptype, flt).content_hash


def test_change_markers_compare_listed_and_stored_objects() -> None:
    ptype = BY_KEY["settingsCatalogPolicy"]
    listed = {"id": "p", "name": "P", "lastModifiedDateTime": "2026-11-02T10:00:00Z", "settingCount": 40}
    stored = {"lastModifiedDateTime": "2026-11-02T10:00:00Z", "settingCount": 40}
    assert change_marker(ptype, listed) == change_marker(ptype, stored) is not None
    assert change_marker(ptype, {**listed, "settingCount": 41}) != change_marker(ptype, stored)
    assert change_marker(ptype, {"id": "p"}) is None  # no marker shown: always read whole
    assert change_marker(BY_KEY["termsAndConditions"], listed) is None  # a type without markers


def test_what_an_incremental_read_may_skip_and_the_urls_below() -> None:
    assert BY_KEY["settingsCatalogPolicy"].change_markers == ("lastModifiedDateTime", "settingCount")
    assert BY_KEY["deviceCompliancePolicy"].change_markers == ("lastModifiedDateTime", "version")
    assert BY_KEY["policySet"].change_markers == () and BY_KEY["termsAndConditions"].change_markers == ()
    assert all(BY_KEY[key].reads_below for key in CHANGE_MARKERS)  # markers only where there is something to skip
    assert BY_KEY["termsAndConditions"].reads_below  # per-object assignments
    assert BY_KEY["deviceManagementScript"].reads_below  # detail fields
    assert not BY_KEY["deviceConfiguration"].reads_below and not BY_KEY["roleScopeTag"].reads_below
    [actions] = BY_KEY["deviceCompliancePolicy"].sub_resources
    assert actions.relative_url("/c/1") == "/c/1/scheduledActionsForRule?$expand=scheduledActionConfigurations"
    both = SubResource("k", "k", expand="e", top=5)
    assert both.relative_url("/p") == "/p/k?$expand=e&$top=5"


def test_the_progress_record_has_one_shape() -> None:
    progress = RunProgress(types_total=3, read_mode="incremental", types_done=1, current_types={"b", "a"})
    snapshot = progress.counted(Totals(observed=7, upserted=1, deleted=0, errors=0, unchanged=5))
    progress.current_types.add("c")  # the snapshot is its own
    assert snapshot.as_json() == {"types_total": 3, "read_mode": "incremental", "types_done": 1,
                                  "current_types": ["a", "b"], "items_seen": 7, "items_unchanged": 5}
    final = replace(snapshot, types_failed=0, duration_seconds=1.5, graph_requests=10, graph_round_trips=4,
                    graph_throttled=0, graph_paced=0)
    assert set(final.as_json()) == {"types_total", "read_mode", "types_done", "current_types", "items_seen",
                                    "items_unchanged", "types_failed", "duration_seconds", "graph_requests",
                                    "graph_round_trips", "graph_throttled", "graph_paced"}
    units = {"a": UnitOutcome(observed=4, unchanged=3), "b": UnitOutcome(observed=2, unchanged=1, upserted=1)}
    assert EngineResult(units).totals() == Totals(observed=6, upserted=1, deleted=0, errors=0, unchanged=4)
