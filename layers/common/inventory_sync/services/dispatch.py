"""Dispatch: record a pending bulk operation and its audit event, then enqueue the run
(docs/architecture.md §1, §3-§5; docs/decisions 0001, 0004).

The RunQueue message is sent *inside* the transaction that writes the rows, while that
transaction holds the bulk operation's dispatch gate (an advisory xact lock). If the send
fails the transaction rolls back and nothing is left behind; if the commit fails after the
send, run_sync waits on the gate, finds no bulk operation and drops the message.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from inventory_sync.adapters.queues import MessageQueue, QueueError
from inventory_sync.db.rows import BulkOperation
from inventory_sync.domain.audit import Actor, NewAuditEvent
from inventory_sync.domain.messages import RunMessage
from inventory_sync.domain.registry import RuntimeRegistry
from inventory_sync.domain.selection import ResolvedSelection, Selection, SelectionRequest, normalise
from inventory_sync.domain.status import AuditAction
from inventory_sync.errors import Unavailable, Unprocessable
from inventory_sync.services.access import WRITE_ROLES, Identity, actor_of, member_of
from inventory_sync.services.unit_of_work import UnitOfWork

SCHEDULE_CHUNK = 250


class Dispatched(NamedTuple):
    """What one API dispatch recorded: the API answers it (202) and, for an Idempotency-Key, stores that answer."""

    bulk_operation_run: BulkOperation
    selection_hash: str
    selection: Selection
    ignored_policy_types: list[str]


Render = Callable[[Dispatched], dict[str, Any]]


def _dispatched_event(resolved: ResolvedSelection, actor: Actor, trigger: str, correlation_id: str, *,
                      tenant_id: int | None = None, bulk_id: int | None = None) -> NewAuditEvent:
    """The `inventory.sync.dispatched` event of both paths (the schedule's names each tenant and operation when
    it writes one event per tenant from this template)."""
    return NewAuditEvent(
        tenant_id=tenant_id, actor=actor, action=AuditAction.DISPATCHED, resource_type="bulk_operation_run",
        resource_id="" if bulk_id is None else str(bulk_id), status="success", correlation_id=correlation_id,
        metadata={"selection_hash": resolved.selection_hash, "selection": resolved.selection.model_dump(),
                  "trigger": trigger, "ignored_policy_types": resolved.ignored_policy_types},
    )


def _run_message(op_id: int, tenant_id: int, user_id: int | None, resolved: ResolvedSelection,
                 trigger: Literal["api", "schedule"], correlation_id: str,
                 read_mode: Literal["full", "incremental"] | None = None) -> dict[str, Any]:
    message = RunMessage(
        version=1, bulk_operation_run_id=op_id, tenant_id=tenant_id, user_id=user_id,
        selection=resolved.selection, selection_hash=resolved.selection_hash, trigger=trigger,
        correlation_id=correlation_id, dispatched_at=datetime.now(UTC), read_mode=read_mode)
    body = message.model_dump(mode="json")
    if read_mode is None:
        del body["read_mode"]  # optional in the message: absent means the default
    return body


def request_fingerprint(tenant_id: int, body: Any) -> str:
    return hashlib.sha256(json.dumps([tenant_id, body], sort_keys=True, separators=(",", ":"),
                                     default=str).encode()).hexdigest()


@dataclass
class ScheduledResult:
    dispatched: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    selection_hash: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"selection_hash": self.selection_hash, "dispatched": len(self.dispatched),
                "skipped": len(self.skipped), "failed": len(self.failed), "skipped_tenant_ids": self.skipped,
                "failed_tenant_ids": self.failed}


class DispatchService:
    def __init__(self, uow: UnitOfWork, run_queue: MessageQueue, registry: RuntimeRegistry) -> None:
        self.uow = uow
        self.run_queue = run_queue
        self.registry = registry

    def dispatch(self, identity: Identity, tenant_id: int, request: SelectionRequest, *,
                 idempotency_key: str | None, correlation_id: str, render: Render) -> dict[str, Any]:
        """One API dispatch, its own unit of work; returns the 202 body as `render` writes it — or, for an
        Idempotency-Key seen before with the same request, the body the first request was answered with (stored
        in this same transaction, so a key never outlives a dispatch that rolled back)."""
        uow = self.uow
        with member_of(uow, identity, tenant_id, WRITE_ROLES) as user:
            fingerprint = request_fingerprint(tenant_id, request.model_dump(exclude_none=True))
            if idempotency_key:
                previous = uow.idempotency.lock_and_get(user.id, tenant_id, idempotency_key)
                if previous is not None:
                    if previous.request_hash != fingerprint:
                        raise Unprocessable("Idempotency-Key was already used with a different request", errors=[
                            {"field": "Idempotency-Key", "message": "reused with another body"}])
                    return previous.response
            resolved = normalise(request, self.registry)
            created = uow.bulk_operations.create(tenant_id=tenant_id, user_id=user.id,
                                                 selection_hash=resolved.selection_hash, trigger="api",
                                                 correlation_id=correlation_id)
            audit_id = uow.audit.insert(_dispatched_event(resolved, actor_of(user), "api", correlation_id,
                                                          tenant_id=tenant_id, bulk_id=created.id))
            uow.bulk_operations.link_audit([(created.id, audit_id)])
            op = uow.bulk_operations.get(created.id)
            assert op is not None
            response = render(Dispatched(op, resolved.selection_hash, resolved.selection,
                                         resolved.ignored_policy_types))
            if idempotency_key:
                uow.idempotency.store(user.id, tenant_id, idempotency_key, fingerprint, op.id, response)
            uow.locks.hold_dispatch_gate([op.id])
            try:
                self.run_queue.send(_run_message(op.id, tenant_id, user.id, resolved, "api", correlation_id,
                                                 request.read_mode))
            except QueueError as exc:
                raise Unavailable("the sync could not be queued; nothing was recorded, try again") from exc
            return response

    def dispatch_scheduled(self, resolved: ResolvedSelection, correlation_id: str) -> ScheduledResult:
        """One system run per active tenant with scheduled sync enabled, in set-based chunks (a unit of work
        each)."""
        result = ScheduledResult(selection_hash=resolved.selection_hash)
        with self.uow:
            tenant_ids = self.uow.tenants.scheduled_tenant_ids()
        for start in range(0, len(tenant_ids), SCHEDULE_CHUNK):
            self._dispatch_chunk(tenant_ids[start:start + SCHEDULE_CHUNK], resolved, correlation_id, result)
        return result

    def _dispatch_chunk(self, chunk: list[int], resolved: ResolvedSelection, correlation_id: str,
                        result: ScheduledResult) -> None:
        uow = self.uow
        with uow:
            active = uow.bulk_operations.tenants_with_active(chunk, resolved.selection_hash)
            todo = [t for t in chunk if t not in active]
            created = uow.bulk_operations.create_scheduled(todo, resolved.selection_hash, correlation_id)
            # a racing scheduler already holds the one-active-schedule slot of the tenants it did not create
            created_tenants = {t for t, _ in created}
            result.skipped.extend(sorted(active | (set(todo) - created_tenants)))
            if not created:
                return
            uow.locks.hold_dispatch_gate([op_id for _, op_id in created])
            first_tenant, first_op = created[0]
            base = _run_message(first_op, first_tenant, None, resolved, "schedule", correlation_id)  # validated once
            messages = [{**base, "bulk_operation_run_id": op_id, "tenant_id": tenant_id}
                        for tenant_id, op_id in created]
            failed_idx = set(self.run_queue.send_batch(messages))
            sent = [pair for i, pair in enumerate(created) if i not in failed_idx]
            unsent = [pair for i, pair in enumerate(created) if i in failed_idx]
            if unsent:
                uow.bulk_operations.delete_pending([op_id for _, op_id in unsent])
            template = _dispatched_event(resolved, Actor.system(), "schedule", correlation_id)
            audit_ids = uow.audit.insert_same_for_many(template, [(t, str(op_id)) for t, op_id in sent])
            uow.bulk_operations.link_audit([(op_id, a) for (_, op_id), a in zip(sent, audit_ids, strict=True)])
            uow.commit()
            result.dispatched.extend(tenant_id for tenant_id, _ in sent)
            result.failed.extend(tenant_id for tenant_id, _ in unsent)
