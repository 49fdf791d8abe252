"""Read side of the API: runs, bulk operations, items, audit logs; and cancellation."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import psycopg

from inventory_sync.db import audit, bulk_operations, changes, items, runs
from inventory_sync.db.rows import AuditEvent, BulkOperation, InventoryItem, Run, User
from inventory_sync.domain.audit import NewAuditEvent, terminal_event
from inventory_sync.domain.error_codes import ErrorCode
from inventory_sync.domain.status import ABORTED, BULK_TERMINAL, AuditAction, BulkStatus
from inventory_sync.errors import Conflict, NotFound, Unprocessable
from inventory_sync.services.access import READ_ROLES, WRITE_ROLES, actor_of, require_member
from inventory_sync.services.dispatch import bulk_operation_view

MAX_PAGE = 200


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"id": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        last_id = int(value["id"])
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise Unprocessable("invalid cursor", errors=[{"field": "cursor", "message": "not a cursor"}]) from exc
    if last_id <= 0:
        raise Unprocessable("invalid cursor", errors=[{"field": "cursor", "message": "not a cursor"}])
    return last_id


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


def run_view(run: Run) -> dict[str, Any]:
    return {
        "id": run.id, "tenant_id": run.tenant_id, "user_id": run.user_id,
        "bulk_operation_run_id": run.bulk_operation_run_id, "selection_hash": run.selection_hash,
        "selection_payload": run.selection_payload, "status": run.status, "had_errors": run.had_errors,
        "error_codes": run.error_codes, "error_context": run.error_context, "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at), "items_observed_count": run.items_observed_count,
        "items_upserted_count": run.items_upserted_count, "errors_count": run.errors_count,
        "items_deleted_count": run.items_deleted_count, "changes": run.changes, "attempts": run.attempts,
        "progress": run.progress, "trigger": run.trigger,
    }


def audit_view(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id, "tenant_id": event.tenant_id, "actor_type": event.actor_type, "actor_id": event.actor_id,
        "actor_email": event.actor_email, "actor_name": event.actor_name, "action": event.action,
        "resource_type": event.resource_type, "resource_id": event.resource_id, "status": event.status,
        "metadata": event.metadata, "correlation_id": event.correlation_id, "recorded_at": _iso(event.recorded_at),
    }


def item_view(item: InventoryItem, links: list[dict[str, object]]) -> dict[str, Any]:
    return {
        "id": item.id, "policy_type": item.policy_type, "external_id": item.external_id,
        "display_name": item.display_name, "category": item.category, "platform": item.platform,
        "content_hash": item.content_hash,
        "assignments_hash": item.assignments_hash, "first_seen_at": _iso(item.first_seen_at),
        "last_seen_at": _iso(item.last_seen_at), "last_seen_run_id": item.last_seen_run_id,
        "deleted_at": _iso(item.deleted_at), "payload": item.payload, "links": links,
    }


def _page(rows: list[Any], limit: int, view: Any, key: str = "items") -> dict[str, Any]:
    has_more = len(rows) > limit
    rows = rows[:limit]
    return {key: [view(r) for r in rows], "next_cursor": encode_cursor(rows[-1].id) if has_more and rows else None}


def list_runs(conn: psycopg.Connection, user: User, tenant_id: int, *, status: str | None, cursor: str | None,
              limit: int) -> dict[str, Any]:
    require_member(conn, tenant_id, user, READ_ROLES)
    rows = runs.list_for_tenant(conn, tenant_id, status=status, before_id=decode_cursor(cursor), limit=limit + 1)
    return _page(rows, limit, run_view)


def get_run(conn: psycopg.Connection, user: User, tenant_id: int, run_id: int) -> dict[str, Any]:
    require_member(conn, tenant_id, user, READ_ROLES)
    run = runs.get(conn, run_id)
    if run is None or run.tenant_id != tenant_id:
        raise NotFound(f"run {run_id} not found")
    return run_view(run)


def change_view(change: changes.ItemChange) -> dict[str, Any]:
    return {
        "id": change.id, "inventory_sync_run_id": change.inventory_sync_run_id,
        "inventory_item_id": change.inventory_item_id, "policy_type": change.policy_type,
        "external_id": change.external_id, "display_name": change.display_name, "change": change.change,
        "previous_hash": change.previous_hash, "new_hash": change.new_hash, "diff": change.diff,
        "links_diff": change.links_diff, "recorded_at": _iso(change.recorded_at),
    }


def list_changes(conn: psycopg.Connection, user: User, tenant_id: int, run_id: int, *, change: str | None,
                 policy_type: str | None, cursor: str | None, limit: int) -> dict[str, Any]:
    """A run's change set, in the order it was recorded."""
    require_member(conn, tenant_id, user, READ_ROLES)
    run = runs.get(conn, run_id)
    if run is None or run.tenant_id != tenant_id:
        raise NotFound(f"run {run_id} not found")
    rows = changes.list_for_run(conn, tenant_id, run_id, change=change, policy_type=policy_type,
                                after_id=decode_cursor(cursor), limit=limit + 1)
    return _page(rows, limit, change_view)


def item_history(conn: psycopg.Connection, user: User, tenant_id: int, item_id: int, *, cursor: str | None,
                 limit: int) -> dict[str, Any]:
    """Every recorded change of one item, newest first."""
    require_member(conn, tenant_id, user, READ_ROLES)
    if not items.exists(conn, tenant_id, item_id):
        raise NotFound(f"item {item_id} not found")
    rows = changes.history_of_item(conn, tenant_id, item_id, before_id=decode_cursor(cursor), limit=limit + 1)
    return _page(rows, limit, change_view)


def _visible_bulk_operation(conn: psycopg.Connection, user: User, bulk_id: int,
                            roles: frozenset[str]) -> BulkOperation:
    op = bulk_operations.get(conn, bulk_id)
    if op is None:
        raise NotFound(f"bulk operation {bulk_id} not found")
    try:
        require_member(conn, op.tenant_id, user, roles)
    except NotFound:
        raise NotFound(f"bulk operation {bulk_id} not found") from None
    return op


def get_bulk_operation(conn: psycopg.Connection, user: User, bulk_id: int) -> dict[str, Any]:
    op = _visible_bulk_operation(conn, user, bulk_id, READ_ROLES)
    view = bulk_operation_view(op)
    run = runs.get_by_bulk_operation(conn, op.id)
    view["run"] = run_view(run) if run else None
    return view


def list_bulk_operations(conn: psycopg.Connection, user: User, *, status: str | None, cursor: str | None,
                         limit: int) -> dict[str, Any]:
    if status not in (None, "active"):
        raise Unprocessable("status must be 'active' or absent",
                            errors=[{"field": "status", "message": "only 'active' is supported"}])
    rows = bulk_operations.list_for_user(conn, user.id, active_only=status == "active",
                                        before_id=decode_cursor(cursor), limit=limit + 1)
    return _page(rows, limit, bulk_operation_view)


def cancel(conn: psycopg.Connection, user: User, bulk_id: int, correlation_id: str) -> tuple[int, dict[str, Any]]:
    """pending → aborted now (200); running → the run is asked to stop (202); terminal → 409."""
    _visible_bulk_operation(conn, user, bulk_id, WRITE_ROLES)
    locked = bulk_operations.get(conn, bulk_id, for_update=True)
    assert locked is not None
    op = locked
    if op.status in BULK_TERMINAL:
        raise Conflict(f"bulk operation {bulk_id} is already {op.status}")
    actor = actor_of(user)
    if op.status == BulkStatus.PENDING:
        bulk_operations.finish(conn, op.id, ABORTED.bulk_status, ABORTED.counters)
        audit.insert_terminal(conn, terminal_event(
            tenant_id=op.tenant_id, bulk_operation_run_id=op.id, actor=actor, outcome=ABORTED, run=None,
            error_codes=[ErrorCode.CANCELLED.value], correlation_id=correlation_id,
            reason="cancelled while pending"))
        code = 200
    else:
        bulk_operations.request_cancel(conn, op.id)
        audit.insert(conn, NewAuditEvent(
            tenant_id=op.tenant_id, actor=actor, action=AuditAction.CANCEL_REQUESTED,
            resource_type="bulk_operation_run", resource_id=str(op.id), status="success",
            correlation_id=correlation_id, metadata={"bulk_operation_run_id": op.id}))
        code = 202
    return code, get_bulk_operation(conn, user, bulk_id)


def list_items(conn: psycopg.Connection, user: User, tenant_id: int, *, policy_type: str | None,
               include_deleted: bool, cursor: str | None, limit: int, category: str | None = None,
               search: str | None = None) -> dict[str, Any]:
    require_member(conn, tenant_id, user, READ_ROLES)
    rows = items.list_for_tenant(conn, tenant_id, policy_type=policy_type, include_deleted=include_deleted,
                                 after_id=decode_cursor(cursor), limit=limit + 1, category=category,
                                 search=search)
    has_more = len(rows) > limit
    rows = rows[:limit]
    links = items.links_for_items(conn, [r.id for r in rows]) if rows else {}
    return {"items": [item_view(r, links.get(r.id, [])) for r in rows],
            "next_cursor": encode_cursor(rows[-1].id) if has_more and rows else None}


def get_item(conn: psycopg.Connection, user: User, tenant_id: int, item_id: int) -> dict[str, Any]:
    require_member(conn, tenant_id, user, READ_ROLES)
    item = items.get(conn, tenant_id, item_id)
    if item is None:
        raise NotFound(f"inventory item {item_id} not found")
    return item_view(item, items.links_for_items(conn, [item.id]).get(item.id, []))


def inventory_summary(conn: psycopg.Connection, user: User, tenant_id: int) -> dict[str, Any]:
    require_member(conn, tenant_id, user, READ_ROLES)
    return {"tenant_id": tenant_id, "policy_types": [
        {"policy_type": key, "category": category, "items": live, "deleted": deleted}
        for key, category, live, deleted in items.counts_by_type(conn, tenant_id)]}


def list_audit(conn: psycopg.Connection, user: User, tenant_id: int, *, action: str | None,
               resource_type: str | None, resource_id: str | None, cursor: str | None,
               limit: int) -> dict[str, Any]:
    require_member(conn, tenant_id, user, READ_ROLES)
    rows = audit.list_for_tenant(conn, tenant_id, action=action, resource_type=resource_type,
                                 resource_id=resource_id, before_id=decode_cursor(cursor), limit=limit + 1)
    return _page(rows, limit, audit_view)
