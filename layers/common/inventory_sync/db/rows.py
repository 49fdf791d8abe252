"""Typed rows returned by the table modules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Tenant:
    id: int
    name: str
    graph_tenant_id: str
    graph_client_id: str
    status: str
    scheduled_sync_enabled: bool


@dataclass(frozen=True)
class User:
    id: int
    subject: str
    email: str | None
    name: str | None


@dataclass(frozen=True)
class BulkOperation:
    id: int
    tenant_id: int
    user_id: int | None
    resource: str
    action: str
    status: str
    total_items: int
    processed_items: int
    succeeded: int
    failed: int
    skipped: int
    item_ids: list[Any]
    audit_log_id: int | None
    selection_hash: str | None
    trigger: str | None
    correlation_id: str | None
    cancel_requested_at: datetime | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class Run:
    id: int
    tenant_id: int
    user_id: int | None
    bulk_operation_run_id: int
    selection_hash: str
    selection_payload: dict[str, Any]
    status: str
    had_errors: bool
    error_codes: list[str]
    error_context: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None
    items_observed_count: int
    items_upserted_count: int
    errors_count: int
    items_deleted_count: int
    attempts: int
    progress: dict[str, Any]
    trigger: str | None
    correlation_id: str | None
    updated_at: datetime
    items_added_count: int
    items_changed_count: int
    items_restored_count: int

    @property
    def changes(self) -> dict[str, int]:
        """Counts per change kind (terminal audit metadata)."""
        return {"added": self.items_added_count, "changed": self.items_changed_count,
                "deleted": self.items_deleted_count, "restored": self.items_restored_count}


@dataclass(frozen=True)
class AuditEvent:
    id: int
    tenant_id: int | None
    actor_type: str
    actor_id: int | None
    actor_email: str | None
    actor_name: str | None
    action: str
    resource_type: str
    resource_id: str
    status: str
    metadata: dict[str, Any]
    correlation_id: str | None
    recorded_at: datetime


@dataclass(frozen=True)
class InventoryItem:
    id: int
    tenant_id: int
    policy_type: str
    external_id: str
    display_name: str | None
    category: str | None
    platform: str | None
    payload: dict[str, Any]
    content_hash: str
    assignments_hash: str | None
    first_seen_at: datetime
    last_seen_at: datetime
    last_seen_run_id: int | None
    deleted_at: datetime | None
