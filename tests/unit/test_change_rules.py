"""The change-set rules (pure): the JSON Patch always turns the previous configuration into the new one,
names the exact path of a nested change, and never mentions noise; links added and removed."""

from __future__ import annotations

import copy

import jsonpatch
from hypothesis import given, settings
from hypothesis import strategies as st

from inventory_sync.domain.changes import changes_between, link_changes
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
    assert jsonpatch.apply_patch(configuration_of(PTYPE, before), patch) == configuration_of(PTYPE, after)
    assert (patch == []) == (configuration_of(PTYPE, before) == configuration_of(PTYPE, after))


def test_a_nested_change_is_named_by_its_path_and_noise_is_not_a_change() -> None:
    before = {"id": "p", "name": "Firewall", "lastModifiedDateTime": "a", "settings": [
        {"id": "0", "settingInstance": {"settingDefinitionId": "x", "choiceSettingValue": {
            "value": "x_0", "children": [{"settingDefinitionId": "y", "simpleSettingValue": {"value": 5}}]}}}]}
    after = copy.deepcopy(before)
    after["lastModifiedDateTime"] = "b"
    assert changes_between(PTYPE, before, after) == []
    after["settings"][0]["settingInstance"]["choiceSettingValue"]["children"][0]["simpleSettingValue"]["value"] = 6
    assert changes_between(PTYPE, before, after) == [{
        "op": "replace", "path": "/settings/0/settingInstance/choiceSettingValue/children/0/simpleSettingValue/value",
        "value": 6}]


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
