"""The services' rules over an in-memory unit of work (tests/support/fake_unit_of_work.py): who may do what,
which transitions happen, what a retry or a redelivery changes, and that a refusal or a failure commits nothing.
The integration tests run the same services over PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from inventory_sync.adapters.queues import QueueError
from inventory_sync.db import locks
from inventory_sync.domain.error_codes import ErrorCode
from inventory_sync.domain.messages import FinalizeMessage, RunMessage
from inventory_sync.domain.registry import filter_runtime
from inventory_sync.domain.selection import SelectionRequest, full_inventory
from inventory_sync.domain.status import AuditAction, BulkStatus, RunStatus
from inventory_sync.errors import Conflict, Forbidden, NotFound, Unavailable, Unprocessable
from inventory_sync.services import queries
from inventory_sync.services.access import Identity
from inventory_sync.services.cancel import cancel
from inventory_sync.services.dispatch import Dispatched, DispatchService
from inventory_sync.services.finalize import FinalizeService, Result, RetryLater
from tests.support.fake_unit_of_work import NOW, FakeUnitOfWork, State

REGISTRY = filter_runtime()


class Queue:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail = fail

    def send(self, body: dict[str, Any]) -> None:
        if self.fail:
            raise QueueError("refused")
        self.sent.append(body)

    def send_batch(self, bodies: Sequence[dict[str, Any]]) -> list[int]:
        self.sent.extend(bodies)
        return []


def render(dispatched: Dispatched) -> dict[str, Any]:
    return {"bulk_operation_run": {"id": dispatched.bulk_operation_run.id}, "selection_hash": dispatched.selection_hash}


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork(State())


@pytest.fixture
def tenant_id(uow: FakeUnitOfWork) -> int:
    tenant = uow.state.add_tenant()
    for subject, role in (("owner", "owner"), ("op", "operator"), ("reader", "reader")):
        uow.state.add_member(tenant.id, subject, role)
    return tenant.id


def who(subject: str) -> Identity:
    return Identity(subject, f"{subject}@example.com", subject.title())


def dispatch(uow: FakeUnitOfWork, queue: Queue, tenant_id: int, subject: str = "op", key: str | None = None,
             request: SelectionRequest | None = None) -> dict[str, Any]:
    return DispatchService(uow, queue, REGISTRY).dispatch(who(subject), tenant_id, request or SelectionRequest(),
                                                          idempotency_key=key, correlation_id="c1", render=render)


# -- dispatch ----------------------------------------------------------------------------------------------------
def test_dispatch_records_a_pending_operation_its_event_and_message_in_one_commit(uow, tenant_id) -> None:
    queue = Queue()
    answer = dispatch(uow, queue, tenant_id)
    op = uow.state.operations[answer["bulk_operation_run"]["id"]]
    assert op.status == "pending" and op.user_id == uow.state.users[op.user_id].id
    (event,) = uow.state.events(AuditAction.DISPATCHED)
    assert op.audit_log_id == 1 and event.resource_id == str(op.id) and event.actor.email == "op@example.com"
    assert [m["bulk_operation_run_id"] for m in queue.sent] == [op.id] and uow.state.gates == [op.id]
    assert uow.commits == 1


@pytest.mark.parametrize(("subject", "error"), [("reader", Forbidden), ("stranger", NotFound)])
def test_dispatch_is_for_operators_and_owners(uow, tenant_id, subject, error) -> None:
    queue = Queue()
    with pytest.raises(error):
        dispatch(uow, queue, tenant_id, subject)
    assert not uow.state.operations and not uow.state.audit and not queue.sent and uow.commits == 0


def test_an_idempotency_key_replays_the_first_answer_and_refuses_another_body(uow, tenant_id) -> None:
    queue = Queue()
    first = dispatch(uow, queue, tenant_id, key="k")
    assert dispatch(uow, queue, tenant_id, key="k") == first
    with pytest.raises(Unprocessable, match="different request"):
        dispatch(uow, queue, tenant_id, key="k", request=SelectionRequest(categories=["Compliance"]))
    assert len(uow.state.operations) == 1 and len(queue.sent) == 1 and len(uow.state.events()) == 1
    other = dispatch(uow, queue, tenant_id, subject="owner", key="k")  # keys are the caller's own
    assert other != first and len(uow.state.operations) == 2


def test_a_refused_message_leaves_nothing_behind(uow, tenant_id) -> None:
    with pytest.raises(Unavailable):
        dispatch(uow, Queue(fail=True), tenant_id, key="k")
    assert not uow.state.operations and not uow.state.audit and not uow.state.keys and uow.commits == 0


def test_the_schedule_writes_the_same_dispatched_event_as_the_api(uow, tenant_id) -> None:
    queue = Queue()
    dispatch(uow, queue, tenant_id)
    other = uow.state.add_tenant("Fabrikam").id
    result = DispatchService(uow, queue, REGISTRY).dispatch_scheduled(full_inventory(REGISTRY), "sched")
    assert result.dispatched == [other] and result.skipped == [tenant_id]  # the API's full run is still active
    api, scheduled = uow.state.events(AuditAction.DISPATCHED)
    assert scheduled.actor.type == "system" and scheduled.tenant_id == other
    assert scheduled.metadata == {**api.metadata, "trigger": "schedule"}
    assert (scheduled.resource_type, scheduled.status) == (api.resource_type, api.status)


# -- cancel ------------------------------------------------------------------------------------------------------
def test_cancelling_a_pending_operation_aborts_it_once(uow, tenant_id) -> None:
    op = uow.state.add_operation(tenant_id)
    done = cancel(uow, who("op"), op.id, "c2")
    assert done.aborted and done.operation.status == "aborted" and done.operation.skipped == 1
    (event,) = uow.state.events(AuditAction.ABORTED)
    assert event.metadata["error_codes"] == [ErrorCode.CANCELLED.value] and event.actor.email == "op@example.com"
    with pytest.raises(Conflict, match="already aborted"):
        cancel(uow, who("owner"), op.id, "c3")
    assert len(uow.state.events()) == 1


def test_cancelling_a_running_operation_asks_it_to_stop(uow, tenant_id) -> None:
    op = uow.state.add_operation(tenant_id, BulkStatus.RUNNING)
    uow.state.add_run(op)
    done = cancel(uow, who("owner"), op.id, "c2")
    assert not done.aborted and done.operation.status == "running" and done.operation.cancel_requested_at
    assert done.operation.run is not None
    assert [e.action for e in uow.state.events()] == [AuditAction.CANCEL_REQUESTED]


@pytest.mark.parametrize(("subject", "error"), [("reader", Forbidden), ("stranger", NotFound)])
def test_cancel_is_for_operators_and_owners(uow, tenant_id, subject, error) -> None:
    op = uow.state.add_operation(tenant_id)
    with pytest.raises(error):
        cancel(uow, who(subject), op.id, "c2")
    assert uow.state.operations[op.id].status == "pending" and not uow.state.audit


# -- reads -------------------------------------------------------------------------------------------------------
def test_reads_are_for_members_and_strangers_learn_nothing(uow, tenant_id) -> None:
    op = uow.state.add_operation(tenant_id, BulkStatus.RUNNING)
    run = uow.state.add_run(op)
    assert queries.get_run(uow, who("reader"), tenant_id, run.id) == run
    assert queries.get_bulk_operation(uow, who("reader"), op.id).run is not None
    with pytest.raises(NotFound, match=f"tenant {tenant_id} not found"):
        queries.list_runs(uow, who("stranger"), tenant_id, status=None, cursor=None, limit=10)
    with pytest.raises(NotFound, match=f"bulk operation {op.id} not found"):
        queries.get_bulk_operation(uow, who("stranger"), op.id)
    other = uow.state.add_tenant("Other").id
    uow.state.add_member(other, "boss", "owner")
    with pytest.raises(NotFound, match=f"run {run.id} not found"):  # a member of another tenant asks by id
        queries.get_run(uow, who("boss"), other, run.id)


# -- finalize ----------------------------------------------------------------------------------------------------
def finalize(uow: FakeUnitOfWork, bulk_id: int, run_id: int | None = None) -> Result:
    return FinalizeService(uow, 60_000, 3_600).finalize(FinalizeMessage(
        version=1, inventory_sync_run_id=run_id, bulk_operation_run_id=bulk_id))


@pytest.mark.parametrize(("status", "codes", "bulk", "action"), [
    (RunStatus.SUCCESS, [], "completed", AuditAction.COMPLETED),
    (RunStatus.PARTIAL, ["graph_forbidden"], "completed_with_errors", AuditAction.COMPLETED),
    (RunStatus.FAILED, ["graph_auth_failed"], "failed", AuditAction.FAILED),
    (RunStatus.SKIPPED, ["lock_held"], "completed", AuditAction.SKIPPED),
    # cancelled after some types finished (and one failed): still an abort, never a partial completion
    (RunStatus.FAILED, ["cancelled", "graph_forbidden"], "aborted", AuditAction.ABORTED),
])
def test_finalize_writes_the_outcome_once(uow, tenant_id, status, codes, bulk, action) -> None:
    op = uow.state.add_operation(tenant_id, BulkStatus.RUNNING)
    run = uow.state.add_run(op, status, codes)
    assert finalize(uow, op.id, run.id) is Result.FINALIZED
    assert finalize(uow, op.id, run.id) is Result.ALREADY_FINAL  # a redelivery
    assert uow.state.operations[op.id].status == bulk
    (event,) = uow.state.events()
    assert event.action == action and event.metadata["inventory_sync_run_id"] == run.id


def test_finalize_keeps_what_the_run_found_of_the_apps_permissions_and_counts_the_inventory(uow, tenant_id) -> None:
    op = uow.state.add_operation(tenant_id, BulkStatus.RUNNING)
    run = uow.state.add_run(op, RunStatus.PARTIAL, ["graph_forbidden"])._replace(
        selection_payload={"policy_types": ["deviceConfiguration", "mobileApp"]},
        error_context={"types": {"mobileApp": {"code": "graph_forbidden",
                                               "permission": "DeviceManagementApps.Read.All"}}})
    uow.state.runs[run.id] = run
    assert finalize(uow, op.id, run.id) is Result.FINALIZED
    known = uow.state.missing[tenant_id]
    assert (known.missing_permissions, known.source, known.inventory_sync_run_id) == (
        ["DeviceManagementApps.Read.All"], "run", run.id)
    assert uow.state.counted == [tenant_id]
    assert finalize(uow, op.id, run.id) is Result.ALREADY_FINAL and uow.state.counted == [tenant_id]
    # a fatal run tells nothing of the permissions (the count is still taken)
    failed_op = uow.state.add_operation(tenant_id, BulkStatus.RUNNING)
    failed = uow.state.add_run(failed_op, RunStatus.FAILED, ["graph_auth_failed"])
    finalize(uow, failed_op.id, failed.id)
    assert uow.state.missing[tenant_id] == known and uow.state.counted == [tenant_id, tenant_id]


def test_finalize_waits_for_a_running_run_and_drops_a_stranger_run(uow, tenant_id) -> None:
    op = uow.state.add_operation(tenant_id, BulkStatus.RUNNING)
    run = uow.state.add_run(op)
    with pytest.raises(RetryLater):
        finalize(uow, op.id, run.id)
    assert finalize(uow, op.id, run.id + 100) is Result.DROPPED
    assert uow.state.operations[op.id].status == "running" and not uow.state.audit


def run_message(op_id: int, tenant_id: int) -> RunMessage:
    selection = full_inventory(REGISTRY)
    return RunMessage(version=1, bulk_operation_run_id=op_id, tenant_id=tenant_id, user_id=None,
                      selection=selection.selection, selection_hash=selection.selection_hash, trigger="api",
                      correlation_id="c", dispatched_at=NOW)


def test_a_dead_letter_waits_for_a_live_attempt_then_fails_the_run(uow, tenant_id) -> None:
    op = uow.state.add_operation(tenant_id, BulkStatus.RUNNING)
    run = uow.state.add_run(op)
    service = FinalizeService(uow, 60_000, 3_600)
    uow.held_elsewhere.add(locks.attempt_key(op.id))
    with pytest.raises(RetryLater):
        service.dead_letter(run_message(op.id, tenant_id))
    assert uow.state.runs[run.id].status == "running"
    uow.held_elsewhere.clear()
    assert service.dead_letter(run_message(op.id, tenant_id)) is Result.FINALIZED
    assert uow.state.runs[run.id].error_codes == ["run_crashed"] and uow.state.operations[op.id].status == "failed"
    assert service.dead_letter(run_message(op.id, tenant_id + 1)) is Result.DROPPED  # not that tenant's


def test_the_sweep_fails_orphans_and_stale_pending_but_not_live_runs(uow, tenant_id) -> None:
    live_op = uow.state.add_operation(tenant_id, BulkStatus.RUNNING)
    live = uow.state.add_run(live_op)
    orphan_op = uow.state.add_operation(tenant_id, BulkStatus.RUNNING)
    orphan = uow.state.add_run(orphan_op)
    stale = uow.state.add_operation(tenant_id)
    uow.held_elsewhere.add(locks.attempt_key(live_op.id))
    report = FinalizeService(uow, 60_000, 0).sweep()
    assert report.orphaned_runs == [orphan.id] and report.live_runs == [live.id]
    assert report.stale_pending == [stale.id]
    assert {k: v.status for k, v in uow.state.operations.items()} == {
        live_op.id: "running", orphan_op.id: "failed", stale.id: "failed"}
    assert sorted(e.metadata["error_codes"][0] for e in uow.state.events()) == ["run_orphaned", "run_orphaned"]
