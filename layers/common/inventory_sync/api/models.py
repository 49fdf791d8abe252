"""Response models of the HTTP API (request models live with the domain: SelectionRequest)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class BulkOperationOut(BaseModel):
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
    created_at: str
    updated_at: str
    finished_at: str | None


class SelectionOut(BaseModel):
    policy_types: list[str]
    categories: list[str]
    include_foundations: bool
    include_dependencies: bool


class DispatchOut(BaseModel):
    bulk_operation_run: BulkOperationOut
    selection_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    selection: SelectionOut
    ignored_policy_types: list[str]


class RunOut(BaseModel):
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
    started_at: str
    finished_at: str | None
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


class RunPage(BaseModel):
    items: list[RunOut]
    next_cursor: str | None


class BulkOperationPage(BaseModel):
    items: list[BulkOperationOut]
    next_cursor: str | None


class LinkOut(BaseModel):
    link_type: str
    target_type: str
    target_id: str
    properties: dict[str, Any]


class ItemOut(BaseModel):
    id: int
    policy_type: str
    external_id: str
    display_name: str | None
    category: str | None
    platform: str | None
    content_hash: str
    assignments_hash: str | None = Field(description="hash of the assignments; null until a sync reads them")
    first_seen_at: str
    last_seen_at: str
    last_seen_run_id: int | None
    deleted_at: str | None
    payload: dict[str, Any]
    links: list[LinkOut]


class TypeCountOut(BaseModel):
    policy_type: str
    category: str | None
    items: int
    deleted: int


class InventorySummaryOut(BaseModel):
    tenant_id: int
    policy_types: list[TypeCountOut]


class ChangeOut(BaseModel):
    id: int
    inventory_sync_run_id: int
    inventory_item_id: int
    policy_type: str
    external_id: str
    display_name: str | None
    change: Literal["added", "changed", "deleted", "restored"]
    previous_hash: str | None
    new_hash: str | None
    diff: list[dict[str, Any]] | None = Field(description="RFC 6902 JSON Patch, previous → new configuration")
    links_diff: dict[str, Any] | None = Field(description="dependency links added and removed")
    recorded_at: str


class ChangePage(BaseModel):
    items: list[ChangeOut]
    next_cursor: str | None


class ItemPage(BaseModel):
    items: list[ItemOut]
    next_cursor: str | None


class AuditOut(BaseModel):
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
    metadata: dict[str, Any]
    correlation_id: str | None
    recorded_at: str


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: str | None


class PolicyTypeOut(BaseModel):
    key: str
    collection: str
    category: str
    permission: str
    assignments: Literal["expand", "batch", "none"]
    api_version: str
    v1_available: bool
    foundation: bool
    enabled: bool


class PolicyTypesOut(BaseModel):
    policy_types: list[PolicyTypeOut]
    categories: list[str]


class Problem(BaseModel):
    """RFC 9457 problem document (application/problem+json)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] = []


class ProbeOut(BaseModel):
    key: str
    category: str
    foundation: bool
    permission: str
    result: Literal["reachable", "forbidden", "not_found", "error"]
    status: int | None
    detail: str | None


class PermissionCheckOut(BaseModel):
    tenant_id: int
    checked_at: float
    ok: bool
    token_error: str | None
    missing_permissions: list[str]
    probes: list[ProbeOut]


class TenantOut(BaseModel):
    id: int
    name: str
    graph_tenant_id: str
    graph_client_id: str
    status: Literal["active", "inactive"]
    scheduled_sync_enabled: bool
    created_at: str
    updated_at: str
    role: Literal["owner", "operator", "reader"] | None = Field(
        description="the caller's role in the tenant (null: a platform administrator who is not a member)")


class TenantPage(BaseModel):
    items: list[TenantOut]
    next_cursor: str | None


class MemberOut(BaseModel):
    user_id: int
    subject: str
    email: str | None
    name: str | None
    role: Literal["owner", "operator", "reader"]
    created_at: str


class MemberPage(BaseModel):
    items: list[MemberOut]
