"""Every (from, to) status pair through both owners of the state machines: the domain rule
(`domain/status.py`) and the database's transition triggers. They must agree on every change of status; a
write that leaves the status as it was is no transition (the database lets it through unchanged, the domain
rule refuses to call it one). The tables' status writes (`bulk_operations.transition`, `runs.finish`) move a
row exactly when the rule allows it."""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import errors

from inventory_sync.db import bulk_operations, runs
from inventory_sync.domain.status import (
    BULK_ACTIVE,
    TERMINAL_AUDIT_ACTIONS,
    BulkStatus,
    IllegalTransition,
    RunStatus,
    check_bulk_transition,
    check_run_transition,
)
from tests.support import factories

HASH = "0" * 64


def _python_allows(rule: Callable[[Any, Any], None], current: Any, target: Any) -> bool:
    try:
        rule(current, target)
    except IllegalTransition:
        return False
    return True


def _database_allows(db: psycopg.Connection, table: str, insert: str, params: tuple[Any, ...], target: str,
                     active: tuple[str, ...]) -> bool:
    """Whether the transition trigger lets `target` through (finished_at kept consistent with the status, as
    the table's CHECK wants, so only the trigger can refuse)."""
    with db.transaction(force_rollback=True):
        row_id = db.execute(insert, params).fetchone()[0]
        try:
            with db.transaction():
                db.execute(f"UPDATE {table} SET status = %s, finished_at = CASE WHEN %s = ANY(%s) THEN NULL"
                           " ELSE now() END WHERE id = %s", (target, target, list(active), row_id))
        except errors.CheckViolation as exc:
            assert "cannot become" in str(exc), exc  # the trigger, not another constraint
            return False
        return db.execute(f"SELECT status FROM {table} WHERE id = %s", (row_id,)).fetchone()[0] == target


@pytest.fixture
def tenant_id(db: psycopg.Connection) -> int:
    return factories.tenant(db).id


def _walk(statuses: Any, rule: Callable[[Any, Any], None], in_db: Callable[[Any, Any], bool]) -> None:
    """Every (from, to) pair: a change of status is allowed by both owners or by neither; the same status
    again passes the database (no change) and is no transition to the domain rule."""
    checked = 0
    for current, target in itertools.product(statuses, statuses):
        allowed = in_db(current, target)
        if current is target:
            assert allowed and not _python_allows(rule, current, target), current
            continue
        assert allowed == _python_allows(rule, current, target), (current, target, allowed)
        checked += 1
    assert checked == len(statuses) * (len(statuses) - 1)


def test_every_bulk_operation_pair_agrees(db: psycopg.Connection, tenant_id: int) -> None:
    active = ("pending", "running")
    insert = ("INSERT INTO bulk_operation_runs (tenant_id, resource, action, status, finished_at) VALUES (%s,"
              " 'inventory', 'sync', %s, CASE WHEN %s THEN NULL ELSE now() END) RETURNING id")
    _walk(BulkStatus, check_bulk_transition, lambda current, target: _database_allows(
        db, "bulk_operation_runs", insert, (tenant_id, current.value, current.value in active), target.value,
        active))


def test_every_run_pair_agrees(db: psycopg.Connection, tenant_id: int) -> None:
    def new_bulk() -> int:  # a run needs a bulk operation of its own (one run per dispatch)
        return db.execute("INSERT INTO bulk_operation_runs (tenant_id, resource, action) VALUES (%s, 'inventory',"
                          " 'sync') RETURNING id", (tenant_id,)).fetchone()[0]

    active = ("running",)
    insert = ("INSERT INTO inventory_sync_runs (tenant_id, bulk_operation_run_id, selection_hash, selection_payload,"
              " status, finished_at) VALUES (%s, %s, %s, '{}', %s, CASE WHEN %s THEN NULL ELSE now() END)"
              " RETURNING id")
    _walk(RunStatus, check_run_transition, lambda current, target: _database_allows(
        db, "inventory_sync_runs", insert, (tenant_id, new_bulk(), HASH, current.value, current.value in active),
        target.value, active))


def _moves(db: psycopg.Connection, table: str, row_id: int, write: Callable[[], bool]) -> bool:
    """Whether the write moved the row (a refusal by the domain rule touches nothing)."""
    before = db.execute(f"SELECT status, updated_at FROM {table} WHERE id = %s", (row_id,)).fetchone()
    try:
        moved = write()
    except IllegalTransition:
        assert db.execute(f"SELECT status, updated_at FROM {table} WHERE id = %s", (row_id,)).fetchone() == before
        return False
    after = db.execute(f"SELECT status FROM {table} WHERE id = %s", (row_id,)).fetchone()[0]
    assert moved == (after != before[0])
    return moved


def test_the_bulk_operation_status_write_moves_exactly_as_the_rule_allows(db: psycopg.Connection,
                                                                          tenant_id: int) -> None:
    insert = ("INSERT INTO bulk_operation_runs (tenant_id, resource, action, status, finished_at) VALUES (%s,"
              " 'inventory', 'sync', %s, CASE WHEN %s THEN NULL ELSE now() END) RETURNING id")
    for current, target in itertools.product(BulkStatus, BulkStatus):
        with db.transaction(force_rollback=True):
            row_id = db.execute(insert, (tenant_id, current.value, current in BULK_ACTIVE)).fetchone()[0]
            moved = _moves(db, "bulk_operation_runs", row_id, functools.partial(
                bulk_operations.transition, db, row_id, current, target,
                counters={"processed_items": 1, "succeeded": 1, "failed": 0, "skipped": 0}))
            assert moved == _python_allows(check_bulk_transition, current, target), (current, target)
            # told the wrong current status, the write changes nothing (a late or repeated writer)
            for seen in set(BulkStatus) - {current}:
                if _python_allows(check_bulk_transition, seen, target):
                    assert not bulk_operations.transition(db, row_id, seen, target), (seen, current, target)


def test_the_run_status_write_moves_exactly_as_the_rule_allows(db: psycopg.Connection, tenant_id: int) -> None:
    insert = ("INSERT INTO inventory_sync_runs (tenant_id, bulk_operation_run_id, selection_hash, selection_payload,"
              " status, finished_at) VALUES (%s, %s, %s, '{}', %s, CASE WHEN %s THEN NULL ELSE now() END)"
              " RETURNING id")
    for current, target in itertools.product(RunStatus, RunStatus):
        with db.transaction(force_rollback=True):
            bulk_id = db.execute("INSERT INTO bulk_operation_runs (tenant_id, resource, action) VALUES (%s,"
                                 " 'inventory', 'sync') RETURNING id", (tenant_id,)).fetchone()[0]
            row_id = db.execute(insert, (tenant_id, bulk_id, HASH, current.value,
                                         current is RunStatus.RUNNING)).fetchone()[0]
            moved = _moves(db, "inventory_sync_runs", row_id, functools.partial(
                runs.finish, db, row_id, status=target, error_codes=[], error_context={}))
            assert moved == _python_allows(check_run_transition, current, target), (current, target)


def test_the_one_terminal_event_index_covers_the_terminal_actions(db: psycopg.Connection) -> None:
    """The unique index that makes a second terminal event impossible names the same actions as the domain."""
    definition = db.execute("SELECT indexdef FROM pg_indexes WHERE indexname ="
                            " 'audit_logs_one_terminal_per_bulk_operation'").fetchone()[0]
    named = set(re.findall(r"'([^']+)'::text", definition.split(" WHERE ", 1)[1]))
    assert named == {a.value for a in TERMINAL_AUDIT_ACTIONS}, definition
