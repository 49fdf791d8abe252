"""The change-set rules (pure): the JSON Patch always turns the previous configuration into the new one,
names the exact path of a nested change, keeps each value it replaces or removes (a `test` operation the patch
itself checks), and never mentions noise; links added and removed."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
from hypothesis import given, settings
from hypothesis import strategies as st

from inventory_sync.domain.changes import changes_between, entries_of, link_changes
from inventory_sync.domain.configuration import configuration_of
from inventory_sync.domain.items import Link
from inventory_sync.domain.registry import BY_KEY

PTYPE = BY_KEY["settingsCatalogPolicy"]
keys = st.text(alphabet="ab/~c", min_size=1, max_size=3)  # "/" and "~" need RFC 6901 escaping
json_values = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
                           max_leaves=20)
documents = st.dictionaries(keys, json_values, max_size=5)


@settings(max_examples=300, deadline=None)
@given(previous=documents, new=documents)
def test_the_patch_turns_the_previous_configuration_into_the_new_one(previous, new) -> None:
    before = {"id": "p", **previous}
    after = {"id": "p", **new}
    patch = changes_between(PTYPE, before, after)
    # applying checks every `test` operation: each earlier value is the one the operation finds there
    assert jsonpatch.apply_patch(configuration_of(PTYPE, before), patch) == configuration_of(PTYPE, after)
    assert (patch == []) == (configuration_of(PTYPE, before) == configuration_of(PTYPE, after))
    # every operation that drops a value is preceded by the test holding it, and reads as "old → new"
    for index, op in enumerate(patch):
        if op["op"] in ("replace", "remove", "move"):
            where = op["from"] if op["op"] == "move" else op["path"]
            assert patch[index - 1]["op"] == "test" and patch[index - 1]["path"] == where
    entries = entries_of(patch)
    assert len(entries) == sum(1 for op in patch if op["op"] != "test")
    assert all(e["old"] == ("absent" if e["op"] == "add" else "value") for e in entries)


def test_a_nested_change_is_named_by_its_path_and_noise_is_not_a_change() -> None:
    before: dict[str, Any] = {"id": "p", "name": "Firewall", "lastModifiedDateTime": "a", "settings": [
        {"id": "0", "settingInstance": {"settingDefinitionId": "x", "choiceSettingValue": {
            "value": "x_0", "children": [{"settingDefinitionId": "y", "simpleSettingValue": {"value": 5}}]}}}]}
    after = copy.deepcopy(before)
    after["lastModifiedDateTime"] = "b"
    assert changes_between(PTYPE, before, after) == []
    after["settings"][0]["settingInstance"]["choiceSettingValue"]["children"][0]["simpleSettingValue"]["value"] = 6
    path = "/settings/0/settingInstance/choiceSettingValue/children/0/simpleSettingValue/value"
    patch = changes_between(PTYPE, before, after)
    assert patch == [{"op": "test", "path": path, "value": 5},
                     {"op": "replace", "path": path, "value": 6, "setting": "y"}]  # the innermost setting
    assert entries_of(patch) == [{"op": "replace", "path": path, "from_path": None, "setting": "y", "old": "value",
                                  "old_value": 5, "new": "value", "new_value": 6}]
    # a setting added to the list is named by its instance
    after["settings"].append({"id": "1", "settingInstance": {"settingDefinitionId": "z", "simpleSettingValue": {}}})
    added = [e for e in entries_of(changes_between(PTYPE, before, after)) if e["op"] == "add"]
    assert [(e["path"], e["setting"]) for e in added] == [("/settings/1", "z")]


def test_a_patch_recorded_before_earlier_values_were_kept_says_so() -> None:
    older: list[dict[str, Any]] = [{"op": "replace", "path": "/a", "value": 2}, {"op": "remove", "path": "/b"},
             {"op": "add", "path": "/c", "value": 1}]
    assert [(e["op"], e["old"], e["new"], e["new_value"]) for e in entries_of(older)] == [
        ("replace", "not_recorded", "value", 2), ("remove", "not_recorded", "absent", None),
        ("add", "absent", "value", 1)]


def test_links_added_and_removed() -> None:
    kept = Link("scope_tag", "roleScopeTag", "0", {"built_in": True})
    old = Link("assignment", "group", "g1", {"intent": "required"}, "intent=required")
    new = Link("assignment", "group", "g1", {"intent": "available"}, "intent=available")
    diff = link_changes([kept, old], [kept, new])
    assert diff == {"added": [{"link_type": "assignment", "target_type": "group", "target_id": "g1",
                               "properties": {"intent": "available"}}],
                    "removed": [{"link_type": "assignment", "target_type": "group", "target_id": "g1",
                                 "properties": {"intent": "required"}}]}
    assert link_changes([kept], [kept]) == {"added": [], "removed": []}


def test_a_move_keeps_the_moved_value_and_an_administrative_template_is_named_by_its_definition() -> None:
    gpo = BY_KEY["groupPolicyConfiguration"]
    value = {"id": "v1", "enabled": True, "definition": {"id": "d1", "displayName": "Turn off Autoplay"}}
    before = {"id": "g", "definitionValues": [value, {"id": "v2", "enabled": False}]}
    after = {"id": "g", "definitionValues": [{**value, "enabled": False}, {"id": "v2", "enabled": False}]}
    [entry] = entries_of(changes_between(gpo, before, after))
    assert (entry["setting"], entry["old_value"], entry["new_value"]) == ("Turn off Autoplay", True, False)
    moved = entries_of([{"op": "test", "path": "/a/0", "value": 7}, {"op": "move", "from": "/a/0", "path": "/a/2"}])
    assert moved == [{"op": "move", "path": "/a/2", "from_path": "/a/0", "setting": None, "old": "value",
                      "old_value": 7, "new": "value", "new_value": 7}]
    # a test on another path is not this operation's earlier value
    other = entries_of([{"op": "test", "path": "/b", "value": 1}, {"op": "replace", "path": "/a", "value": 2}])
    assert other[0]["old"] == "not_recorded" and other[0]["old_value"] is None


def test_a_removed_list_element_is_named_by_the_setting_it_was() -> None:
    before = {"id": "p", "settings": [
        {"id": "0", "settingInstance": {"settingDefinitionId": "keep", "simpleSettingValue": {"value": 1}}},
        {"id": "1", "settingInstance": {"settingDefinitionId": "gone", "simpleSettingValue": {"value": 2}}}]}
    after = {"id": "p", "settings": before["settings"][:1]}
    [entry] = entries_of(changes_between(PTYPE, before, after))
    assert (entry["op"], entry["path"], entry["setting"], entry["old"]) == ("remove", "/settings/1", "gone", "value")
    assert entry["old_value"] == before["settings"][1]


def test_what_a_finished_run_says_of_the_apps_permissions() -> None:
    from inventory_sync.domain.outcomes import permission_findings
    from inventory_sync.domain.registry import DMA, DMC, RBAC

    selection = {"policy_types": ["deviceConfiguration", "mobileApp", "policySet"], "include_foundations": False}
    forbidden = {"types": {"mobileApp": {"code": "graph_forbidden", "permission": DMA},
                           "policySet": {"code": "graph_unavailable"}}}
    assert permission_findings("partial", ["graph_forbidden", "graph_unavailable"], forbidden, selection) == (
        {DMA}, {DMC})  # policySet failed otherwise: it proves nothing, deviceConfiguration proves DMC
    assert permission_findings("success", [], {}, {**selection, "include_foundations": True}) == (
        set(), {DMC, DMA, RBAC, "DeviceManagementServiceConfig.Read.All"})
    for status, codes in (("failed", ["graph_auth_failed"]), ("skipped", ["lock_held"]),
                          ("partial", ["graph_forbidden", "cancelled"]), ("running", [])):
        assert permission_findings(status, codes, forbidden, selection) is None


def test_every_type_has_its_admin_center_name_and_each_category_syncs_what_it_lists() -> None:
    from inventory_sync.domain.items import category_of
    from inventory_sync.domain.registry import (
        CATEGORIES,
        CATEGORY_NAMES,
        DISPLAY_NAMES,
        FOUNDATIONS,
        POLICY_TYPES,
        types_of_category,
    )

    assert set(DISPLAY_NAMES) == {t.key for t in POLICY_TYPES + FOUNDATIONS}
    assert set(CATEGORIES) | {"Foundations"} == set(CATEGORY_NAMES)
    assert BY_KEY["settingsCatalogPolicy"].display_name == "Settings catalog"
    assert BY_KEY["settingsCatalogPolicy"].as_dict()["display_name"] == "Settings catalog"
    security = {"templateReference": {"templateFamily": "endpointSecurityFirewall"}}
    assert category_of(PTYPE, security) == "Endpoint Security" == CATEGORIES[CATEGORIES.index("Endpoint Security")]
    assert category_of(PTYPE, {"templateReference": {"templateFamily": "none"}}) == "Configuration"
    assert set(types_of_category("Endpoint Security")) == {"endpointSecurityIntent", "settingsCatalogPolicy"}
    assert "settingsCatalogPolicy" in types_of_category("Configuration")
    for category in CATEGORIES:  # every type sits in its own category, once
        assert all(category in BY_KEY[k].categories for k in types_of_category(category))
    assert sum(len(types_of_category(c)) for c in CATEGORIES) == len(POLICY_TYPES) + 1
