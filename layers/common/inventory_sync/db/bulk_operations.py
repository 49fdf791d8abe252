"""SQL for bulk_operation_runs (the progress widget's generic record)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from inventory_sync.db.rows import BulkOperation
from inventory_sync.domain.status import BULK_TERMINAL, BulkStatus, check_bulk_transition

COLS = ("id, tenant_id, user_id, resource, action, status, total_items, processed_items, succeeded, failed,"
        " skipped, item_ids, audit_log_id, selection_hash, trigger, correlation_id, cancel_requested_at,"
        " created_at, updated_at, finished_at")


def create(conn: psycopg.Connection, *, tenant_id: int, user_id: int | None, selection_hash: str, trigger: str,
           correlation_id: str) -> BulkOperation:
    with conn.cursor(row_factory=class_row(BulkOperation)) as cur:
        row = cur.execute(
            "INSERT INTO bulk_operation_runs (tenant_id, user_id, resource, action, status, total_items, item_ids,"
            " selection_hash, trigger, correlation_id) VALUES (%s, %s, 'inventory', 'sync', 'pending', 1, %s, %s,"
            f" %s, %s) RETURNING {COLS}",
            (tenant_id, user_id, Jsonb([selection_hash]), selection_hash, trigger, correlation_id),
        ).fetchone()
    assert row is not None
    return row


def create_scheduled(conn: psycopg.Connection, tenant_ids: list[int], selection_hash: str,
                     correlation_id: str) -> list[tuple[int, int]]:
    """One pending system operation per tenant in one statement; returns (tenant_id, id) pairs."""
    rows = conn.execute(
        "INSERT INTO bulk_operation_runs (tenant_id, resource, action, status, total_items, item_ids,"
        " selection_hash, trigger, correlation_id)"
        " SELECT t, 'inventory', 'sync', 'pending', 1, %s, %s, 'schedule', %s FROM unnest(%s::bigint[]) AS t"
        " ON CONFLICT (tenant_id, selection_hash) WHERE trigger = 'schedule' AND status IN ('pending', 'running')"
        " DO NOTHING RETURNING tenant_id, id",
        (Jsonb([selection_hash]), selection_hash, correlation_id, tenant_ids),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def link_audit(conn: psycopg.Connection, pairs: list[tuple[int, int]]) -> None:
    """Set audit_log_id for (bulk id, audit id) pairs."""
    if not pairs:
        return
    ids, audits = zip(*pairs, strict=True)
    conn.execute(
        "UPDATE bulk_operation_runs b SET audit_log_id = u.audit FROM unnest(%s::bigint[], %s::bigint[])"
        " AS u(id, audit) WHERE b.id = u.id",
        (list(ids), list(audits)),
    )


def delete_pending(conn: psycopg.Connection, ids: list[int]) -> None:
    """Remove operations whose message never left (nothing was audited for them yet)."""
    conn.execute("DELETE FROM bulk_operation_runs WHERE id = ANY(%s) AND status = 'pending'"
                 " AND audit_log_id IS NULL", (ids,))


def get(conn: psycopg.Connection, bulk_id: int, *, for_update: bool = False) -> BulkOperation | None:
    with conn.cursor(row_factory=class_row(BulkOperation)) as cur:
        return cur.execute(
            f"SELECT {COLS} FROM bulk_operation_runs WHERE id = %s" + (" FOR UPDATE" if for_update else ""),
            (bulk_id,),
        ).fetchone()


def tenants_with_active(conn: psycopg.Connection, tenant_ids: list[int], selection_hash: str) -> set[int]:
    rows = conn.execute(
        "SELECT DISTINCT tenant_id FROM bulk_operation_runs WHERE tenant_id = ANY(%s) AND selection_hash = %s"
        " AND status IN ('pending', 'running')",
        (tenant_ids, selection_hash),
    ).fetchall()
    return {r[0] for r in rows}


def transition(conn: psycopg.Connection, bulk_id: int, current: BulkStatus, target: BulkStatus, *,
               counters: dict[str, int] | None = None, item_ids: list[Any] | None = None) -> bool:
    """The table's one status write: the domain's rule first (docs/architecture.md §4; the trigger is the
    backstop), then the change, only from the status the caller saw, so a late or repeated writer changes
    nothing. A terminal status sets `finished_at`; `counters` and `item_ids` are written when given."""
    check_bulk_transition(current, target)
    counters = counters or {}
    cur = conn.execute(
        "UPDATE bulk_operation_runs SET status = %(target)s, item_ids = coalesce(%(item_ids)s, item_ids),"
        " processed_items = coalesce(%(processed_items)s, processed_items),"
        " succeeded = coalesce(%(succeeded)s, succeeded), failed = coalesce(%(failed)s, failed),"
        " skipped = coalesce(%(skipped)s, skipped),"
        " finished_at = CASE WHEN %(terminal)s THEN now() ELSE finished_at END, updated_at = now()"
        " WHERE id = %(id)s AND status = %(current)s",
        {"id": bulk_id, "current": current.value, "target": target.value, "terminal": target in BULK_TERMINAL,
         "item_ids": Jsonb(item_ids) if item_ids is not None else None,
         **{name: counters.get(name) for name in ("processed_items", "succeeded", "failed", "skipped")}},
    )
    return cur.rowcount == 1


def mark_running(conn: psycopg.Connection, bulk_id: int, run_id: int) -> bool:
    return transition(conn, bulk_id, BulkStatus.PENDING, BulkStatus.RUNNING, item_ids=[run_id])


def finish(conn: psycopg.Connection, bulk_id: int, current: BulkStatus, target: BulkStatus,
           counters: dict[str, int]) -> bool:
    """Terminal status and counters, once: only the operation still in `current` changes."""
    return transition(conn, bulk_id, current, target, counters=counters)


def request_cancel(conn: psycopg.Connection, bulk_id: int) -> bool:
    cur = conn.execute(
        "UPDATE bulk_operation_runs SET cancel_requested_at = coalesce(cancel_requested_at, now()),"
        " updated_at = now() WHERE id = %s AND status = 'running'",
        (bulk_id,),
    )
    return cur.rowcount == 1


def cancel_requested(conn: psycopg.Connection, bulk_id: int) -> bool:
    row = conn.execute(
        "SELECT cancel_requested_at IS NOT NULL OR status = 'aborted' FROM bulk_operation_runs WHERE id = %s",
        (bulk_id,),
    ).fetchone()
    return bool(row and row[0])


def list_for_user(conn: psycopg.Connection, user_id: int, *, active_only: bool, before_id: int | None,
                  limit: int) -> list[BulkOperation]:
    """The user's own operations on the tenants they are a member of now (a removed member sees none)."""
    with conn.cursor(row_factory=class_row(BulkOperation)) as cur:
        return cur.execute(
            f"SELECT {COLS} FROM bulk_operation_runs b WHERE user_id = %(user)s"
            " AND EXISTS (SELECT 1 FROM tenant_memberships m WHERE m.tenant_id = b.tenant_id"
            " AND m.user_id = %(user)s)"
            " AND (NOT %(active)s OR status IN ('pending', 'running'))"
            " AND (%(before)s::bigint IS NULL OR id < %(before)s) ORDER BY id DESC LIMIT %(limit)s",
            {"user": user_id, "active": active_only, "before": before_id, "limit": limit},
        ).fetchall()


def stale_pending(conn: psycopg.Connection, older_than_seconds: int, limit: int = 500) -> list[int]:
    rows = conn.execute(
        "SELECT b.id FROM bulk_operation_runs b WHERE b.status = 'pending'"
        " AND b.created_at < now() - make_interval(secs => %s)"
        " AND NOT EXISTS (SELECT 1 FROM inventory_sync_runs r WHERE r.bulk_operation_run_id = b.id)"
        " ORDER BY b.id LIMIT %s",
        (older_than_seconds, limit),
    ).fetchall()
    return [r[0] for r in rows]
