"""Read side of the API: runs, bulk operations, items, audit logs. Each query is its own unit of work: the caller
resolved and authorised inside it (services/access.py)."""

from __future__ import annotations

from inventory_sync.db.changes import ItemChange
from inventory_sync.db.items import ItemFilter
from inventory_sync.db.rows import (
    AuditEvent,
    BulkOperation,
    BulkOperationWithRun,
    ItemWithLinks,
    Run,
    TypeCount,
    with_links,
    with_run,
)
from inventory_sync.errors import NotFound, Unprocessable
from inventory_sync.services.access import READ_ROLES, Identity, member_of, require_bulk_operation, working_as
from inventory_sync.services.paging import Page, decode_cursor, decode_keyset, encode_keyset
from inventory_sync.services.unit_of_work import UnitOfWork


def list_runs(uow: UnitOfWork, identity: Identity, tenant_id: int, *, status: str | None, cursor: str | None,
              limit: int) -> Page[Run]:
    with member_of(uow, identity, tenant_id, READ_ROLES):
        rows = uow.runs.list_for_tenant(tenant_id, status=status, before_id=decode_cursor(cursor), limit=limit + 1)
    return Page.of(rows, limit)


def _run_of_tenant(uow: UnitOfWork, tenant_id: int, run_id: int) -> Run:
    run = uow.runs.get(run_id)
    if run is None or run.tenant_id != tenant_id:
        raise NotFound(f"run {run_id} not found")
    return run


def get_run(uow: UnitOfWork, identity: Identity, tenant_id: int, run_id: int) -> Run:
    with member_of(uow, identity, tenant_id, READ_ROLES):
        return _run_of_tenant(uow, tenant_id, run_id)


def list_changes(uow: UnitOfWork, identity: Identity, tenant_id: int, run_id: int, *, change: str | None,
                 policy_type: str | None, cursor: str | None, limit: int) -> Page[ItemChange]:
    """A run's change set, in the order it was recorded."""
    with member_of(uow, identity, tenant_id, READ_ROLES):
        _run_of_tenant(uow, tenant_id, run_id)
        rows = uow.changes.list_for_run(tenant_id, run_id, change=change, policy_type=policy_type,
                                        after_id=decode_cursor(cursor), limit=limit + 1)
    return Page.of(rows, limit)


def item_history(uow: UnitOfWork, identity: Identity, tenant_id: int, item_id: int, *, cursor: str | None,
                 limit: int) -> Page[ItemChange]:
    """Every recorded change of one item, newest first."""
    with member_of(uow, identity, tenant_id, READ_ROLES):
        if not uow.items.exists(tenant_id, item_id):
            raise NotFound(f"item {item_id} not found")
        rows = uow.changes.history_of_item(tenant_id, item_id, before_id=decode_cursor(cursor), limit=limit + 1)
    return Page.of(rows, limit)


def get_bulk_operation(uow: UnitOfWork, identity: Identity, bulk_id: int) -> BulkOperationWithRun:
    with working_as(uow, identity) as caller:
        op = require_bulk_operation(uow, caller.user, bulk_id, READ_ROLES)
        return with_run(op, uow.runs.get_by_bulk_operation(op.id))


def list_bulk_operations(uow: UnitOfWork, identity: Identity, *, status: str | None, cursor: str | None,
                         limit: int) -> Page[BulkOperation]:
    if status not in (None, "active"):
        raise Unprocessable("status must be 'active' or absent",
                            errors=[{"field": "status", "message": "only 'active' is supported"}])
    with working_as(uow, identity) as caller:
        rows = uow.bulk_operations.list_for_user(caller.user.id, active_only=status == "active",
                                                 before_id=decode_cursor(cursor), limit=limit + 1)
    return Page.of(rows, limit)


def list_items(uow: UnitOfWork, identity: Identity, tenant_id: int, which: ItemFilter, *, sort: str = "id",
               descending: bool = False, cursor: str | None, limit: int) -> Page[ItemWithLinks]:
    """A page of the tenant's inventory, filtered and sorted (the cursor carries the sort it was made for)."""
    keyset = decode_keyset(cursor, sort, descending)
    with member_of(uow, identity, tenant_id, READ_ROLES):
        rows = uow.items.list_for_tenant(tenant_id, which, keyset, limit + 1)
        kept = rows[:limit]
        links = uow.items.links_for_items([r.id for r in kept]) if kept else {}
    next_cursor = encode_keyset(kept[-1], sort, descending) if len(rows) > limit and kept else None
    return Page([with_links(r, links.get(r.id, [])) for r in kept], next_cursor)


def get_item(uow: UnitOfWork, identity: Identity, tenant_id: int, item_id: int) -> ItemWithLinks:
    with member_of(uow, identity, tenant_id, READ_ROLES):
        item = uow.items.get(tenant_id, item_id)
        if item is None:
            raise NotFound(f"inventory item {item_id} not found")
        return with_links(item, uow.items.links_for_items([item.id]).get(item.id, []))


def inventory_summary(uow: UnitOfWork, identity: Identity, tenant_id: int) -> list[TypeCount]:
    """Live and deleted items per policy type."""
    with member_of(uow, identity, tenant_id, READ_ROLES):
        return uow.items.counts_by_type(tenant_id)


def list_audit(uow: UnitOfWork, identity: Identity, tenant_id: int, *, action: str | None,
               resource_type: str | None, resource_id: str | None, cursor: str | None,
               limit: int) -> Page[AuditEvent]:
    with member_of(uow, identity, tenant_id, READ_ROLES):
        rows = uow.audit.list_for_tenant(tenant_id, action=action, resource_type=resource_type,
                                         resource_id=resource_id, before_id=decode_cursor(cursor), limit=limit + 1)
    return Page.of(rows, limit)
