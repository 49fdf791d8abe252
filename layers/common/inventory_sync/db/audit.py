"""SQL for audit_logs (append-only: this module only inserts and reads)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from inventory_sync.db.rows import AuditEvent
from inventory_sync.domain.audit import NewAuditEvent
from inventory_sync.domain.status import TERMINAL_AUDIT_ACTIONS, AuditAction

_COLS = ("id, tenant_id, actor_type, actor_id, actor_email, actor_name, action, resource_type, resource_id,"
         " status, metadata, correlation_id, recorded_at")


def _params(event: NewAuditEvent) -> tuple[Any, ...]:
    return (event.tenant_id, event.actor.type, event.actor.id, event.actor.email, event.actor.name, event.action,
            event.resource_type, event.resource_id, event.status, Jsonb(event.metadata), event.correlation_id)


_INSERT = ("INSERT INTO audit_logs (tenant_id, actor_type, actor_id, actor_email, actor_name, action,"
           " resource_type, resource_id, status, metadata, correlation_id)"
           " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")


def insert(conn: psycopg.Connection, event: NewAuditEvent) -> int:
    row = conn.execute(_INSERT + " RETURNING id", _params(event)).fetchone()
    assert row is not None
    return int(row[0])


# the partial unique index of migration 0001 (one terminal event per bulk operation), inferred from the same
# actions the domain calls terminal (a test checks the index names exactly these)
_ON_TERMINAL_CONFLICT = (" ON CONFLICT ((metadata ->> 'bulk_operation_run_id')) WHERE action IN ("
                         + ", ".join(f"'{a.value}'" for a in AuditAction if a in TERMINAL_AUDIT_ACTIONS)
                         + ") DO NOTHING RETURNING id")


def insert_terminal(conn: psycopg.Connection, event: NewAuditEvent) -> int | None:
    """Insert a terminal event unless one exists for the bulk operation (unique index); None if it did."""
    row = conn.execute(_INSERT + _ON_TERMINAL_CONFLICT, _params(event)).fetchone()
    return row[0] if row else None


def insert_same_for_many(conn: psycopg.Connection, template: NewAuditEvent,
                         targets: list[tuple[int, str]]) -> list[int]:
    """One event per (tenant_id, resource_id), otherwise identical (scheduled fan-out), in one statement;
    ids in input order."""
    if not targets:
        return []
    tenant_ids, resource_ids = (list(x) for x in zip(*targets, strict=True))
    rows = conn.execute(
        "INSERT INTO audit_logs (tenant_id, actor_type, actor_id, actor_email, actor_name, action, resource_type,"
        " resource_id, status, metadata, correlation_id)"
        " SELECT u.tenant_id, %s, %s, %s, %s, %s, %s, u.resource_id, %s, %s, %s"
        " FROM unnest(%s::bigint[], %s::text[]) WITH ORDINALITY AS u(tenant_id, resource_id, ord)"
        " ORDER BY u.ord RETURNING id",
        (template.actor.type, template.actor.id, template.actor.email, template.actor.name, template.action,
         template.resource_type, template.status, Jsonb(template.metadata), template.correlation_id,
         tenant_ids, resource_ids),
    ).fetchall()
    return [r[0] for r in rows]


def count_for_tenant(conn: psycopg.Connection, tenant_id: int, *, action: str | None, resource_type: str | None,
                     resource_id: str | None) -> int:
    row = conn.execute(
        "SELECT count(*) FROM audit_logs WHERE tenant_id = %(tenant)s"
        " AND (%(action)s::text IS NULL OR action = %(action)s)"
        " AND (%(rtype)s::text IS NULL OR resource_type = %(rtype)s)"
        " AND (%(rid)s::text IS NULL OR resource_id = %(rid)s)",
        {"tenant": tenant_id, "action": action, "rtype": resource_type, "rid": resource_id}).fetchone()
    return int(row[0]) if row else 0


def list_for_tenant(conn: psycopg.Connection, tenant_id: int, *, action: str | None, resource_type: str | None,
                    resource_id: str | None, before_id: int | None, limit: int) -> list[AuditEvent]:
    with conn.cursor(row_factory=class_row(AuditEvent)) as cur:
        return cur.execute(
            f"SELECT {_COLS} FROM audit_logs WHERE tenant_id = %(tenant)s"
            " AND (%(action)s::text IS NULL OR action = %(action)s)"
            " AND (%(rtype)s::text IS NULL OR resource_type = %(rtype)s)"
            " AND (%(rid)s::text IS NULL OR resource_id = %(rid)s)"
            " AND (%(before)s::bigint IS NULL OR id < %(before)s)"
            " ORDER BY id DESC LIMIT %(limit)s",
            {"tenant": tenant_id, "action": action, "rtype": resource_type, "rid": resource_id,
             "before": before_id, "limit": limit},
        ).fetchall()
