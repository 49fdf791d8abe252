"""SQL for inventory_sync_runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from inventory_sync.db.rows import Run
from inventory_sync.domain.status import RunStatus, check_run_transition

COLS = ("id, tenant_id, user_id, bulk_operation_run_id, selection_hash, selection_payload, status, had_errors,"
        " error_codes, error_context, started_at, finished_at, items_observed_count, items_upserted_count,"
        " errors_count, items_deleted_count, attempts, progress, trigger, correlation_id, updated_at,"
        " items_added_count, items_changed_count, items_restored_count, read_mode")


def create_running(conn: psycopg.Connection, *, tenant_id: int, user_id: int | None, bulk_operation_run_id: int,
                   selection_hash: str, selection_payload: dict[str, Any], trigger: str,
                   correlation_id: str, read_mode: str = "full") -> Run | None:
    """The run for a dispatch; None when one already exists (a redelivery never makes a second)."""
    with conn.cursor(row_factory=class_row(Run)) as cur:
        return cur.execute(
            "INSERT INTO inventory_sync_runs (tenant_id, user_id, bulk_operation_run_id, selection_hash,"
            " selection_payload, status, trigger, correlation_id, read_mode)"
            " VALUES (%s, %s, %s, %s, %s, 'running', %s, %s, %s)"
            f" ON CONFLICT (bulk_operation_run_id) DO NOTHING RETURNING {COLS}",
            (tenant_id, user_id, bulk_operation_run_id, selection_hash, Jsonb(selection_payload), trigger,
             correlation_id, read_mode),
        ).fetchone()


def last_full_read(conn: psycopg.Connection, tenant_id: int, selection_hash: str) -> datetime | None:
    """When the tenant's latest full read of this selection that stored something (success or partial) began."""
    row = conn.execute(
        "SELECT max(started_at) FROM inventory_sync_runs WHERE tenant_id = %s AND selection_hash = %s"
        " AND read_mode = 'full' AND status IN ('success', 'partial')", (tenant_id, selection_hash)).fetchone()
    return row[0] if row else None


def get(conn: psycopg.Connection, run_id: int, *, for_update: bool = False) -> Run | None:
    with conn.cursor(row_factory=class_row(Run)) as cur:
        return cur.execute(f"SELECT {COLS} FROM inventory_sync_runs WHERE id = %s"
                           + (" FOR UPDATE" if for_update else ""), (run_id,)).fetchone()


def get_by_bulk_operation(conn: psycopg.Connection, bulk_id: int, *, for_update: bool = False) -> Run | None:
    with conn.cursor(row_factory=class_row(Run)) as cur:
        return cur.execute(f"SELECT {COLS} FROM inventory_sync_runs WHERE bulk_operation_run_id = %s"
                           + (" FOR UPDATE" if for_update else ""), (bulk_id,)).fetchone()


def start_attempt(conn: psycopg.Connection, run_id: int) -> int:
    row = conn.execute(
        "UPDATE inventory_sync_runs SET attempts = attempts + 1, updated_at = now() WHERE id = %s"
        " AND status = 'running' RETURNING attempts",
        (run_id,),
    ).fetchone()
    return row[0] if row else 0


def update_progress(conn: psycopg.Connection, run_id: int, *, observed: int, upserted: int, deleted: int,
                    errors: int, progress: dict[str, Any]) -> None:
    conn.execute(
        "UPDATE inventory_sync_runs SET items_observed_count = %s, items_upserted_count = %s,"
        " items_deleted_count = %s, errors_count = %s, progress = %s, updated_at = now()"
        " WHERE id = %s AND status = 'running'",
        (observed, upserted, deleted, errors, Jsonb(progress), run_id),
    )


def finish(conn: psycopg.Connection, run_id: int, *, status: RunStatus, error_codes: list[str],
           error_context: dict[str, Any], observed: int | None = None, upserted: int | None = None,
           deleted: int | None = None, errors: int | None = None,
           progress: dict[str, Any] | None = None) -> bool:
    """running → terminal, once: the table's one status write, after the domain's rule (docs/architecture.md
    §4; the trigger is the backstop). Counters left None keep their stored values."""
    check_run_transition(RunStatus.RUNNING, status)
    cur = conn.execute(
        "UPDATE inventory_sync_runs SET status = %(status)s, had_errors = %(had_errors)s,"
        " error_codes = %(codes)s, error_context = error_context || %(context)s,"
        " items_observed_count = coalesce(%(observed)s, items_observed_count),"
        " items_upserted_count = coalesce(%(upserted)s, items_upserted_count),"
        " items_deleted_count = coalesce(%(deleted)s, items_deleted_count),"
        " errors_count = coalesce(%(errors)s, errors_count),"
        " progress = coalesce(%(progress)s, progress),"
        # counted from the change rows: right across the attempts of a resumed run
        " (items_added_count, items_changed_count, items_restored_count) = (SELECT"
        "   count(*) FILTER (WHERE c.change = 'added'), count(*) FILTER (WHERE c.change = 'changed'),"
        "   count(*) FILTER (WHERE c.change = 'restored') FROM inventory_item_changes c"
        "   WHERE c.tenant_id = inventory_sync_runs.tenant_id AND c.inventory_sync_run_id = inventory_sync_runs.id),"
        " finished_at = now(), updated_at = now() WHERE id = %(id)s AND status = 'running'",
        {"status": status.value, "had_errors": bool(error_codes), "codes": Jsonb(sorted(set(error_codes))),
         "context": Jsonb(error_context), "observed": observed, "upserted": upserted, "deleted": deleted,
         "errors": errors, "progress": Jsonb(progress) if progress is not None else None, "id": run_id},
    )
    return cur.rowcount == 1


def running_ids(conn: psycopg.Connection, limit: int = 500) -> list[tuple[int, int, str]]:
    rows = conn.execute(
        "SELECT id, tenant_id, selection_hash FROM inventory_sync_runs WHERE status = 'running' ORDER BY id LIMIT %s",
        (limit,),
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def list_for_tenant(conn: psycopg.Connection, tenant_id: int, *, status: str | None, before_id: int | None,
                    limit: int) -> list[Run]:
    with conn.cursor(row_factory=class_row(Run)) as cur:
        return cur.execute(
            f"SELECT {COLS} FROM inventory_sync_runs WHERE tenant_id = %(tenant)s"
            " AND (%(status)s::text IS NULL OR status = %(status)s)"
            " AND (%(before)s::bigint IS NULL OR id < %(before)s) ORDER BY id DESC LIMIT %(limit)s",
            {"tenant": tenant_id, "status": status, "before": before_id, "limit": limit},
        ).fetchall()


def latest_for_tenants(conn: psycopg.Connection, tenant_ids: list[int]) -> dict[int, Run]:
    """Each tenant's latest run of any selection: one index probe per tenant (tenant, id DESC)."""
    cols = ", ".join(f"r.{c.strip()}" for c in COLS.split(","))
    with conn.cursor(row_factory=class_row(Run)) as cur:
        rows = cur.execute(
            f"SELECT {cols} FROM unnest(%s::bigint[]) AS t(id) CROSS JOIN LATERAL (SELECT * FROM inventory_sync_runs"
            " WHERE tenant_id = t.id ORDER BY id DESC LIMIT 1) r",
            (tenant_ids,)).fetchall()
    return {run.tenant_id: run for run in rows}
