"""Typed rows returned by the table modules: the one shape a record has between the database and the API
(the API's response models validate straight from these, `from_attributes`).

Rows are named tuples: immutable, and built without the generated code a dataclass compiles per class when
its module loads, which on Python 3.12 cost the functions' cold start ~0.5 ms a class (docs/decisions/0014).
A row that extends another (a tenant with the caller's role, an item with its links) lists the other's
fields first, in the same order (a test holds them together), so that it is built from one by appending."""

from datetime import datetime
from typing import Any, NamedTuple

from inventory_sync.domain.registry import DISPLAY_NAMES
from inventory_sync.domain.status import TERMINAL_AUDIT_ACTIONS


class Tenant(NamedTuple):
    id: int
    name: str
    graph_tenant_id: str
    graph_client_id: str
    status: str
    scheduled_sync_enabled: bool


class TenantWithRole(NamedTuple):
    """A tenant as a caller sees it: with the caller's role (None: an administrator who is not a member)."""

    id: int
    name: str
    graph_tenant_id: str
    graph_client_id: str
    status: str
    scheduled_sync_enabled: bool
    # then the caller's view
    created_at: datetime
    updated_at: datetime
    role: str | None


class Member(NamedTuple):
    user_id: int
    subject: str
    email: str | None
    name: str | None
    role: str
    created_at: datetime


class User(NamedTuple):
    id: int
    subject: str
    email: str | None
    name: str | None


class BulkOperation(NamedTuple):
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


class Run(NamedTuple):
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
    read_mode: str

    @property
    def changes(self) -> dict[str, int]:
        """Counts per change kind (terminal audit metadata)."""
        return {"added": self.items_added_count, "changed": self.items_changed_count,
                "deleted": self.items_deleted_count, "restored": self.items_restored_count}


class AuditEvent(NamedTuple):
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

    @property
    def outcome(self) -> str:
        """In the runs' words: a terminal sync event says its run's status (`partial`, not the event's
        `success`); any other event its own status."""
        run_status = self.metadata.get("status")
        if self.action in TERMINAL_AUDIT_ACTIONS and isinstance(run_status, str):
            return run_status
        return self.status


class InventoryItem(NamedTuple):
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
    assigned: bool
    last_changed_at: datetime | None


class StoredLink(NamedTuple):
    """A dependency of an inventory item as stored and read back (group, filter, policy); what a sync derives from
    a payload, with its identity key, is domain.items.Link."""

    link_type: str
    target_type: str
    target_id: str
    properties: dict[str, Any]
    target_name: str | None = None  # the target's name where the inventory holds the target


class ItemWithLinks(NamedTuple):
    """An inventory item with its dependencies."""

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
    assigned: bool
    last_changed_at: datetime | None
    # then its links
    links: list[StoredLink]


class TypeCount(NamedTuple):
    policy_type: str
    category: str | None
    items: int
    deleted: int

    @property
    def display_name(self) -> str:
        """The admin center's name of the type (the key itself for a type no longer in the registry)."""
        return DISPLAY_NAMES.get(self.policy_type, self.policy_type)


class BulkOperationWithRun(NamedTuple):
    """A bulk operation with the live progress of its run (None until run_sync starts it)."""

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
    # then its run
    run: Run | None = None


def with_run(op: BulkOperation, run: Run | None) -> BulkOperationWithRun:
    return BulkOperationWithRun(*op, run=run)


def with_links(item: InventoryItem, links: list[StoredLink]) -> ItemWithLinks:
    return ItemWithLinks(*item, links=links)
