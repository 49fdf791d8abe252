"""Cancel a bulk operation (docs/architecture.md §4): a pending one is aborted at once, with its terminal audit
event; a running one is asked to stop between pages (finalize writes its end); a finished one stays as it is."""

from typing import NamedTuple

from inventory_sync.db.rows import BulkOperationWithRun, with_run
from inventory_sync.domain.audit import NewAuditEvent, terminal_event
from inventory_sync.domain.error_codes import ErrorCode
from inventory_sync.domain.status import ABORTED, BULK_TERMINAL, AuditAction, BulkStatus
from inventory_sync.errors import Conflict
from inventory_sync.services.access import WRITE_ROLES, Identity, actor_of, require_bulk_operation, working_as
from inventory_sync.services.unit_of_work import UnitOfWork


class Cancelled(NamedTuple):
    aborted: bool  # True: it was pending and is aborted now; False: the running sync was asked to stop
    operation: BulkOperationWithRun


def cancel(uow: UnitOfWork, identity: Identity, bulk_id: int, correlation_id: str) -> Cancelled:
    """Operators and owners of the operation's tenant; a finished operation is a Conflict."""
    with working_as(uow, identity) as caller:
        require_bulk_operation(uow, caller.user, bulk_id, WRITE_ROLES)
        op = uow.bulk_operations.get(bulk_id, for_update=True)
        assert op is not None  # it was just read, and bulk operations are never deleted once audited
        if op.status in BULK_TERMINAL:
            raise Conflict(f"bulk operation {bulk_id} is already {op.status}")
        actor = actor_of(caller.user)
        aborted = op.status == BulkStatus.PENDING
        if aborted:
            uow.bulk_operations.finish(op.id, BulkStatus.PENDING, ABORTED.bulk_status, ABORTED.counters)
            uow.audit.insert_terminal(terminal_event(
                tenant_id=op.tenant_id, bulk_operation_run_id=op.id, actor=actor, outcome=ABORTED, run=None,
                error_codes=[ErrorCode.CANCELLED.value], correlation_id=correlation_id,
                reason="cancelled while pending"))
        else:
            uow.bulk_operations.request_cancel(op.id)
            uow.audit.insert(NewAuditEvent(
                tenant_id=op.tenant_id, actor=actor, action=AuditAction.CANCEL_REQUESTED,
                resource_type="bulk_operation_run", resource_id=str(op.id), status="success",
                correlation_id=correlation_id, metadata={"bulk_operation_run_id": op.id}))
        now = uow.bulk_operations.get(bulk_id)
        assert now is not None
        return Cancelled(aborted, with_run(now, uow.runs.get_by_bulk_operation(bulk_id)))
