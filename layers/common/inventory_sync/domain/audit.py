"""Audit events: who did what, and the one terminal event every dispatch ends with (docs/architecture.md §4).

Every terminal event is built here — by finalize for a finished run or a dispatch that never ran, and by a
cancel of a pending operation — so they all carry the same metadata.
"""

from typing import Any, NamedTuple, Self

from inventory_sync.domain.changes import NO_CHANGES
from inventory_sync.domain.status import TERMINAL_AUDIT_ACTIONS, BulkStatus, TerminalOutcome


class Actor(NamedTuple):
    """Who did it, snapshotted at the time of the event."""

    type: str  # user | system
    id: int | None = None
    email: str | None = None
    name: str | None = None

    @classmethod
    def system(cls) -> Self:
        return cls("system")


class NewAuditEvent(NamedTuple):
    tenant_id: int | None
    actor: Actor
    action: str
    resource_type: str
    resource_id: str
    status: str
    metadata: dict[str, Any]
    correlation_id: str | None = None


class RunFacts(NamedTuple):
    """What a terminal event says of the run, when there is one."""

    id: int
    status: str
    items_observed_count: int
    items_upserted_count: int
    changes: dict[str, int]


def terminal_event(*, tenant_id: int, bulk_operation_run_id: int, actor: Actor, outcome: TerminalOutcome,
                   run: RunFacts | None, error_codes: list[str], correlation_id: str | None,
                   reason: str | None = None) -> NewAuditEvent:
    """The terminal event of a dispatch: on the run when there is one, else on the bulk operation."""
    assert outcome.audit_action in TERMINAL_AUDIT_ACTIONS
    aborted = outcome.bulk_status is BulkStatus.ABORTED
    status = "aborted" if aborted else (run.status if run else "failed")
    metadata: dict[str, Any] = {
        "status": status, "counters": outcome.counters, "error_codes": error_codes,
        "bulk_operation_run_id": bulk_operation_run_id, "inventory_sync_run_id": run.id if run else None,
        "items_observed_count": run.items_observed_count if run else 0,
        "items_upserted_count": run.items_upserted_count if run else 0,
        "changes": run.changes if run else dict(NO_CHANGES),
    }
    if reason:
        metadata["reason"] = reason
    return NewAuditEvent(
        tenant_id=tenant_id, actor=actor, action=outcome.audit_action,
        resource_type="inventory_sync_run" if run else "bulk_operation_run",
        resource_id=str(run.id if run else bulk_operation_run_id), status=outcome.audit_status,
        metadata=metadata, correlation_id=correlation_id)
