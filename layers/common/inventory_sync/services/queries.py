"""Read side of the API: runs, bulk operations, items, audit logs; and cancellation."""

from __future__ import annotations

import psycopg

from inventory_sync.db import audit, bulk_operations, changes, items, runs
from inventory_sync.db.changes import ItemChange
from inventory_sync.db.rows import (
    AuditEvent,
    BulkOperation,
    BulkOperationWithRun,
    ItemWithLinks,
    Run,
    TypeCount,
    User,
    with_links,
    with_run,
)
from inventory_sync.domain.audit import NewAuditEvent, terminal_event
from inventory_sync.domain.error_codes import ErrorCode
from inventory_sync.domain.status import ABORTED, BULK_TERMINAL, AuditAction, BulkStatus
from inventory_sync.errors import Conflict, NotFound, Unprocessable
from inventory_sync.services.access import READ_ROLES, WRITE_ROLES, actor_of, require_member
from inventory_sync.services.paging import Page, decode_cursor


def list_runs(conn: psycopg.Connection, user: User, tenant_id: int, *, status: str | None, cursor: str | None,
              limit: int) -> Page[Run]:
    require_member(conn, tenant_id, user, READ_ROLES)
    rows = runs.list_for_tenant(conn, tenant_id, status=status, before_id=decode_cursor(cursor), limit=limit + 1)
    return Page.of(rows, limit)


def get_run(conn: psycopg.Connection, user: User, tenant_id: int, run_id: int) -> Run:
    require_member(conn, tenant_id, user, READ_ROLES)
    run = runs.get(conn, run_id)
    if run is None or run.tenant_id != tenant_id:
        raise NotFound(f"run {run_id} not found")
    return run


def list_changes(conn: psycopg.Connection, user: User, tenant_id: int, run_id: int, *, change: str | None,
                 policy_type: str | None, cursor: str | None, limit: int) -> Page[ItemChange]:
    """A run's change set, in the order it was recorded."""
    require_member(conn, tenant_id, user, READ_ROLES)
    run = runs.get(conn, run_id)
    if run is None or run.tenant_id != tenant_id:
        raise NotFound(f"run {run_id} not found")
    rows = changes.list_for_run(conn, tenant_id, run_id, change=change, policy_type=policy_type,
                                after_id=decode_cursor(cursor), limit=limit + 1)
    return Page.of(rows, limit)


def item_history(conn: psycopg.Connection, user: User, tenant_id: int, item_id: int, *, cursor: str | None,
                 limit: int) -> Page[ItemChange]:
    """Every recorded change of one item, newest first."""
    require_member(conn, tenant_id, user, READ_ROLES)
    if not items.exists(conn, tenant_id, item_id):
        raise NotFound(f"item {item_id} not found")
    rows = changes.history_of_item(conn, tenant_id, item_id, before_id=decode_cursor(cursor), limit=limit + 1)
    return Page.of(rows, limit)


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


def get_bulk_operation(conn: psycopg.Connection, user: User, bulk_id: int) -> BulkOperationWithRun:
    op = _visible_bulk_operation(conn, user, bulk_id, READ_ROLES)
    return with_run(op, runs.get_by_bulk_operation(conn, op.id))


def list_bulk_operations(conn: psycopg.Connection, user: User, *, status: str | None, cursor: str | None,
                         limit: int) -> Page[BulkOperation]:
    if status not in (None, "active"):
        raise Unprocessable("status must be 'active' or absent",
                            errors=[{"field": "status", "message": "only 'active' is supported"}])
    rows = bulk_operations.list_for_user(conn, user.id, active_only=status == "active",
                                        before_id=decode_cursor(cursor), limit=limit + 1)
    return Page.of(rows, limit)


def cancel(conn: psycopg.Connection, user: User, bulk_id: int,
           correlation_id: str) -> tuple[int, BulkOperationWithRun]:
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
               search: str | None = None) -> Page[ItemWithLinks]:
    require_member(conn, tenant_id, user, READ_ROLES)
    rows = items.list_for_tenant(conn, tenant_id, policy_type=policy_type, include_deleted=include_deleted,
                                 after_id=decode_cursor(cursor), limit=limit + 1, category=category,
                                 search=search)
    page = Page.of(rows, limit)
    links = items.links_for_items(conn, [r.id for r in page.items]) if page.items else {}
    return Page([with_links(r, links.get(r.id, [])) for r in page.items], page.next_cursor)


def get_item(conn: psycopg.Connection, user: User, tenant_id: int, item_id: int) -> ItemWithLinks:
    require_member(conn, tenant_id, user, READ_ROLES)
    item = items.get(conn, tenant_id, item_id)
    if item is None:
        raise NotFound(f"inventory item {item_id} not found")
    return with_links(item, items.links_for_items(conn, [item.id]).get(item.id, []))


def inventory_summary(conn: psycopg.Connection, user: User, tenant_id: int) -> list[TypeCount]:
    """Live and deleted items per policy type."""
    require_member(conn, tenant_id, user, READ_ROLES)
    return items.counts_by_type(conn, tenant_id)


def list_audit(conn: psycopg.Connection, user: User, tenant_id: int, *, action: str | None,
               resource_type: str | None, resource_id: str | None, cursor: str | None,
               limit: int) -> Page[AuditEvent]:
    require_member(conn, tenant_id, user, READ_ROLES)
    rows = audit.list_for_tenant(conn, tenant_id, action=action, resource_type=resource_type,
                                 resource_id=resource_id, before_id=decode_cursor(cursor), limit=limit + 1)
    return Page.of(rows, limit)
