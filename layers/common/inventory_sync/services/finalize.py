"""finalize: terminal audit event + bulk operation counters and status, exactly once (docs/architecture.md §3, §4, §7).

Exactly once is the database's job: the bulk operation row is locked (FOR UPDATE) while its
outcome is written, only an active operation changes, and a unique index admits one terminal
audit event per bulk operation.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from inventory_sync.db import locks
from inventory_sync.db.rows import BulkOperation, Run
from inventory_sync.domain.audit import Actor, NewAuditEvent, RunFacts, terminal_event
from inventory_sync.domain.error_codes import ErrorCode
from inventory_sync.domain.messages import FinalizeMessage, RunMessage
from inventory_sync.domain.outcomes import permission_findings
from inventory_sync.domain.status import (
    ABORTED,
    BULK_TERMINAL,
    FAILED_WITHOUT_RUN,
    BulkStatus,
    RunStatus,
    TerminalOutcome,
    outcome_for_run,
)
from inventory_sync.observability import logger
from inventory_sync.services.unit_of_work import SessionLocks, UnitOfWork


class RetryLater(Exception):
    """Not ready to finalize (the run is still running): let SQS deliver the message again."""


class Result(StrEnum):
    FINALIZED = "finalized"
    ALREADY_FINAL = "already_final"
    DROPPED = "dropped"


def _actor(uow: UnitOfWork, user_id: int | None) -> Actor:
    if user_id is None:
        return Actor.system()
    user = uow.tenants.get_user(user_id)
    return Actor("user", user_id, user.email if user else None, user.name if user else None)


def _terminal_event(uow: UnitOfWork, bulk: BulkOperation, run: Run | None, outcome: TerminalOutcome,
                    error_codes: list[str], reason: str | None = None) -> NewAuditEvent:
    facts = RunFacts(run.id, run.status, run.items_observed_count, run.items_upserted_count,
                     run.changes) if run else None
    return terminal_event(tenant_id=bulk.tenant_id, bulk_operation_run_id=bulk.id,
                          actor=_actor(uow, bulk.user_id), outcome=outcome, run=facts, error_codes=error_codes,
                          correlation_id=bulk.correlation_id, reason=reason)


def _finalize(uow: UnitOfWork, bulk_id: int, run_id: int | None = None) -> Result:
    """Write the outcome of `bulk_id` in the open unit of work (the caller commits)."""
    bulk = uow.bulk_operations.get(bulk_id, for_update=True)
    if bulk is None:
        logger.warning("finalize for an unknown bulk operation dropped", extra={"bulk_operation_run_id": bulk_id})
        return Result.DROPPED
    run = uow.runs.get_by_bulk_operation(bulk_id)
    if run_id is not None and (run is None or run.id != run_id):
        logger.warning("finalize names a run of another bulk operation; dropped",
                       extra={"bulk_operation_run_id": bulk_id, "inventory_sync_run_id": run_id})
        return Result.DROPPED
    if run is not None and run.status == RunStatus.RUNNING:
        raise RetryLater(f"run {run.id} is still running")
    if run is not None:
        outcome = outcome_for_run(RunStatus(run.status), run.error_codes)
        codes = list(run.error_codes)
    elif bulk.status == BulkStatus.ABORTED:
        outcome, codes = ABORTED, [ErrorCode.CANCELLED.value]
    elif bulk.status in BULK_TERMINAL:
        outcome, codes = FAILED_WITHOUT_RUN, []
    else:
        raise RetryLater(f"bulk operation {bulk_id} has no run yet")
    changed = False
    if bulk.status not in BULK_TERMINAL:
        changed = uow.bulk_operations.finish(bulk.id, BulkStatus(bulk.status), outcome.bulk_status, outcome.counters)
    inserted = uow.audit.insert_terminal(_terminal_event(uow, bulk, run, outcome, codes))
    if run is not None and (changed or inserted):
        _record_permissions(uow, run)
        uow.items.count_live(run.tenant_id)
    return Result.FINALIZED if (changed or inserted) else Result.ALREADY_FINAL


def _record_permissions(uow: UnitOfWork, run: Run) -> None:
    """What the run found of the app's permissions, kept for the tenant overview (any execution environment)."""
    found = permission_findings(run.status, run.error_codes, run.error_context, run.selection_payload)
    if found is not None and run.finished_at is not None:
        uow.missing_permissions.record_run(run.tenant_id, run.id, run.finished_at, *found)


def _fail_without_run(uow: UnitOfWork, bulk: BulkOperation, code: ErrorCode, reason: str) -> Result:
    """A dispatch that never produced a run (dead-lettered before starting, or stuck pending)."""
    uow.bulk_operations.finish(bulk.id, BulkStatus(bulk.status), FAILED_WITHOUT_RUN.bulk_status,
                               FAILED_WITHOUT_RUN.counters)
    uow.audit.insert_terminal(_terminal_event(uow, bulk, None, FAILED_WITHOUT_RUN, [code.value], reason))
    return Result.FINALIZED


@dataclass
class SweepReport:
    orphaned_runs: list[int] = field(default_factory=list)
    live_runs: list[int] = field(default_factory=list)
    stale_pending: list[int] = field(default_factory=list)
    pruned_changes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"orphaned_runs": self.orphaned_runs, "live_runs": len(self.live_runs),
                "stale_pending": self.stale_pending, "pruned_changes": self.pruned_changes}


class ChangeRetention(NamedTuple):
    """Change rows older than `days` are pruned by the sweep, `batch` rows a transaction, at most `max_batches`
    transactions a sweep (the audit trail is never pruned)."""

    days: int = 365
    batch: int = 5_000
    max_batches: int = 20


class FinalizeService:
    """Each message and each sweep step is a unit of work of its own; the attempt locks it asks about are held on
    a dedicated session (docs/architecture.md §6)."""

    def __init__(self, uow: UnitOfWork, lock_idle_timeout_ms: int, pending_timeout_seconds: int,
                 retention: ChangeRetention | None = None) -> None:
        self.uow = uow
        self.lock_idle_timeout_ms = lock_idle_timeout_ms
        self.pending_timeout_seconds = pending_timeout_seconds
        self.retention = retention or ChangeRetention()

    def finalize(self, message: FinalizeMessage) -> Result:
        with self.uow:
            result = _finalize(self.uow, message.bulk_operation_run_id, message.inventory_sync_run_id)
            self.uow.commit()
        return result

    def dead_letter(self, message: RunMessage) -> Result:
        """A RunQueue body that exhausted its receives: fail its run (or bulk operation) with run_crashed."""
        bulk_id, uow = message.bulk_operation_run_id, self.uow
        with uow.lock_session(self.lock_idle_timeout_ms) as session:
            if session.is_held(locks.attempt_key(bulk_id)):
                raise RetryLater(f"an attempt of bulk operation {bulk_id} is still live")
            with uow:
                result = self._dead_lettered(bulk_id, message.tenant_id)
                uow.commit()
        return result

    def _dead_lettered(self, bulk_id: int, tenant_id: int) -> Result:
        uow = self.uow
        bulk = uow.bulk_operations.get(bulk_id, for_update=True)
        if bulk is None or bulk.tenant_id != tenant_id:
            logger.warning("dead-lettered message for no known dispatch; dropped",
                           extra={"bulk_operation_run_id": bulk_id})
            return Result.DROPPED
        run = uow.runs.get_by_bulk_operation(bulk_id, for_update=True)
        if run is not None and run.status == RunStatus.RUNNING:
            uow.runs.finish(run.id, status=RunStatus.FAILED, error_codes=[ErrorCode.RUN_CRASHED],
                            error_context={"run_crashed": {"message": "the run message exhausted its"
                                                           " deliveries (dead-lettered)"}})
        elif run is None and bulk.status not in BULK_TERMINAL:
            return _fail_without_run(uow, bulk, ErrorCode.RUN_CRASHED, "dead-lettered before a run started")
        return _finalize(uow, bulk_id)

    def sweep(self) -> SweepReport:
        """Fail runs whose attempt is gone (no session holds their attempt lock) and stale pending
        operations; live runs are never touched. Safe to run concurrently with itself."""
        report, uow = SweepReport(), self.uow
        with uow:
            candidates = uow.runs.running_ids()
            stale = uow.bulk_operations.stale_pending(self.pending_timeout_seconds)
        with uow.lock_session(self.lock_idle_timeout_ms) as session:
            for run_id, _tenant_id, _hash in candidates:
                self._sweep_run(session, run_id, report)
            for bulk_id in stale:
                self._sweep_pending(session, bulk_id, report)
        report.pruned_changes = self.prune_changes()
        return report

    def _sweep_run(self, session: SessionLocks, run_id: int, report: SweepReport) -> None:
        uow = self.uow
        with uow:
            run = uow.runs.get(run_id)
        if run is None or run.status != RunStatus.RUNNING:
            return
        key = locks.attempt_key(run.bulk_operation_run_id)
        if not session.try_lock(key):
            report.live_runs.append(run_id)
            return
        try:
            with uow:
                if uow.runs.finish(run_id, status=RunStatus.FAILED, error_codes=[ErrorCode.RUN_ORPHANED],
                                   error_context={"run_orphaned": {"message": "no live attempt holds the run"}}):
                    _finalize(uow, run.bulk_operation_run_id)
                    report.orphaned_runs.append(run_id)
                uow.commit()
        finally:
            session.unlock(key)

    def _sweep_pending(self, session: SessionLocks, bulk_id: int, report: SweepReport) -> None:
        key, uow = locks.attempt_key(bulk_id), self.uow
        if not session.try_lock(key):
            return
        try:
            with uow:
                bulk = uow.bulk_operations.get(bulk_id, for_update=True)
                if (bulk and bulk.status == BulkStatus.PENDING
                        and uow.runs.get_by_bulk_operation(bulk_id) is None):
                    _fail_without_run(uow, bulk, ErrorCode.RUN_ORPHANED,
                                      "pending longer than the configured age with no run")
                    report.stale_pending.append(bulk_id)
                uow.commit()
        finally:
            session.unlock(key)

    def prune_changes(self) -> int:
        """Bounded: short transactions that skip rows anyone holds, so a sync never waits on the sweep."""
        pruned = 0
        for _ in range(self.retention.max_batches):
            with self.uow:
                deleted = self.uow.changes.prune(self.retention.days, self.retention.batch)
                self.uow.commit()
            pruned += deleted
            if deleted < self.retention.batch:
                break
        return pruned
