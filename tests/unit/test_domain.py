"""Domain rules without AWS or a database: selection, status mapping, state machines, item records."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inventory_sync.domain.error_codes import ErrorCode
from inventory_sync.domain.items import NO_FILTER, InvalidItem, to_record
from inventory_sync.domain.messages import RunMessage
from inventory_sync.domain.registry import (
    BY_KEY,
    CATEGORIES,
    FOUNDATIONS,
    POLICY_TYPES,
    UnknownPolicyTypes,
    filter_runtime,
)
from inventory_sync.domain.selection import SelectionError, SelectionRequest, full_inventory, normalise
from inventory_sync.domain.status import (
    ABORTED,
    BulkStatus,
    IllegalTransition,
    RunStatus,
    check_bulk_transition,
    check_run_transition,
    outcome_for_run,
    run_status,
)

KEYS = [t.key for t in POLICY_TYPES]


def test_registry_covers_policy_types_md() -> None:
    assert len(POLICY_TYPES) == 31 and len(FOUNDATIONS) == 4
    assert BY_KEY["policySet"].assignments.value == "batch"
    assert BY_KEY["termsAndConditions"].assignments.value == "batch"
    assert BY_KEY["deviceCategory"].assignments.value == "none"
    assert BY_KEY["roleScopeTag"].list_filter == "isBuiltIn eq false"
    assert [s.path for s in BY_KEY["settingsCatalogPolicy"].sub_resources] == ["settings"]
    assert "Windows 365" in CATEGORIES and "Foundations" not in CATEGORIES


def test_runtime_filter() -> None:
    assert filter_runtime().is_enabled("mobileApp")
    only = filter_runtime(enabled=["mobileApp", "deviceConfiguration"], disabled=["mobileApp"])
    assert [t.key for t in only.enabled_policy_types] == ["deviceConfiguration"]
    with pytest.raises(UnknownPolicyTypes):
        filter_runtime(disabled=["nope"])


@given(st.lists(st.sampled_from(KEYS), min_size=1, max_size=12), st.randoms())
def test_same_selection_in_any_order_or_with_duplicates_hashes_the_same(keys, rnd) -> None:
    registry = filter_runtime()
    shuffled = keys + keys[:3]
    rnd.shuffle(shuffled)
    a = normalise(SelectionRequest(policy_types=keys), registry)
    b = normalise(SelectionRequest(policy_types=shuffled), registry)
    assert a.selection_hash == b.selection_hash
    assert a.selection.policy_types == sorted(set(keys))


def test_empty_body_is_the_full_explicit_inventory() -> None:
    resolved = full_inventory(filter_runtime())
    assert resolved.selection.policy_types == sorted(KEYS)
    assert resolved.selection.include_foundations and resolved.selection.include_dependencies
    assert resolved.selection.canonical_json().startswith('{"categories":[],"include_dependencies":true')


def test_unknown_keys_and_nothing_left() -> None:
    with pytest.raises(SelectionError) as info:
        normalise(SelectionRequest(policy_types=["deviceConfiguration", "bogus"]), filter_runtime())
    assert info.value.errors[0]["positions"] == [1] and "bogus" not in str(info.value.errors)
    with pytest.raises(SelectionError, match="nothing left"):
        normalise(SelectionRequest(policy_types=["mobileApp"], categories=["Scripts"]), filter_runtime())


@pytest.mark.parametrize(("status", "codes", "bulk", "counters", "action"), [
    (RunStatus.SUCCESS, [], BulkStatus.COMPLETED, (1, 1, 0, 0), "inventory.sync.completed"),
    (RunStatus.PARTIAL, ["graph_forbidden"], BulkStatus.COMPLETED_WITH_ERRORS, (1, 1, 0, 0),
     "inventory.sync.completed"),
    (RunStatus.FAILED, ["graph_auth_failed"], BulkStatus.FAILED, (1, 0, 1, 0), "inventory.sync.failed"),
    (RunStatus.SKIPPED, ["lock_held"], BulkStatus.COMPLETED, (1, 0, 0, 1), "inventory.sync.skipped"),
    (RunStatus.FAILED, ["cancelled"], BulkStatus.ABORTED, (1, 0, 0, 1), "inventory.sync.aborted"),
])
def test_design_table_mapping(status, codes, bulk, counters, action) -> None:
    outcome = outcome_for_run(status, codes)
    assert outcome.bulk_status is bulk
    assert (outcome.processed, outcome.succeeded, outcome.failed, outcome.skipped) == counters
    assert outcome.audit_action == action
    assert ABORTED.counters == {"processed_items": 1, "succeeded": 0, "failed": 0, "skipped": 1}


def test_status_rule() -> None:
    assert run_status(3, 0, []) is RunStatus.SUCCESS
    assert run_status(2, 1, [ErrorCode.GRAPH_FORBIDDEN]) is RunStatus.PARTIAL
    assert run_status(0, 3, [ErrorCode.GRAPH_FORBIDDEN]) is RunStatus.FAILED
    assert run_status(3, 0, [ErrorCode.GRAPH_AUTH_FAILED]) is RunStatus.FAILED
    assert run_status(2, 1, [ErrorCode.DEADLINE_EXCEEDED]) is RunStatus.PARTIAL


def test_state_machines() -> None:
    check_run_transition(RunStatus.RUNNING, RunStatus.SUCCESS)
    with pytest.raises(IllegalTransition):
        check_run_transition(RunStatus.SUCCESS, RunStatus.FAILED)
    check_bulk_transition(BulkStatus.PENDING, BulkStatus.RUNNING)
    check_bulk_transition(BulkStatus.PENDING, BulkStatus.ABORTED)
    for terminal in (BulkStatus.COMPLETED, BulkStatus.FAILED, BulkStatus.ABORTED):
        with pytest.raises(IllegalTransition):
            check_bulk_transition(terminal, BulkStatus.RUNNING)
    with pytest.raises(IllegalTransition):
        check_bulk_transition(BulkStatus.PENDING, BulkStatus.COMPLETED)


def test_item_record_and_links() -> None:
    item = {"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "id": "abc", "displayName": "Baseline",
            "roleScopeTagIds": ["0", "7"], "assignments": [
                {"id": "a1", "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "g1",
                                        "deviceAndAppManagementAssignmentFilterId": "f1",
                                        "deviceAndAppManagementAssignmentFilterType": "include"}},
                {"id": "a2", "target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget",
                                        "deviceAndAppManagementAssignmentFilterId": NO_FILTER,
                                        "deviceAndAppManagementAssignmentFilterType": "none"}}]}
    record = to_record(BY_KEY["deviceConfiguration"], item)
    assert record.platform == "windows" and record.category == "Configuration" and record.display_name == "Baseline"
    kinds = {(link.link_type, link.target_type, link.target_id) for link in record.links}
    assert kinds == {("assignment", "group", "g1"), ("assignment_filter", "assignmentFilter", "f1"),
                     ("assignment", "allDevices", ""), ("scope_tag", "roleScopeTag", "0"),
                     ("scope_tag", "roleScopeTag", "7")}
    reordered = dict(reversed(list(item.items())))
    assert to_record(BY_KEY["deviceConfiguration"], reordered).content_hash == record.content_hash
    assert to_record(BY_KEY["deviceCategory"], {"id": "c"}).links == ()
    with pytest.raises(InvalidItem):
        to_record(BY_KEY["mobileApp"], {"displayName": "no id"})
    security = to_record(BY_KEY["settingsCatalogPolicy"], {"id": "p", "name": "FW", "platforms": "windows10",
                                                            "templateReference": {"templateFamily":
                                                                                  "endpointSecurityFirewall"}})
    assert security.category == "Endpoint Security" and security.display_name == "FW"


def test_run_message_rejects_a_hash_that_does_not_match() -> None:
    resolved = full_inventory(filter_runtime())
    body = {"version": 1, "bulk_operation_run_id": 1, "tenant_id": 1, "user_id": None,
            "selection": resolved.selection.model_dump(), "selection_hash": "0" * 64, "trigger": "api",
            "correlation_id": "c", "dispatched_at": "2026-11-27T00:00:00Z"}
    with pytest.raises(ValueError, match="selection_hash"):
        RunMessage.model_validate(body)
    body["selection_hash"] = resolved.selection_hash
    assert RunMessage.model_validate(body).tenant_id == 1


def test_every_terminal_event_carries_the_same_metadata() -> None:
    from inventory_sync.domain.audit import Actor, RunFacts, terminal_event
    from inventory_sync.domain.status import ABORTED, FAILED_WITHOUT_RUN, outcome_for_run

    run = RunFacts(7, "partial", 40, 3, {"added": 1, "changed": 2, "deleted": 0, "restored": 0})
    finished = terminal_event(tenant_id=1, bulk_operation_run_id=5, actor=Actor.system(),
                              outcome=outcome_for_run(RunStatus.PARTIAL, ["graph_forbidden"]), run=run,
                              error_codes=["graph_forbidden"], correlation_id="c")
    never_ran = terminal_event(tenant_id=1, bulk_operation_run_id=6, actor=Actor.system(), outcome=FAILED_WITHOUT_RUN,
                               run=None, error_codes=["run_crashed"], correlation_id="c", reason="dead-lettered")
    cancelled = terminal_event(tenant_id=1, bulk_operation_run_id=8, actor=Actor("user", 3), outcome=ABORTED,
                               run=None, error_codes=["cancelled"], correlation_id="c",
                               reason="cancelled while pending")
    assert (finished.action, finished.resource_type, finished.resource_id, finished.status) == (
        "inventory.sync.completed", "inventory_sync_run", "7", "success")
    assert finished.metadata["status"] == "partial" and finished.metadata["items_upserted_count"] == 3
    assert (never_ran.action, never_ran.resource_type, never_ran.resource_id, never_ran.status) == (
        "inventory.sync.failed", "bulk_operation_run", "6", "failure")
    assert never_ran.metadata["status"] == "failed" and never_ran.metadata["inventory_sync_run_id"] is None
    assert cancelled.action == "inventory.sync.aborted" and cancelled.metadata["status"] == "aborted"
    shared = set(finished.metadata)
    assert set(never_ran.metadata) - {"reason"} == shared and set(cancelled.metadata) - {"reason"} == shared
