"""Database-enforced guarantees: append-only audit, allowed statuses, state transitions."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.types.json import Jsonb

HASH = "a" * 64


def _tenant(db: psycopg.Connection) -> int:
    return db.execute(
        "INSERT INTO tenants (name, graph_tenant_id, graph_client_id) VALUES ('t', 'contoso.onmicrosoft.com', 'c')"
        " RETURNING id"
    ).fetchone()[0]


def _audit(db: psycopg.Connection, tenant_id: int, action: str = "inventory.sync.dispatched",
           metadata: dict | None = None) -> int:
    return db.execute(
        "INSERT INTO audit_logs (tenant_id, actor_type, action, resource_type, resource_id, status, metadata)"
        " VALUES (%s, 'system', %s, 'bulk_operation_run', '1', 'success', %s) RETURNING id",
        (tenant_id, action, Jsonb(metadata or {})),
    ).fetchone()[0]


def _bulk(db: psycopg.Connection, tenant_id: int) -> int:
    return db.execute(
        "INSERT INTO bulk_operation_runs (tenant_id, resource, action, item_ids, selection_hash)"
        " VALUES (%s, 'inventory', 'sync', %s, %s) RETURNING id",
        (tenant_id, Jsonb([HASH]), HASH),
    ).fetchone()[0]


def _run(db: psycopg.Connection, tenant_id: int, bulk_id: int, status: str = "running") -> int:
    return db.execute(
        "INSERT INTO inventory_sync_runs (tenant_id, bulk_operation_run_id, selection_hash, selection_payload,"
        " status, finished_at) VALUES (%s, %s, %s, '{}', %s, CASE WHEN %s = 'running' THEN NULL ELSE now() END)"
        " RETURNING id",
        (tenant_id, bulk_id, HASH, status, status),
    ).fetchone()[0]


@pytest.mark.parametrize("statement", [
    "UPDATE audit_logs SET status = 'failure'",
    "DELETE FROM audit_logs",
    "TRUNCATE audit_logs CASCADE",
])
def test_audit_logs_reject_update_delete_truncate_for_superuser(db: psycopg.Connection, statement: str) -> None:
    tenant_id = _tenant(db)
    _audit(db, tenant_id)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        db.execute(statement)
    assert db.execute("SELECT count(*) FROM audit_logs").fetchone()[0] == 1


def test_audit_logs_reject_update_for_the_owning_application_role(db: psycopg.Connection, database_url: str) -> None:
    tenant_id = _tenant(db)
    audit_id = _audit(db, tenant_id)
    role = "invsync_app_" + database_url.rsplit("/", 1)[-1]
    db.execute(f'CREATE ROLE "{role}" LOGIN')
    db.execute(f'ALTER TABLE audit_logs OWNER TO "{role}"')
    db.execute(f'SET ROLE "{role}"')
    try:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute("UPDATE audit_logs SET action = 'x' WHERE id = %s", (audit_id,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute("DELETE FROM audit_logs WHERE id = %s", (audit_id,))
    finally:
        db.execute("RESET ROLE")
    assert db.execute("SELECT action FROM audit_logs WHERE id = %s", (audit_id,)).fetchone()[0] == (
        "inventory.sync.dispatched")


def test_run_with_invalid_status_is_rejected(db: psycopg.Connection) -> None:
    tenant_id = _tenant(db)
    bulk_id = _bulk(db, tenant_id)
    with pytest.raises(psycopg.errors.CheckViolation):
        _run(db, tenant_id, bulk_id, status="done")
    assert db.execute("SELECT count(*) FROM inventory_sync_runs").fetchone()[0] == 0


def test_bulk_operation_with_invalid_status_is_rejected(db: psycopg.Connection) -> None:
    tenant_id = _tenant(db)
    bulk_id = _bulk(db, tenant_id)
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("UPDATE bulk_operation_runs SET status = 'finished' WHERE id = %s", (bulk_id,))


def test_terminal_run_status_never_changes(db: psycopg.Connection) -> None:
    tenant_id = _tenant(db)
    bulk_id = _bulk(db, tenant_id)
    run_id = _run(db, tenant_id, bulk_id)
    db.execute("UPDATE inventory_sync_runs SET status = 'success', finished_at = now() WHERE id = %s", (run_id,))
    with pytest.raises(psycopg.errors.CheckViolation, match="terminal"):
        db.execute("UPDATE inventory_sync_runs SET status = 'failed' WHERE id = %s", (run_id,))
    assert db.execute("SELECT status FROM inventory_sync_runs WHERE id = %s", (run_id,)).fetchone()[0] == "success"


@pytest.mark.parametrize(("start", "target"), [
    ("pending", "completed"),
    ("completed", "running"),
    ("aborted", "pending"),
])
def test_bulk_operation_rejects_transitions_outside_the_state_machine(
    db: psycopg.Connection, start: str, target: str
) -> None:
    tenant_id = _tenant(db)
    bulk_id = _bulk(db, tenant_id)
    path = {"pending": [], "completed": ["running", "completed"], "aborted": ["aborted"]}[start]
    for status in path:
        db.execute(
            "UPDATE bulk_operation_runs SET status = %s, finished_at = CASE WHEN %s IN ('pending','running')"
            " THEN NULL ELSE now() END WHERE id = %s", (status, status, bulk_id))
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(
            "UPDATE bulk_operation_runs SET status = %s, finished_at = CASE WHEN %s IN ('pending','running')"
            " THEN NULL ELSE now() END WHERE id = %s", (target, target, bulk_id))


def test_one_run_per_bulk_operation(db: psycopg.Connection) -> None:
    tenant_id = _tenant(db)
    bulk_id = _bulk(db, tenant_id)
    _run(db, tenant_id, bulk_id)
    with pytest.raises(psycopg.errors.UniqueViolation):
        _run(db, tenant_id, bulk_id)


def test_one_terminal_audit_event_per_bulk_operation(db: psycopg.Connection) -> None:
    tenant_id = _tenant(db)
    _audit(db, tenant_id, "inventory.sync.completed", {"bulk_operation_run_id": 7})
    with pytest.raises(psycopg.errors.UniqueViolation):
        _audit(db, tenant_id, "inventory.sync.failed", {"bulk_operation_run_id": 7})
    # non-terminal events may repeat
    _audit(db, tenant_id, "inventory.sync.dispatched", {"bulk_operation_run_id": 7})
    _audit(db, tenant_id, "inventory.sync.dispatched", {"bulk_operation_run_id": 7})


def test_inventory_items_unique_per_tenant_type_external_id(db: psycopg.Connection) -> None:
    tenant_id = _tenant(db)
    sql = ("INSERT INTO inventory_items (tenant_id, policy_type, external_id, payload, content_hash)"
           " VALUES (%s, 'deviceConfiguration', 'x', '{}', %s)")
    db.execute(sql, (tenant_id, HASH))
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute(sql, (tenant_id, HASH))
