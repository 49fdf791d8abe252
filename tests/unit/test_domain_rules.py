"""The domain's rules pinned one by one: each test here kills mutants that `make mutation` found surviving
(devtools/mutation/). Pure: no database, no AWS, milliseconds each, so mutmut can run them per mutant."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import jsonpatch
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from inventory_sync.domain import audit, changes, configuration, items, messages, outcomes, registry, selection
from inventory_sync.domain.error_codes import FATAL_CODES, ErrorCode
from inventory_sync.domain.registry import BY_KEY, FOUNDATIONS, POLICY_TYPES, filter_runtime
from inventory_sync.domain.status import (
    ABORTED,
    FAILED_WITHOUT_RUN,
    AuditAction,
    BulkStatus,
    IllegalTransition,
    RunStatus,
    check_bulk_transition,
    check_run_transition,
    outcome_for_run,
    run_status,
)
from inventory_sync.domain.tenancy import CredentialIn, MemberIn, TenantCreate, TenantPatch, claim_values

GUID = "2b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091"
DMC = "DeviceManagementConfiguration.Read.All"
DMA = "DeviceManagementApps.Read.All"
DMSC = "DeviceManagementServiceConfig.Read.All"
DMS = "DeviceManagementScripts.Read.All"
RBAC = "DeviceManagementRBAC.Read.All"


# --- the registry: each type's collection, permission and assignment mode, as Microsoft documents them ------

# key: (collection, permission, assignments, v1.0 collection too)
DOCUMENTED = {
    "deviceConfiguration": ("/deviceManagement/deviceConfigurations", DMC, "expand", True),
    "settingsCatalogPolicy": ("/deviceManagement/configurationPolicies", DMC, "expand", False),
    "groupPolicyConfiguration": ("/deviceManagement/groupPolicyConfigurations", DMC, "expand", False),
    "hardwareConfiguration": ("/deviceManagement/hardwareConfigurations", DMC, "expand", False),
    "deviceCompliancePolicy": ("/deviceManagement/deviceCompliancePolicies", DMC, "expand", True),
    "compliancePolicy": ("/deviceManagement/compliancePolicies", DMC, "expand", False),
    "deviceComplianceScript": ("/deviceManagement/deviceComplianceScripts", DMS, "none", False),
    "endpointSecurityIntent": ("/deviceManagement/intents", DMC, "expand", False),
    "deviceManagementScript": ("/deviceManagement/deviceManagementScripts", DMS, "expand", False),
    "deviceShellScript": ("/deviceManagement/deviceShellScripts", DMS, "expand", False),
    "deviceCustomAttributeShellScript": ("/deviceManagement/deviceCustomAttributeShellScripts", DMS, "expand",
                                         False),
    "deviceHealthScript": ("/deviceManagement/deviceHealthScripts", DMS, "expand", False),
    "mobileApp": ("/deviceAppManagement/mobileApps", DMA, "expand", True),
    "mobileAppConfiguration": ("/deviceAppManagement/mobileAppConfigurations", DMA, "expand", True),
    "targetedManagedAppConfiguration": ("/deviceAppManagement/targetedManagedAppConfigurations", DMA, "expand",
                                        True),
    "iosManagedAppProtection": ("/deviceAppManagement/iosManagedAppProtections", DMA, "expand", True),
    "androidManagedAppProtection": ("/deviceAppManagement/androidManagedAppProtections", DMA, "expand", True),
    "windowsManagedAppProtection": ("/deviceAppManagement/windowsManagedAppProtections", DMA, "expand", False),
    "windowsInformationProtectionPolicy": ("/deviceAppManagement/windowsInformationProtectionPolicies", DMA,
                                           "expand", True),
    "policySet": ("/deviceAppManagement/policySets", DMC, "batch", False),
    "windowsAutopilotDeploymentProfile": ("/deviceManagement/windowsAutopilotDeploymentProfiles", DMSC, "expand",
                                          False),
    "deviceEnrollmentConfiguration": ("/deviceManagement/deviceEnrollmentConfigurations", DMSC, "expand", True),
    "appleUserInitiatedEnrollmentProfile": ("/deviceManagement/appleUserInitiatedEnrollmentProfiles", DMSC,
                                            "expand", False),
    "windowsFeatureUpdateProfile": ("/deviceManagement/windowsFeatureUpdateProfiles", DMC, "expand", False),
    "windowsQualityUpdateProfile": ("/deviceManagement/windowsQualityUpdateProfiles", DMC, "expand", False),
    "windowsDriverUpdateProfile": ("/deviceManagement/windowsDriverUpdateProfiles", DMC, "expand", False),
    "termsAndConditions": ("/deviceManagement/termsAndConditions", DMSC, "batch", True),
    "intuneBrandingProfile": ("/deviceManagement/intuneBrandingProfiles", DMA, "expand", False),
    "deviceCategory": ("/deviceManagement/deviceCategories", DMC, "none", True),
    "conditionalAccessPolicy": ("/identity/conditionalAccess/policies", "Policy.Read.All", "none", True),
    "cloudPcProvisioningPolicy": ("/deviceManagement/virtualEndpoint/provisioningPolicies", "CloudPC.Read.All",
                                  "expand", False),
    "roleScopeTag": ("/deviceManagement/roleScopeTags", RBAC, "none", False),
    "assignmentFilter": ("/deviceManagement/assignmentFilters", DMC, "none", False),
    "notificationMessageTemplate": ("/deviceManagement/notificationMessageTemplates", DMSC, "none", False),
    "roleDefinition": ("/deviceManagement/roleDefinitions", RBAC, "none", False),
}


def test_every_type_reads_its_documented_collection_with_its_documented_permission() -> None:
    """A wrong permission tells the administrator to grant the wrong one (error context, permission check)."""
    actual = {t.key: (t.collection, t.permission, t.assignments.value, t.v1_available)
              for t in POLICY_TYPES + FOUNDATIONS}
    assert actual == DOCUMENTED
    assert all(t.api_version == "beta" for t in BY_KEY.values())
    assert [t.foundation for t in FOUNDATIONS] == [True] * 4
    assert not any(t.foundation for t in POLICY_TYPES)


def test_the_registry_says_how_each_type_is_read() -> None:
    names = {k: t.name_field for k, t in BY_KEY.items() if t.name_field != "displayName"}
    assert names == {"settingsCatalogPolicy": "name", "compliancePolicy": "name",
                     "intuneBrandingProfile": "profileName"}
    tags = {k for k, t in BY_KEY.items() if t.scope_tags_field != "roleScopeTagIds"}
    assert tags == {"policySet", "assignmentFilter"}
    assert BY_KEY["policySet"].item_expand == ("items",)
    assert {k: t.detail_fields for k, t in BY_KEY.items() if t.detail_fields} == {
        "deviceComplianceScript": ("detectionScriptContent",),
        "deviceManagementScript": ("scriptContent",),
        "deviceShellScript": ("scriptContent",),
        "deviceCustomAttributeShellScript": ("scriptContent",),
        "deviceHealthScript": ("detectionScriptContent", "remediationScriptContent"),
    }
    assert {k: t.list_filter for k, t in BY_KEY.items() if t.list_filter} == {"roleScopeTag": "isBuiltIn eq false"}
    assert BY_KEY["roleScopeTag"].built_in_ids == frozenset({"0"})
    assert all(t.supports_top for t in BY_KEY.values())


def test_sub_resources_and_their_expands() -> None:
    """Administrative templates read each definition value with its definition, and its presentation values
    with their presentation: drop an `$expand` and the definitions are never read."""
    gp = BY_KEY["groupPolicyConfiguration"].sub_resources[0]
    assert (gp.key, gp.path, gp.expand) == ("definitionValues", "definitionValues", "definition")
    assert gp.relative_url("/deviceManagement/groupPolicyConfigurations/p1") == (
        "/deviceManagement/groupPolicyConfigurations/p1/definitionValues?$expand=definition")
    child = gp.children[0]
    assert (child.key, child.path, child.expand) == ("presentationValues", "presentationValues", "presentation")
    assert child.relative_url("/x/definitionValues/d1") == (
        "/x/definitionValues/d1/presentationValues?$expand=presentation")
    settings = BY_KEY["settingsCatalogPolicy"].sub_resources[0]
    assert settings.relative_url("/p") == "/p/settings?$top=1000"  # the largest page the endpoint serves
    assert [s.key for s in BY_KEY["compliancePolicy"].sub_resources][:1] == ["settings"]
    assert [s.key for s in BY_KEY["endpointSecurityIntent"].sub_resources] == ["settings"]


def test_reporting_fields_are_not_configuration() -> None:
    assert frozenset({"createdDateTime", "lastModifiedDateTime", "modifiedDateTime",
                                                    "version", "isAssigned"}) == registry.SERVER_MAINTAINED
    assert BY_KEY["settingsCatalogPolicy"].not_configuration == frozenset({"settingCount"})
    assert BY_KEY["policySet"].not_configuration == frozenset({"status", "errorCode"})
    assert BY_KEY["windowsDriverUpdateProfile"].not_configuration == frozenset(
        {"deviceReporting", "newUpdates", "inventorySyncStatus"})
    assert "uploadState" in BY_KEY["mobileApp"].not_configuration
    assert BY_KEY["iosManagedAppProtection"].not_configuration == frozenset({"deployedAppCount"})
    assert BY_KEY["deviceHealthScript"].not_configuration == frozenset({"highestAvailableVersion"})
    # a configuration field never sits in a noise list: `description` and `displayName` count as change
    for t in BY_KEY.values():
        assert not {"description", "displayName", "name", "settings"} & (t.not_configuration
                                                                          | registry.SERVER_MAINTAINED)


def test_as_dict_is_what_the_policy_types_route_lists() -> None:
    entry = BY_KEY["mobileApp"].as_dict()
    assert {k: entry[k] for k in ("key", "collection", "category", "permission", "assignments", "api_version",
                                  "v1_available", "foundation")} == {
        "key": "mobileApp", "collection": "/deviceAppManagement/mobileApps", "category": "Apps",
        "permission": DMA, "assignments": "expand", "api_version": "beta", "v1_available": True,
        "foundation": False}
    assert BY_KEY["roleScopeTag"].as_dict()["foundation"] is True


def test_unknown_runtime_keys_are_named() -> None:
    with pytest.raises(registry.UnknownPolicyTypes) as raised:
        filter_runtime(enabled=["zeta", "alpha", "mobileApp"])
    assert raised.value.unknown == ["alpha", "zeta"]
    assert str(raised.value) == "unknown policy type(s): alpha, zeta"
    runtime = filter_runtime(disabled=["roleScopeTag"])
    assert [t.key for t in runtime.enabled_foundations] == ["assignmentFilter", "notificationMessageTemplate",
                                                            "roleDefinition"]
    assert len(runtime.enabled_policy_types) == len(POLICY_TYPES)


# --- selection -----------------------------------------------------------------------------------------------

REG = filter_runtime()


def test_selection_defaults_and_explicit_false() -> None:
    full = selection.normalise(selection.SelectionRequest(), REG).selection
    assert full.include_foundations is True and full.include_dependencies is True
    assert full.policy_types == sorted(t.key for t in POLICY_TYPES) and full.categories == []
    off = selection.normalise(selection.SelectionRequest(policy_types=["mobileApp"], include_foundations=False,
                                                         include_dependencies=False), REG).selection
    assert (off.include_foundations, off.include_dependencies) == (False, False)
    only_foundations_off = selection.normalise(selection.SelectionRequest(include_foundations=False), REG)
    assert only_foundations_off.selection.include_dependencies is True


def test_selection_hash_is_sha256_of_the_canonical_json() -> None:
    chosen = selection.normalise(selection.SelectionRequest(policy_types=["mobileApp", "deviceCategory"]),
                                 REG).selection
    canonical = ('{"categories":[],"include_dependencies":true,"include_foundations":true,'
                 '"policy_types":["deviceCategory","mobileApp"]}')
    assert chosen.canonical_json() == canonical
    assert chosen.hash == hashlib.sha256(canonical.encode()).hexdigest()


def test_unknown_entries_are_reported_by_position_with_the_valid_ones() -> None:
    with pytest.raises(selection.SelectionError) as raised:
        selection.normalise(selection.SelectionRequest(policy_types=["mobileApp", "nope", "x"],
                                                       categories=["Apps", "Bogus"]), REG)
    error = raised.value
    assert error.detail == "the selection names unknown policy types or categories" == str(error)
    assert error.errors == [
        {"field": "policy_types", "message": "2 unknown policy type(s)", "positions": [1, 2],
         "valid": sorted(t.key for t in POLICY_TYPES)},
        {"field": "categories", "message": "1 unknown category(ies)", "positions": [1],
         "valid": list(registry.CATEGORIES)},
    ]
    with pytest.raises(selection.SelectionError) as only_categories:
        selection.normalise(selection.SelectionRequest(categories=["Bogus"]), REG)
    assert [e["field"] for e in only_categories.value.errors] == ["categories"]
    with pytest.raises(selection.SelectionError) as foundations:  # foundations are not policy types
        selection.normalise(selection.SelectionRequest(policy_types=["roleScopeTag"]), REG)
    assert foundations.value.errors[0]["positions"] == [0]


def test_disabled_types_are_dropped_and_reported_and_categories_narrow() -> None:
    runtime = filter_runtime(disabled=["mobileApp", "deviceCategory"])
    resolved = selection.normalise(selection.SelectionRequest(
        policy_types=["mobileApp", "mobileAppConfiguration", "deviceCategory", "deviceConfiguration"]), runtime)
    assert resolved.selection.policy_types == ["deviceConfiguration", "mobileAppConfiguration"]
    assert resolved.ignored_policy_types == ["deviceCategory", "mobileApp"]
    assert resolved.selection_hash == resolved.selection.hash
    full = selection.full_inventory(runtime)
    assert full.ignored_policy_types == [] and "mobileApp" not in full.selection.policy_types
    narrowed = selection.normalise(selection.SelectionRequest(
        policy_types=["mobileApp", "deviceConfiguration"], categories=["Apps", "Apps"]), REG)
    assert narrowed.selection.policy_types == ["mobileApp"] and narrowed.selection.categories == ["Apps"]
    by_category = selection.normalise(selection.SelectionRequest(categories=["Scripts"]), REG).selection
    assert by_category.policy_types == sorted(t.key for t in POLICY_TYPES if t.category == "Scripts")


def test_nothing_left_names_what_was_ignored_and_what_is_valid() -> None:
    runtime = filter_runtime(disabled=["mobileApp"])
    with pytest.raises(selection.SelectionError) as raised:
        selection.normalise(selection.SelectionRequest(policy_types=["mobileApp"]), runtime)
    assert raised.value.detail == "nothing left to sync: no enabled policy type matches the selection"
    assert raised.value.errors == [{"field": "policy_types", "message": "no enabled policy type matches",
                                    "ignored": ["mobileApp"],
                                    "valid": sorted(t.key for t in runtime.enabled_policy_types)}]
    with pytest.raises(selection.SelectionError):
        selection.normalise(selection.SelectionRequest(policy_types=["mobileApp"], categories=["Scripts"]), REG)


def test_selection_requests_are_strict_and_bounded() -> None:
    for bad in ({"policy_types": "mobileApp"}, {"include_foundations": "true"}, {"extra": 1},
                {"policy_types": ["x"] * (selection.MAX_LIST + 1)}, {"categories": ["x"] * (selection.MAX_LIST + 1)}):
        with pytest.raises(ValidationError):
            selection.SelectionRequest.model_validate(bad)
    assert selection.SelectionRequest.model_validate({"policy_types": ["a"] * selection.MAX_LIST})
    with pytest.raises(ValidationError):
        selection.Selection.model_validate({"policy_types": [], "categories": [], "include_foundations": True,
                                            "include_dependencies": True, "read_mode": "full"})


# --- messages ------------------------------------------------------------------------------------------------

def _run_message(**overrides: Any) -> dict[str, Any]:
    chosen = selection.normalise(selection.SelectionRequest(policy_types=["mobileApp"]), REG).selection
    body = {"version": 1, "bulk_operation_run_id": 7, "tenant_id": 3, "user_id": None,
            "selection": chosen.model_dump(), "selection_hash": chosen.hash, "trigger": "api",
            "correlation_id": "req-1", "dispatched_at": datetime(2026, 1, 1, tzinfo=UTC).isoformat()}
    return body | overrides


@pytest.mark.parametrize("bad", [
    {"unknown": 1}, {"version": 2}, {"tenant_id": 0}, {"tenant_id": 2**63}, {"bulk_operation_run_id": -1},
    {"user_id": 0}, {"user_id": 2**63}, {"selection_hash": "A" * 64}, {"selection_hash": "a" * 63},
    {"trigger": "manual"}, {"correlation_id": ""}, {"correlation_id": "x" * 201}, {"dispatched_at": "yesterday"},
])
def test_run_messages_outside_the_contract_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        messages.RunMessage.model_validate(_run_message(**bad))


def test_run_messages_inside_the_contract_are_read() -> None:
    message = messages.RunMessage.model_validate(_run_message(user_id=2**63 - 1, correlation_id="x" * 200,
                                                              trigger="schedule", tenant_id=2**63 - 1))
    assert message.user_id == 2**63 - 1 and message.trigger == "schedule"
    without = _run_message()
    del without["user_id"]
    with pytest.raises(ValidationError):  # user_id is required, null for system work
        messages.RunMessage.model_validate(without)


def test_finalize_and_schedule_messages() -> None:
    assert messages.FinalizeMessage.model_validate(
        {"version": 1, "inventory_sync_run_id": None, "bulk_operation_run_id": 1}).inventory_sync_run_id is None
    for bad in ({"version": 1, "inventory_sync_run_id": 0, "bulk_operation_run_id": 1},
                {"version": 1, "inventory_sync_run_id": 1, "bulk_operation_run_id": 1, "x": 1},
                {"version": 1, "bulk_operation_run_id": 1}):
        with pytest.raises(ValidationError):
            messages.FinalizeMessage.model_validate(bad)
    assert messages.ScheduledSyncEvent.model_validate({"kind": "scheduled_inventory_sync"}).selection == {}
    with pytest.raises(ValidationError):
        messages.ScheduledSyncEvent.model_validate({"kind": "scheduled_inventory_sync", "extra": True})
    with pytest.raises(ValidationError):
        messages.SweepEvent.model_validate({"kind": "sweep", "extra": True})


@pytest.mark.parametrize(("event", "expected"), [
    ({"detail-type": "Scheduled Event", "source": "aws.events"}, True),
    ({"detail-type": "Scheduled Event", "source": "aws.scheduler"}, True),
    ({"detail-type": "Scheduled Event", "source": "aws.sqs"}, False),
    ({"detail-type": "Scheduled Event"}, False),
    ({"detail-type": "Other", "source": "aws.events"}, False),
    ({"source": "aws.events"}, False),
    (["Scheduled Event"], False),
    (None, False),
])
def test_scheduled_envelopes(event: object, expected: bool) -> None:
    assert messages.is_scheduled_envelope(event) is expected


@pytest.mark.parametrize(("event", "expected"), [
    ({"version": "2.0", "requestContext": {"http": {"method": "GET"}}}, True),
    ({"version": "1.0", "requestContext": {"http": {}}}, False),
    ({"version": "2.0", "requestContext": {"stage": "x"}}, False),
    ({"version": "2.0", "requestContext": "http"}, False),
    ({"version": "2.0"}, False),
    ("2.0", False),
])
def test_http_events(event: object, expected: bool) -> None:
    assert messages.is_http_event(event) is expected


# --- status, outcomes and the terminal event -----------------------------------------------------------------

def test_only_running_runs_move_and_only_to_a_terminal_status() -> None:
    for target in (RunStatus.SUCCESS, RunStatus.PARTIAL, RunStatus.FAILED, RunStatus.SKIPPED):
        check_run_transition(RunStatus.RUNNING, target)
        with pytest.raises(IllegalTransition, match=f"run cannot go {target} -> running"):
            check_run_transition(target, RunStatus.RUNNING)
    with pytest.raises(IllegalTransition, match="run cannot go running -> running"):
        check_run_transition(RunStatus.RUNNING, RunStatus.RUNNING)
    with pytest.raises(IllegalTransition, match="bulk operation cannot go completed -> running"):
        check_bulk_transition(BulkStatus.COMPLETED, BulkStatus.RUNNING)
    with pytest.raises(IllegalTransition, match="bulk operation cannot go pending -> completed"):
        check_bulk_transition(BulkStatus.PENDING, BulkStatus.COMPLETED)


def test_status_rule_edges() -> None:
    assert run_status(1, 0, []) is RunStatus.SUCCESS
    assert run_status(1, 0, ["graph_throttled"]) is RunStatus.PARTIAL  # a code without a failed type
    assert run_status(2, 1, []) is RunStatus.PARTIAL
    assert run_status(0, 0, []) is RunStatus.FAILED
    for code in FATAL_CODES:
        assert run_status(5, 0, [code]) is RunStatus.FAILED


def test_a_run_cancelled_after_some_types_finished_is_aborted() -> None:
    """Cancelled is fatal: a run cancelled while running ends failed with `cancelled`, which is §4's aborted
    row, however many of its types had finished."""
    assert ErrorCode.CANCELLED in FATAL_CODES
    status = run_status(3, 2, [ErrorCode.CANCELLED])
    assert status is RunStatus.FAILED
    outcome = outcome_for_run(status, [ErrorCode.CANCELLED.value])
    assert outcome is ABORTED
    assert (outcome.bulk_status, outcome.audit_action, outcome.counters) == (
        BulkStatus.ABORTED, AuditAction.ABORTED,
        {"processed_items": 1, "succeeded": 0, "failed": 0, "skipped": 1})
    assert outcome_for_run(RunStatus.FAILED, ["graph_forbidden"]).bulk_status is BulkStatus.FAILED
    assert outcome_for_run(RunStatus.SKIPPED, ["cancelled"]).bulk_status is BulkStatus.COMPLETED
    with pytest.raises(IllegalTransition, match="a running run has no outcome yet"):
        outcome_for_run(RunStatus.RUNNING, [])


def test_audit_status_per_outcome() -> None:
    assert {s: outcome_for_run(s, []).audit_status for s in
            (RunStatus.SUCCESS, RunStatus.PARTIAL, RunStatus.FAILED, RunStatus.SKIPPED)} == {
        RunStatus.SUCCESS: "success", RunStatus.PARTIAL: "success", RunStatus.FAILED: "failure",
        RunStatus.SKIPPED: "success"}
    assert ABORTED.audit_status == "success" and FAILED_WITHOUT_RUN.audit_status == "failure"
    assert FAILED_WITHOUT_RUN.audit_action is AuditAction.FAILED


def test_terminal_event_of_a_finished_run() -> None:
    run = audit.RunFacts(id=42, status="partial", items_observed_count=10, items_upserted_count=3,
                         changes={"added": 1, "changed": 2, "deleted": 0, "restored": 0})
    actor = audit.Actor("user", 5, "a@x.test", "A")
    event = audit.terminal_event(tenant_id=9, bulk_operation_run_id=8, actor=actor,
                                 outcome=outcome_for_run(RunStatus.PARTIAL, []), run=run,
                                 error_codes=["graph_forbidden"], correlation_id="c-1")
    assert event == audit.NewAuditEvent(
        tenant_id=9, actor=actor, action="inventory.sync.completed", resource_type="inventory_sync_run",
        resource_id="42", status="success", correlation_id="c-1",
        metadata={"status": "partial", "counters": {"processed_items": 1, "succeeded": 1, "failed": 0, "skipped": 0},
                  "error_codes": ["graph_forbidden"], "bulk_operation_run_id": 8, "inventory_sync_run_id": 42,
                  "items_observed_count": 10, "items_upserted_count": 3,
                  "changes": {"added": 1, "changed": 2, "deleted": 0, "restored": 0}})


def test_terminal_event_without_a_run_and_when_aborted() -> None:
    system = audit.Actor.system()
    assert system == audit.Actor("system", None, None, None)
    never_ran = audit.terminal_event(tenant_id=1, bulk_operation_run_id=8, actor=system, outcome=FAILED_WITHOUT_RUN,
                                     run=None, error_codes=["run_crashed"], correlation_id=None, reason="dead letter")
    assert (never_ran.resource_type, never_ran.resource_id, never_ran.status, never_ran.action) == (
        "bulk_operation_run", "8", "failure", "inventory.sync.failed")
    assert never_ran.metadata == {
        "status": "failed", "counters": {"processed_items": 1, "succeeded": 0, "failed": 1, "skipped": 0},
        "error_codes": ["run_crashed"], "bulk_operation_run_id": 8, "inventory_sync_run_id": None,
        "items_observed_count": 0, "items_upserted_count": 0,
        "changes": {"added": 0, "changed": 0, "deleted": 0, "restored": 0}, "reason": "dead letter"}
    run = audit.RunFacts(id=4, status="failed", items_observed_count=1, items_upserted_count=1,
                         changes=dict(changes.NO_CHANGES))
    aborted = audit.terminal_event(tenant_id=1, bulk_operation_run_id=8, actor=system, outcome=ABORTED, run=run,
                                   error_codes=["cancelled"], correlation_id=None)
    assert aborted.metadata["status"] == "aborted" and "reason" not in aborted.metadata
    assert aborted.action == "inventory.sync.aborted" and aborted.status == "success"


def test_no_changes_names_every_kind() -> None:
    assert changes.NO_CHANGES == {"added": 0, "changed": 0, "deleted": 0, "restored": 0}
    assert [k.value for k in changes.ChangeKind] == ["added", "changed", "deleted", "restored"]


class _Error:
    def __init__(self, code: ErrorCode, status: int = 403) -> None:
        self.code = code
        self.status = status

    def context(self) -> dict[str, Any]:
        return {"code": self.code.value, "http_status": self.status}


def test_summarise_each_kind_of_unit() -> None:
    result = outcomes.EngineResult(units={
        "mobileApp": outcomes.UnitOutcome(error=_Error(ErrorCode.GRAPH_FORBIDDEN), observed=0),
        "deviceConfiguration": outcomes.UnitOutcome(complete=True, observed=5, upserted=2, deleted=1),
        "policySet": outcomes.UnitOutcome(interrupted_by=ErrorCode.CANCELLED, observed=3),
        "deviceCategory": outcomes.UnitOutcome(observed=4),
        "notARegistryKey": outcomes.UnitOutcome(error=_Error(ErrorCode.GRAPH_FORBIDDEN)),
    }, cancelled=True)
    status, codes, context = outcomes.summarise(result)
    assert status is RunStatus.FAILED  # cancelled is fatal
    assert codes == sorted([ErrorCode.CANCELLED, ErrorCode.DEADLINE_EXCEEDED, ErrorCode.GRAPH_FORBIDDEN])
    assert context["types"]["mobileApp"] == {"code": "graph_forbidden", "http_status": 403, "permission": DMA}
    assert context["types"]["notARegistryKey"]["permission"] == ""
    assert context["types"]["policySet"] == {"code": "cancelled", "message": "stopped before the listing was complete",
                                             "items_seen": 3}
    assert context["types"]["deviceCategory"]["code"] == "deadline_exceeded"
    assert "deviceConfiguration" not in context["types"]
    assert context["graph_forbidden"] == {"policy_types": ["mobileApp", "notARegistryKey"]}
    assert context["cancelled"] == {"policy_types": ["policySet"]}
    assert result.totals() == outcomes.Totals(observed=12, upserted=2, deleted=1, errors=3)


def test_summarise_fatal_deadline_and_success() -> None:
    fatal = outcomes.EngineResult(units={"mobileApp": outcomes.UnitOutcome(complete=True)},
                                  fatal=_Error(ErrorCode.GRAPH_AUTH_FAILED, 401))
    assert outcomes.summarise(fatal)[:2] == (RunStatus.FAILED, [ErrorCode.GRAPH_AUTH_FAILED])
    late = outcomes.EngineResult(units={"mobileApp": outcomes.UnitOutcome(complete=True)}, deadline_hit=True)
    assert outcomes.summarise(late) == (RunStatus.SUCCESS, [], {"types": {}})  # nothing was left undone
    partial = outcomes.EngineResult(units={"a": outcomes.UnitOutcome(complete=True), "b": outcomes.UnitOutcome()},
                                    deadline_hit=True)
    assert outcomes.summarise(partial)[:2] == (RunStatus.PARTIAL, [ErrorCode.DEADLINE_EXCEEDED])
    assert outcomes.EngineResult(units={}).totals() == outcomes.Totals(observed=0, upserted=0, deleted=0, errors=0)


def test_units_are_the_selection_still_enabled_and_foundations_when_asked() -> None:
    message = messages.RunMessage.model_validate(_run_message(
        selection={"policy_types": ["deviceCategory", "mobileApp"], "categories": [], "include_foundations": True,
                   "include_dependencies": True},
        selection_hash=selection.Selection(policy_types=["deviceCategory", "mobileApp"], categories=[],
                                           include_foundations=True, include_dependencies=True).hash))
    runtime = filter_runtime(disabled=["mobileApp", "roleDefinition"])  # disabled after the dispatch
    assert [u.key for u in outcomes.units_of(message, runtime)] == [
        "deviceCategory", "roleScopeTag", "assignmentFilter", "notificationMessageTemplate"]
    without = message.model_copy(update={"selection": message.selection.model_copy(
        update={"include_foundations": False})})
    assert [u.key for u in outcomes.units_of(without, REG)] == ["deviceCategory", "mobileApp"]


# --- items: names, platforms, categories, links --------------------------------------------------------------

@pytest.mark.parametrize(("item", "platform"), [
    ({"@odata.type": "#microsoft.graph.windows10GeneralConfiguration"}, "windows"),
    ({"@odata.type": "#microsoft.graph.win32LobApp"}, "windows"),
    ({"@odata.type": "#microsoft.graph.iosGeneralDeviceConfiguration"}, "ios"),
    ({"@odata.type": "#microsoft.graph.iPhoneLobApp"}, "ios"),
    ({"platforms": "macOS"}, "macOS"),
    ({"@odata.type": "#microsoft.graph.androidWorkProfileGeneralDeviceConfiguration"}, "android"),
    ({"@odata.type": "#microsoft.graph.aospDeviceOwnerDeviceConfiguration"}, "android"),
    ({"platforms": "linux"}, "linux"),
    ({"platform": "iOS"}, "ios"),
    ({"displayName": "windows in the name only"}, None),
    ({}, None),
])
def test_platform_from_type_or_field(item: dict[str, Any], platform: str | None) -> None:
    assert items.to_record(BY_KEY["deviceConfiguration"], {"id": "1", **item}).platform == platform


@pytest.mark.parametrize(("raw", "name"), [
    ("#microsoft.graph.groupAssignmentTarget", "groupAssignmentTarget"),
    ("microsoft.graph.GROUPASSIGNMENTTARGET", "groupAssignmentTarget"),
    ("#microsoft.graph.mobileAppPolicySetItem", "mobileAppPolicySetItem"),
    ("#microsoft.graph.somethingNew", "somethingNew"),
    ("plainName", "plainName"),
    (None, ""),
])
def test_type_names(raw: Any, name: str) -> None:
    assert items.type_name(raw) == name


def test_category_follows_the_template_family() -> None:
    catalog = BY_KEY["settingsCatalogPolicy"]
    security = BY_KEY["endpointSecurityIntent"].category
    antivirus = {"templateReference": {"templateFamily": "endpointSecurityAntivirus"}}
    assert items.category_of(catalog, antivirus) == security
    assert items.category_of(catalog, {"templateReference": {"templateFamily": "baseline"}}) == security
    assert items.category_of(catalog, {"templateReference": {"templateFamily": "none"}}) == catalog.category
    assert items.category_of(catalog, {"templateReference": "endpointSecurity"}) == catalog.category
    assert items.category_of(catalog, {}) == catalog.category
    other = BY_KEY["deviceConfiguration"]
    assert items.category_of(other, {"templateReference": {"templateFamily": "baseline"}}) == other.category


def _assignment(target: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": "a", "target": target, **extra}


def test_assignment_links_each_field() -> None:
    links = items.assignment_links([
        _assignment({"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "g1",
                     "deviceAndAppManagementAssignmentFilterId": "f1",
                     "deviceAndAppManagementAssignmentFilterType": "include"},
                    intent="required", source="direct", sourceId="s1"),
        _assignment({"@odata.type": "#microsoft.graph.exclusionGroupAssignmentTarget", "groupId": "g2",
                     "deviceAndAppManagementAssignmentFilterId": items.NO_FILTER,
                     "deviceAndAppManagementAssignmentFilterType": "include"}),
        _assignment({"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget",
                     "deviceAndAppManagementAssignmentFilterId": "f2",
                     "deviceAndAppManagementAssignmentFilterType": "none"}),
        _assignment({"@odata.type": "#microsoft.graph.configurationManagerCollectionAssignmentTarget",
                     "collectionId": "c1"}),
        _assignment({"@odata.type": "#microsoft.graph.cloudPcManagementGroupAssignmentTarget", "groupId": "g3",
                     "servicePlanId": "sp1"}),
        _assignment({"@odata.type": "#microsoft.graph.cloudPcManagementGroupAssignmentTarget", "groupId": "g4"}),
        {"id": "no target"}, "not a dict", _assignment("not a dict either"),  # type: ignore[arg-type]
    ])
    assert [(link.link_type, link.target_type, link.target_id, link.properties, link.key) for link in links] == [
        ("assignment_filter", "assignmentFilter", "f1", {"filter_type": "include"}, "include"),
        ("assignment", "group", "g1", {"target": "groupAssignmentTarget", "intent": "required", "source": "direct",
                                       "source_id": "s1", "filter_id": "f1", "filter_type": "include"},
         "intent=required;source=direct;source_id=s1;filter_id=f1;filter_type=include"),
        ("assignment", "exclusionGroup", "g2", {"target": "exclusionGroupAssignmentTarget"}, ""),
        ("assignment", "allDevices", "", {"target": "allDevicesAssignmentTarget"}, ""),
        ("assignment", "configurationManagerCollection", "c1",
         {"target": "configurationManagerCollectionAssignmentTarget"}, ""),
        ("assignment", "group", "g3", {"target": "cloudPcManagementGroupAssignmentTarget",
                                       "service_plan_id": "sp1"}, ""),
        ("assignment", "group", "g4", {"target": "cloudPcManagementGroupAssignmentTarget"}, ""),
    ]


def test_an_unknown_target_kind_is_kept_as_a_link_of_its_own_kind() -> None:
    links = items.assignment_links([
        _assignment({"@odata.type": "#microsoft.graph.brandNewAssignmentTarget", "groupId": "g9"}),
        _assignment({"groupId": "g8"}),
    ])
    assert [(link.target_type, link.target_id, link.properties) for link in links] == [
        ("brandNewAssignmentTarget", "g9", {"target": "brandNewAssignmentTarget"}),
        ("unknown", "g8", {"target": ""}),
    ]


def test_content_links_scope_tags_and_policy_set_members() -> None:
    policy_set = BY_KEY["policySet"]
    links = items.content_links(policy_set, {
        "roleScopeTags": ["0", "7"],
        "items": [
            {"@odata.type": "#microsoft.graph.mobileAppPolicySetItem", "payloadId": "app1", "intent": "required"},
            {"@odata.type": "#microsoft.graph.deviceConfigurationPolicySetItem", "payloadId": "cfg1"},
            {"@odata.type": "#microsoft.graph.futurePolicySetItem", "payloadId": "f1"},
            {"@odata.type": "#microsoft.graph.mobileAppPolicySetItem"},
            "junk",
        ]})
    assert [(link.link_type, link.target_type, link.target_id, link.properties) for link in links] == [
        ("scope_tag", "roleScopeTag", "0", {"built_in": True}),
        ("scope_tag", "roleScopeTag", "7", {}),
        ("policy_set_item", "mobileApp", "app1", {"item_type": "mobileAppPolicySetItem", "intent": "required"}),
        ("policy_set_item", "deviceConfiguration", "cfg1", {"item_type": "deviceConfigurationPolicySetItem"}),
        ("policy_set_item", "futurePolicySetItem", "f1", {"item_type": "futurePolicySetItem"}),
    ]
    # only types that expand their items read members; tags only from the type's own field
    assert items.content_links(BY_KEY["deviceConfiguration"], {"roleScopeTags": ["1"], "items": [
        {"@odata.type": "#microsoft.graph.mobileAppPolicySetItem", "payloadId": "x"}]}) == []
    assert items.content_links(BY_KEY["deviceConfiguration"], {"roleScopeTagIds": "0"}) == []
    assert frozenset({"scope_tag", "policy_set_item"}) == items.CONTENT_LINK_TYPES


def test_record_fields() -> None:
    ptype = BY_KEY["deviceConfiguration"]
    item = {"id": "x1", "displayName": "N" * 600, "@odata.type": "#microsoft.graph.windows10GeneralConfiguration",
            "roleScopeTagIds": ["0", "0"]}
    record = items.to_record(ptype, item)
    assert record.display_name == "N" * 500 and record.external_id == "x1" and record.policy_type == ptype.key
    assert record.payload is item and record.payload_json == configuration.canonical_json(item)
    assert record.payload_hash == hashlib.sha256(record.payload_json.encode()).hexdigest()
    assert record.content_hash == configuration.content_hash(ptype, item)
    assert record.assignments_hash == configuration.assignments_hash([]) and record.assignments_read
    assert len(record.links) == 1  # duplicates collapse
    with_assignments = items.to_record(ptype, {**item, "assignments": [{"id": "a", "target": {
        "@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}]})
    assert with_assignments.payload_hash == record.payload_hash  # assignments are hashed apart
    assert with_assignments.content_hash == record.content_hash
    assert with_assignments.assignments_hash != record.assignments_hash
    assert items.to_record(ptype, item, dependencies_read=False).assignments_hash is None
    assert not items.to_record(ptype, item, dependencies_read=False).assignments_read
    assert items.to_record(BY_KEY["deviceCategory"], {"id": "c"}).assignments_hash is None
    assert items.to_record(ptype, {"id": "n", "name": "by name"}).display_name == "by name"
    assert items.to_record(BY_KEY["intuneBrandingProfile"], {"id": "b", "profileName": "P",
                                                             "displayName": "Company"}).display_name == "P"
    assert items.to_record(ptype, {"id": "n"}).display_name is None


def test_records_refuse_objects_without_an_id_or_too_large() -> None:
    ptype = BY_KEY["deviceConfiguration"]
    for bad in ({}, {"id": ""}, {"id": 5}):
        with pytest.raises(items.InvalidItem) as raised:
            items.to_record(ptype, bad)
        assert raised.value.reason == "objects without an id"
        assert str(raised.value) == "deviceConfiguration: object without an id"
    item = {"id": "big", "displayName": "x" * 100}
    size = len(configuration.canonical_json(item))
    assert items.to_record(ptype, item, max_bytes=size).external_id == "big"
    with pytest.raises(items.InvalidItem) as too_large:
        items.to_record(ptype, item, max_bytes=size - 1)
    assert too_large.value.reason == f"objects over {size - 1} bytes"
    assert str(too_large.value) == f"deviceConfiguration: object over {size - 1} bytes"


# --- configuration and hashes --------------------------------------------------------------------------------

def test_canonical_json_is_sorted_compact_and_total() -> None:
    when = datetime(2026, 1, 2, tzinfo=UTC)
    assert configuration.canonical_json({"b": [1, 2], "a": when}) == f'{{"a":"{when}","b":[1,2]}}'
    assert configuration.sha256_of({"a": 1}) == hashlib.sha256(b'{"a":1}').hexdigest()


def test_configuration_drops_noise_at_every_level_but_keeps_the_type() -> None:
    catalog = BY_KEY["settingsCatalogPolicy"]
    payload = {
        "@odata.context": "ctx", "@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
        "name": "P", "description": "d", "settingCount": 2, "lastModifiedDateTime": "t", "assignments": [1],
        "settings@odata.context": "c",
        "settings": [{"id": "0", "version": 3, "@odata.etag": "e", "settingInstance": {"x@odata.type": "k", "v": 1},
                      "settingDefinitions": {"id": "d", "createdDateTime": "t"}}],
        "nested": {"a@odata.nextLink": "n", "b": [{"c@odata.id": "i", "d": 1}]},
    }
    assert configuration.configuration_of(catalog, payload) == {
        "@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy", "name": "P", "description": "d",
        "settings": [{"id": "0", "settingInstance": {"v": 1}, "settingDefinitions": {"id": "d"}}],
        "nested": {"b": [{"d": 1}]},
    }
    changed = {**payload, "description": "other"}
    assert configuration.content_hash(catalog, changed) != configuration.content_hash(catalog, payload)
    noise_only = {**payload, "settingCount": 9, "lastModifiedDateTime": "u", "assignments": []}
    assert configuration.content_hash(catalog, noise_only) == configuration.content_hash(catalog, payload)


def test_sub_resource_children_and_expanded_items() -> None:
    gp = BY_KEY["groupPolicyConfiguration"]
    payload = {"id": "g", "definitionValues": [{
        "id": "dv", "enabled": True, "lastModifiedDateTime": "t",
        "definition": {"id": "def", "displayName": "D", "version": "1.0", "@odata.context": "c"},
        "presentationValues": [{"id": "pv", "value": "x", "lastModifiedDateTime": "t",
                                "presentation": {"id": "p", "label": "L", "lastModifiedDateTime": "t"}}],
    }, "plain"]}
    assert configuration.configuration_of(gp, payload)["definitionValues"] == [{
        "id": "dv", "enabled": True, "definition": {"id": "def", "displayName": "D"},
        "presentationValues": [{"id": "pv", "value": "x", "presentation": {"id": "p", "label": "L"}}],
    }, "plain"]
    policy_set = BY_KEY["policySet"]
    kept = configuration.configuration_of(policy_set, {"items": [{"id": "i", "status": "error", "payloadId": "p",
                                                                  "errorCode": "x", "createdDateTime": "t"}],
                                                       "status": "notAssigned"})
    assert kept == {"items": [{"id": "i", "payloadId": "p"}]}
    assert configuration.configuration_of(policy_set, {"items": "not a list"}) == {"items": "not a list"}


def test_assignments_hash_is_order_free_and_ignores_control_annotations() -> None:
    a = {"id": "1", "target": {"groupId": "g"}}
    b = {"id": "2", "target": {"groupId": "h"}, "target@odata.type": "x"}
    assert configuration.assignments_hash([a, b]) == configuration.assignments_hash([{**b, "@odata.etag": "e"}, a])
    assert configuration.assignments_hash([a]) != configuration.assignments_hash([b])
    assert configuration.assignments_hash([]) == configuration.sha256_of([])
    assert configuration.is_control_annotation("x@odata.nextLink") and not configuration.is_control_annotation(
        "@odata.type") and not configuration.is_control_annotation("odata")


# --- change sets ---------------------------------------------------------------------------------------------

def _patch(previous: Any, new: Any) -> list[dict[str, Any]]:
    ptype = BY_KEY["deviceConfiguration"]
    return changes.changes_between(ptype, {"v": previous}, {"v": new})


def _without_tests(patch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The operations that change something (a patch may also carry `test` operations naming old values)."""
    return [op for op in patch if op["op"] != "test"]


def test_patch_operations_and_pointer_escapes() -> None:
    assert _without_tests(_patch({"a/b": 1, "c~d": 2, "e": 3}, {"a/b": 2, "f": 4, "e": 3})) == [
        {"op": "remove", "path": "/v/c~0d"},
        {"op": "replace", "path": "/v/a~1b", "value": 2},
        {"op": "add", "path": "/v/f", "value": 4},
    ]
    assert _without_tests(_patch([1, {"x": 1}], [2, {"x": 1}])) == [{"op": "replace", "path": "/v/0", "value": 2}]
    assert _without_tests(_patch({"x": 1}, [1])) == [{"op": "replace", "path": "/v", "value": [1]}]
    assert _patch({"same": [1]}, {"same": [1]}) == []


@pytest.mark.parametrize(("previous", "new"), [
    ({"a": {"b": [1, 2, 3, 4]}}, {"a": {"b": [4, 1, 2, 3, 5]}}),  # a move inside a nested array
    ({"a": [["x", "y", "z"]]}, {"a": [["z", "x", "y", "w"]]}),
    ({"a": [{"k": 1}, {"k": 2}]}, {"a": [{"k": 2}]}),
])
def test_patches_of_resized_nested_arrays_apply(previous: Any, new: Any) -> None:
    patch = _patch(previous, new)
    assert any(op["op"] == "move" for op in patch) or len(previous["a"]) != len(new["a"])
    for op in patch:
        assert op["path"].startswith("/v/a")
        if "from" in op:
            assert op["from"].startswith("/v/a")
    assert jsonpatch.apply_patch({"v": previous}, patch) == {"v": new}


def test_link_changes_tell_links_apart_by_key_and_properties() -> None:
    base = items.Link("assignment", "group", "g", {"intent": "required"}, key="intent=required")
    same_target_other_intent = items.Link("assignment", "group", "g", {"intent": "available"}, key="intent=available")
    other_props = items.Link("assignment", "group", "g", {"intent": "required", "x": 1}, key="intent=required")
    diff = changes.link_changes([base, other_props], [same_target_other_intent, other_props])
    as_dict = {"link_type": "assignment", "target_type": "group", "target_id": "g"}
    assert diff == {"added": [{**as_dict, "properties": {"intent": "available"}}],
                    "removed": [{**as_dict, "properties": {"intent": "required"}}]}
    assert changes.link_changes([base], [base]) == {"added": [], "removed": []}


# --- tenancy: what administrators and owners may write ---------------------------------------------------------

def _pem_pair() -> tuple[str, str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "invsync-test")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now.replace(year=now.year + 1))
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return cert_pem, key_pem, cert.fingerprint(hashes.SHA256()).hex()


def test_a_credential_is_a_secret_or_a_matching_certificate() -> None:
    secret = CredentialIn.model_validate({"client_id": GUID, "client_secret": "s3cr3t"})
    assert secret.kind == "client_secret" and secret.secret_value() == {"client_secret": "s3cr3t"}
    assert secret.audit_metadata() == {"client_id": GUID, "kind": "client_secret"}
    assert "s3cr3t" not in repr(secret)
    cert_pem, key_pem, thumbprint = _pem_pair()
    cert = CredentialIn.model_validate({"client_id": GUID, "certificate_pem": cert_pem, "private_key_pem": key_pem})
    assert cert.kind == "certificate"
    assert cert.secret_value() == {"certificate_pem": cert_pem, "private_key_pem": key_pem}
    assert cert.audit_metadata() == {"client_id": GUID, "kind": "certificate",
                                     "certificate_thumbprint_sha256": thumbprint}
    other_key = _pem_pair()[1]
    refused = [
        {"client_id": GUID},  # neither
        {"client_id": GUID, "client_secret": "s", "certificate_pem": cert_pem, "private_key_pem": key_pem},  # both
        {"client_id": GUID, "certificate_pem": cert_pem},  # no key
        {"client_id": GUID, "private_key_pem": key_pem},  # no certificate
        {"client_id": GUID, "certificate_pem": "junk", "private_key_pem": key_pem},
        {"client_id": GUID, "certificate_pem": cert_pem, "private_key_pem": other_key},
        {"client_id": GUID + "x", "client_secret": "s"},  # the GUID is anchored
        {"client_id": "x" + GUID, "client_secret": "s"},
        {"client_id": GUID, "client_secret": ""},
        {"client_id": GUID, "client_secret": "s" * 1025},
        {"client_id": GUID, "client_secret": "a\x00b"},
        {"client_id": GUID, "client_secret": "s", "extra": 1},
        {"client_id": GUID, "certificate_pem": "x" * (16 * 1024 + 1), "private_key_pem": key_pem},
    ]
    for body in refused:
        with pytest.raises(ValidationError) as raised:
            CredentialIn.model_validate(body)
        assert "s3cr3t" not in str(raised.value) and "PRIVATE KEY" not in str(raised.value)


def test_tenant_bodies_trim_lower_and_bound() -> None:
    body = {"name": "  Contoso  ", "graph_tenant_id": "Contoso.OnMicrosoft.com",
            "credential": {"client_id": GUID, "client_secret": "s"}}
    created = TenantCreate.model_validate(body)
    assert created.name == "Contoso" and created.graph_tenant_id == "contoso.onmicrosoft.com"
    assert created.scheduled_sync_enabled is True
    assert TenantCreate.model_validate({**body, "graph_tenant_id": GUID.upper()}).graph_tenant_id == GUID
    for bad in ({"name": "   "}, {"name": ""}, {"name": "x" * 201}, {"graph_tenant_id": "not a domain"},
                {"graph_tenant_id": "a.b"}, {"graph_tenant_id": "x" * 250 + ".com"}, {"graph_tenant_id": GUID + "0"},
                {"name": "a\x00b"}, {"credential": {"client_id": GUID, "client_secret": "a\x00"}}, {"x": 1},
                {"scheduled_sync_enabled": "yes"}):
        with pytest.raises(ValidationError):
            TenantCreate.model_validate({**body, **bad})


def test_tenant_patches_name_something_real() -> None:
    patch = TenantPatch.model_validate({"status": "inactive", "name": "  New  "})
    assert patch.changes() == {"name": "New", "status": "inactive"}
    assert list(patch.changes()) == ["name", "status"]
    assert TenantPatch.model_validate({"scheduled_sync_enabled": False}).changes() == {"scheduled_sync_enabled": False}
    for bad in ({}, {"name": None}, {"status": None}, {"name": "  "}, {"status": "deleted"}, {"name": "a\x00"},
                {"extra": 1}):
        with pytest.raises(ValidationError):
            TenantPatch.model_validate(bad)


def test_member_bodies() -> None:
    member = MemberIn.model_validate({"subject": "oid-1", "role": "reader"})
    assert member.email is None and member.name is None
    for role in ("owner", "operator", "reader"):
        assert MemberIn.model_validate({"subject": "s", "role": role}).role == role
    for bad in ({"subject": " s", "role": "owner"}, {"subject": "s ", "role": "owner"},
                {"subject": "", "role": "owner"},
                {"subject": "s", "role": "admin"}, {"subject": "s", "role": "owner", "extra": 1},
                {"subject": "s\x00", "role": "owner"}, {"subject": "s", "role": "owner", "name": "x" * 201},
                {"subject": "s", "role": "owner", "email": "x" * 321}, {"subject": "x" * 256, "role": "owner"}):
        with pytest.raises(ValidationError):
            MemberIn.model_validate(bad)


@pytest.mark.parametrize(("claim", "values"), [
    (None, set()),
    (["a", "b"], {"a", "b"}),
    (("a",), {"a"}),
    ("[a b c]", {"a", "b", "c"}),
    ('["a","b"]', {"a", "b"}),
    ("a, b", {"a", "b"}),
    ("lone", {"lone"}),
    ("[]", set()),
    ("  [ x ]  ", {"x"}),
    ('""', set()),
])
def test_multi_valued_claims(claim: object, values: set[str]) -> None:
    assert claim_values(claim) == frozenset(values)


def test_json_of_the_fixtures_round_trips() -> None:
    """The canonical JSON a record stores parses back to the same object (what the writer COPYs)."""
    item = {"id": "1", "é": "ü", "n": [1.5, None, True]}
    assert json.loads(items.to_record(BY_KEY["deviceConfiguration"], item).payload_json) == item


# --- edges mutation testing found unpinned ---------------------------------------------------------------------

def test_invalid_entries_are_skipped_not_the_end_of_the_list() -> None:
    links = items.assignment_links(["junk", {"id": "no target"}, _assignment(
        {"@odata.type": "#microsoft.graph.groupAssignmentTarget"})])
    assert [(link.target_type, link.target_id) for link in links] == [("group", "")]  # no groupId: empty id
    members = items.content_links(BY_KEY["policySet"], {"items": [
        "junk", {"payloadId": ""}, {"@odata.type": "#microsoft.graph.mobileAppPolicySetItem", "payloadId": "a"}]})
    assert [link.target_id for link in members] == ["a"]


def test_a_filter_id_without_a_filter_type_is_no_filter() -> None:
    links = items.assignment_links([_assignment({"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget",
                                                 "deviceAndAppManagementAssignmentFilterId": "f1"})])
    assert [(link.link_type, link.properties) for link in links] == [
        ("assignment", {"target": "allDevicesAssignmentTarget"})]


def test_type_names_without_a_namespace() -> None:
    assert items.type_name("#groupAssignmentTarget") == "groupAssignmentTarget"
    assert items.type_name("#Xenon") == "Xenon"
    assert items.type_name("#microsoft.graph.Xenon#") == "Xenon#"


def test_a_name_falls_back_to_display_name() -> None:
    catalog = BY_KEY["settingsCatalogPolicy"]
    assert items.to_record(catalog, {"id": "s", "displayName": "D"}).display_name == "D"
    assert items.to_record(catalog, {"id": "s", "name": "N", "displayName": "D"}).display_name == "N"


def test_lists_inside_an_element_that_are_not_sub_resources_keep_their_fields() -> None:
    catalog = BY_KEY["settingsCatalogPolicy"]
    payload = {"settings": [{"id": "0", "choices": [{"value": "a", "createdDateTime": "t", "@odata.etag": "e"}]}]}
    assert configuration.configuration_of(catalog, payload) == {
        "settings": [{"id": "0", "choices": [{"value": "a", "createdDateTime": "t"}]}]}


def _only_error(error: ValidationError) -> str:
    [detail] = error.errors()
    return str(detail["msg"])


def test_refusals_say_why() -> None:
    with pytest.raises(ValidationError) as nul:
        TenantPatch.model_validate({"name": "a\x00b"})
    assert _only_error(nul.value) == "Value error, text must not contain NUL characters or lone surrogates"
    with pytest.raises(ValidationError):  # not an object: refused as such, not a crash in the NUL check
        TenantPatch.model_validate(["name"])
    cert_pem, key_pem, _ = _pem_pair()
    with pytest.raises(ValidationError) as junk:
        CredentialIn.model_validate({"client_id": GUID, "certificate_pem": "junk", "private_key_pem": key_pem})
    assert _only_error(junk.value) == ("Value error, certificate_pem / private_key_pem: not a PEM certificate and "
                                       "unencrypted private key")
    with pytest.raises(ValidationError) as mismatch:
        CredentialIn.model_validate({"client_id": GUID, "certificate_pem": cert_pem,
                                     "private_key_pem": _pem_pair()[1]})
    assert _only_error(mismatch.value) == "Value error, the private key does not belong to the certificate"
    with pytest.raises(IllegalTransition) as raised:
        outcome_for_run(RunStatus.RUNNING, [])
    assert str(raised.value) == "a running run has no outcome yet"


@pytest.mark.parametrize(("claim", "values"), [
    ("[x", {"[x"}),  # half a list is not a list
    ("y]", {"y]"}),
    ("X", {"X"}),
    ("[XaX bX]", {"XaX", "bX"}),
])
def test_claims_that_only_look_like_lists(claim: str, values: set[str]) -> None:
    assert claim_values(claim) == frozenset(values)


def test_a_run_where_every_type_failed_is_failed_and_errors_are_counted() -> None:
    only_forbidden = outcomes.EngineResult(units={"mobileApp": outcomes.UnitOutcome(
        error=_Error(ErrorCode.GRAPH_FORBIDDEN))})
    assert outcomes.summarise(only_forbidden)[0] is RunStatus.FAILED
    assert only_forbidden.totals().errors == 1
    done = outcomes.EngineResult(units={"a": outcomes.UnitOutcome(complete=True)})
    assert done.totals().errors == 0


# -- domain/limits.py: what input the service can hold ---------------------------------------------------------

def test_an_id_is_an_integer_from_1_to_2_53_minus_1() -> None:
    from inventory_sync.domain.limits import MAX_ID, bounded_id

    assert MAX_ID == 2**53 - 1
    assert [bounded_id(v) for v in (1, 7, MAX_ID)] == [1, 7, MAX_ID]
    for value in (0, -1, MAX_ID + 1, 2**63, 10**40, True, False, 1.0, float("inf"), "7", None, [7], {"id": 7}):
        assert bounded_id(value) is None, value


def test_storable_text_has_no_nul_and_no_lone_surrogate() -> None:
    from inventory_sync.domain.limits import all_storable, storable

    for ok in ("", "a", "é\u0301", "\ud7ff", "\ue000", "\uffff", "\U0010ffff", "\U0001f600", "%00", "\\0"):
        assert storable(ok), ok
    for bad in ("\x00", "a\x00", "\ud800", "x\udbff", "\udc00", "\udfff"):
        assert not storable(bad), bad
    assert all_storable({"a": ["b", {"c": ("d", 1, None, 2.5, True)}]})
    assert all_storable("plain") and all_storable(7) and all_storable(None) and all_storable([])
    unstorable: list[object] = [{"a\x00": 1}, {"a": "\x00"}, ["ok", ["\ud800"]], ("x", "\x00"),
                                {"a": {"b": ["c", "\x00"]}}, "\x00"]
    for value in unstorable:
        assert not all_storable(value), value


def test_json_depth_counts_brackets_outside_strings() -> None:
    from inventory_sync.domain.limits import MAX_JSON_DEPTH, json_depth

    assert MAX_JSON_DEPTH == 32
    assert [json_depth(t) for t in ("", "1", '"x"', "[]", "{}", '{"a": [1, {"b": []}]}', "[[]][[[]]]")] == [
        0, 0, 0, 1, 1, 4, 3]
    assert json_depth('["[[[[", "{{\\"[["]') == 1  # brackets in strings, escaped quotes included
    assert json_depth('"\\\\" [[') == 2  # an escaped backslash ends before the closing quote
    assert json_depth("]]]][") == 1  # stray closers do not go below zero
    assert json_depth("[" * 20_000) == 20_000 and json_depth('{"a":' * 40 + "1" + "}" * 40) == 40
    assert json_depth('"unterminated [[[') == 3  # malformed: counted, then refused by the parser


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ a,:', max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                         st.text(alphabet='[]{}"\\ a', max_size=4), inner, max_size=3), max_leaves=25)


def _nesting(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_nesting(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_nesting(v) for v in value.values()), default=0)
    return 0


@given(_json)
def test_json_depth_is_the_nesting_of_any_json_document(value: object) -> None:
    """Strings full of brackets, quotes and backslashes never count; every array and object does."""
    from inventory_sync.domain.limits import json_depth

    assert json_depth(json.dumps(value)) == _nesting(value)


@given(st.text(st.characters(exclude_categories=()), max_size=30))
def test_storable_is_exactly_what_utf8_postgresql_text_holds(text: str) -> None:
    from inventory_sync.domain.limits import storable

    try:
        text.encode("utf-8")
        encodable = True
    except UnicodeEncodeError:
        encodable = False
    assert storable(text) == (encodable and "\x00" not in text)


# --- this round's additions, pinned where `make mutation` found them loose --------------------------------------

def _settings_of(previous: Any, new: Any) -> dict[str, Any]:
    """path → the setting an operation names (None: none), for the operations that change something."""
    ptype = BY_KEY["deviceConfiguration"]
    return {op["path"]: op.get("setting") for op in changes.changes_between(ptype, {"v": previous}, {"v": new})
            if op["op"] != "test"}


def _named(definition: str, **fields: Any) -> dict[str, Any]:
    return {"settingDefinitionId": definition, **fields}


def test_an_operation_names_the_innermost_setting_it_touches() -> None:
    # renamed: the new name; name gone: the old one
    assert _settings_of(_named("A", x=1), _named("B", x=2)) == {"/v/settingDefinitionId": "B", "/v/x": "B"}
    assert _settings_of(_named("A", x=1), {"x": 2}) == {"/v/settingDefinitionId": "A", "/v/x": "A"}
    # a removed or added child setting is named by itself, not by its parent
    assert _settings_of(_named("A", kids={"c": _named("C")}), _named("A", kids={})) == {"/v/kids/c": "C"}
    assert _settings_of(_named("A", kids={}), _named("A", kids={"c": _named("C")})) == {"/v/kids/c": "C"}
    assert _settings_of(_named("A", kids={"c": 1}), _named("A", kids={})) == {"/v/kids/c": "A"}
    # inside lists of the same length, and lists that grew (an index past the end names the enclosing setting)
    assert _settings_of(_named("A", vals=[1, 2]), _named("A", vals=[1, 3])) == {"/v/vals/1": "A"}
    assert _settings_of(_named("A", vals=[1, 2]), _named("A", vals=[1, 2, 3])) == {"/v/vals/2": "A"}
    # an administrative template value is named by its definition; an empty id or a name that is no text is none
    template_value = {"settingDefinitionId": "", "definition": {"displayName": "Allow X"}, "x": 1}
    assert _settings_of(template_value, {**template_value, "x": 2}) == {"/v/x": "Allow X"}
    odd = {"definition": {"displayName": ["not", "text"]}, "x": 1}
    assert _settings_of(odd, {**odd, "x": 2}) == {"/v/x": None}
    assert _settings_of([1], {"x": 1}) == {"/v": None}


def test_names_inside_resized_lists_follow_escaped_keys() -> None:
    for key in ("a/b", "a~b"):
        previous = [{key: _named("D", v=1)}, {"q": 1}]
        new = [{key: _named("D", v=2)}]
        escaped = key.replace("~", "~0").replace("/", "~1")
        assert _settings_of({"list": previous}, {"list": new}) == {f"/v/list/0/{escaped}/v": "D", "/v/list/1": None}


def test_entries_of_an_operation_without_a_path() -> None:
    [entry] = changes.entries_of([{"op": "remove"}])
    assert entry["path"] == "" and entry["old"] == "not_recorded" and entry["new"] == "absent"


def test_sub_resources_without_parameters_have_no_query() -> None:
    assert registry.SubResource("items", "items").relative_url("/p/1") == "/p/1/items"
    assert registry.SubResource("s", "s", top=1000).relative_url("/p") == "/p/s?$top=1000"


def test_only_refused_types_tell_a_missing_permission() -> None:
    findings = outcomes.permission_findings(
        "partial", ["graph_throttled"], {"types": {"mobileApp": {"code": "graph_throttled", "permission": DMA}}},
        {"policy_types": ["mobileApp", "deviceCategory"], "include_foundations": False})
    assert findings == (set(), {DMC})


def test_only_scope_tag_group_targets_keep_a_target_type() -> None:
    [link] = items.assignment_links([_assignment({"@odata.type": "#microsoft.graph.groupAssignmentTarget",
                                                  "groupId": "g", "targetType": "user"})])
    assert "target_type" not in link.properties
