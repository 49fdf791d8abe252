"""Response models of the HTTP API (request models live with the domain: SelectionRequest).

They validate straight from the typed rows of `db/rows.py` (`from_attributes`): a record has one shape between
the database and the JSON. Timestamps are written as Python's `isoformat()` writes them (`+00:00`, not pydantic's
`Z`): the API's JSON has always looked like that (tests/snapshots/api_shapes.json).

No `from __future__ import annotations` here: pydantic would evaluate every annotation string when the class is
defined (a compile each), while plain annotations are evaluated by the module's own bytecode (a fifth of the
module's load; docs/decisions/0013).
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer


def _isoformat(value: datetime) -> str:
    return value.isoformat()


Timestamp = Annotated[datetime, PlainSerializer(_isoformat, return_type=str)]


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True, defer_build=True)


class BulkOperationOut(Out):
    id: int
    tenant_id: int
    user_id: int | None
    resource: str
    action: str
    status: Literal["pending", "running", "completed", "completed_with_errors", "failed", "aborted"]
    total_items: int
    processed_items: int
    succeeded: int
    failed: int
    skipped: int
    item_ids: list[Any]
    audit_log_id: int | None
    created_at: Timestamp
    updated_at: Timestamp
    finished_at: Timestamp | None


class SelectionOut(Out):
    policy_types: list[str]
    categories: list[str]
    include_foundations: bool
    include_dependencies: bool


class DispatchOut(Out):
    bulk_operation_run: BulkOperationOut
    selection_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    selection: SelectionOut
    ignored_policy_types: list[str]


class RunOut(Out):
    id: int
    tenant_id: int
    user_id: int | None
    bulk_operation_run_id: int
    selection_hash: str
    selection_payload: dict[str, Any]
    status: Literal["running", "success", "partial", "failed", "skipped"]
    had_errors: bool
    error_codes: list[str]
    error_context: dict[str, Any]
    started_at: Timestamp
    finished_at: Timestamp | None
    items_observed_count: int
    items_upserted_count: int
    errors_count: int
    items_deleted_count: int
    changes: dict[str, int] = Field(description="items per change kind: added, changed, deleted, restored")
    attempts: int
    progress: dict[str, Any]
    trigger: str | None


class BulkOperationDetailOut(BulkOperationOut):
    run: RunOut | None


class RunPage(Out):
    items: list[RunOut]
    next_cursor: str | None


class BulkOperationPage(Out):
    items: list[BulkOperationOut]
    next_cursor: str | None


class LinkOut(Out):
    link_type: str
    target_type: str
    target_id: str
    target_name: str | None = Field(
        default=None, description="the target's name where the inventory holds it (filters, scope tags, policies);"
                                  " null when it does not (groups)")
    properties: dict[str, Any]


class ItemOut(Out):
    id: int
    policy_type: str
    external_id: str
    display_name: str | None
    category: str | None
    platform: str | None
    content_hash: str
    assignments_hash: str | None = Field(description="hash of the assignments; null until a sync reads them")
    first_seen_at: Timestamp
    last_seen_at: Timestamp
    last_seen_run_id: int | None
    deleted_at: Timestamp | None
    assigned: bool = Field(description="the item has at least one assignment")
    last_changed_at: Timestamp | None = Field(description="when a sync last recorded a change of it (added included)")
    payload: dict[str, Any]
    links: list[LinkOut]


class TypeCountOut(Out):
    """One row per (policy type, category): each item is counted once, in the category its listing shows."""

    policy_type: str
    display_name: str = Field(description="the Intune admin center's name of the type")
    category: str | None
    items: int
    deleted: int


class InventorySummaryOut(Out):
    tenant_id: int
    policy_types: list[TypeCountOut]


class ChangeEntryOut(Out):
    """One operation of a change's JSON Patch with its earlier value."""

    op: Literal["add", "remove", "replace", "move", "copy"]
    path: str
    from_path: str | None = Field(description="move/copy: where the value came from")
    setting: str | None = Field(description="the setting the path is in, by the name the payload gives it (a"
                                            " settings-catalog settingDefinitionId, an administrative template's"
                                            " display name); null outside named settings")
    old: Literal["value", "absent", "not_recorded"] = Field(
        description="value: `old_value` holds the earlier value; absent: there was none (add);"
                    " not_recorded: an older record that kept only the new value")
    old_value: Any = None
    new: Literal["value", "absent"] = Field(description="absent: the value was removed")
    new_value: Any = None


class ChangeOut(Out):
    id: int
    inventory_sync_run_id: int
    inventory_item_id: int
    policy_type: str
    external_id: str
    display_name: str | None
    change: Literal["added", "changed", "deleted", "restored"]
    previous_hash: str | None
    new_hash: str | None
    diff: list[dict[str, Any]] | None = Field(
        description="RFC 6902 JSON Patch, previous → new configuration; a `test` operation holding the earlier"
                    " value precedes each `replace` and `remove` (records written before that have none)")
    previous_values_recorded: bool = Field(
        description="the diff holds the earlier values (false: an older record, 'earlier value not recorded')")
    entries: list[ChangeEntryOut] | None = Field(
        description="the diff read as 'where: old → new', one entry per add, remove, replace or move")
    links_diff: dict[str, Any] | None = Field(description="dependency links added and removed")
    recorded_at: Timestamp


class ChangePage(Out):
    items: list[ChangeOut]
    next_cursor: str | None


class ItemPage(Out):
    items: list[ItemOut]
    next_cursor: str | None


class AuditOut(Out):
    id: int
    tenant_id: int | None
    actor_type: Literal["user", "system"]
    actor_id: int | None
    actor_email: str | None
    actor_name: str | None
    action: str
    resource_type: str
    resource_id: str
    status: str
    outcome: str = Field(description="the outcome in the runs' words: a terminal sync event's run status"
                                     " (success, partial, failed, skipped, aborted), else `status`")
    metadata: dict[str, Any]
    correlation_id: str | None
    recorded_at: Timestamp


class AuditPage(Out):
    items: list[AuditOut]
    next_cursor: str | None


class PolicyTypeOut(Out):
    key: str
    display_name: str = Field(description="the Intune admin center's name of the type")
    collection: str
    category: str
    permission: str
    assignments: Literal["expand", "batch", "none"]
    api_version: str
    v1_available: bool
    foundation: bool
    enabled: bool


class CategoryOut(Out):
    key: str
    display_name: str = Field(description="the Intune admin center's name of the category")
    policy_types: list[str] = Field(description="the types a selection of this category syncs: every type whose"
                                                " items the inventory lists under it")


class PolicyTypesOut(Out):
    policy_types: list[PolicyTypeOut]
    categories: list[str]
    category_details: list[CategoryOut]


class Problem(Out):
    """RFC 9457 problem document (application/problem+json)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] = []


class ProbeOut(Out):
    key: str
    category: str
    foundation: bool
    permission: str
    result: Literal["reachable", "forbidden", "not_found", "error"]
    status: int | None
    detail: str | None


class PermissionCheckOut(Out):
    tenant_id: int
    checked_at: float
    ok: bool
    token_error: str | None
    missing_permissions: list[str]
    probes: list[ProbeOut]


class TenantOut(Out):
    id: int
    name: str
    graph_tenant_id: str
    graph_client_id: str
    status: Literal["active", "inactive"]
    scheduled_sync_enabled: bool
    created_at: Timestamp
    updated_at: Timestamp
    role: Literal["owner", "operator", "reader"] | None = Field(
        description="the caller's role in the tenant (null: a platform administrator who is not a member)")


class LastRunOut(Out):
    id: int
    status: Literal["running", "success", "partial", "failed", "skipped"]
    trigger: str | None
    started_at: Timestamp
    finished_at: Timestamp | None
    items_observed_count: int
    items_upserted_count: int
    error_codes: list[str]


class ChangeCountsOut(Out):
    added: int
    changed: int
    deleted: int
    restored: int


class TenantOverviewOut(TenantOut):
    """A tenant with what an operator looks at first: its latest run, what that changed, its size, and the Graph
    permissions its app lacks."""

    last_run: LastRunOut | None = Field(description="the tenant's latest run of any selection")
    last_changes: ChangeCountsOut | None = Field(description="what the latest run changed (null while it runs)")
    item_count: int = Field(description="live inventory items")
    missing_permissions: list[str] = Field(
        description="Graph application permissions the latest permission check or run found missing (sorted)")
    missing_permissions_checked_at: Timestamp | None = Field(
        description="when that was found out (null: never)")


class TenantPage(Out):
    items: list[TenantOverviewOut]
    next_cursor: str | None


class MemberOut(Out):
    user_id: int
    subject: str
    email: str | None
    name: str | None
    role: Literal["owner", "operator", "reader"]
    created_at: Timestamp


class MemberPage(Out):
    items: list[MemberOut]
