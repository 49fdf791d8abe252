"""An in-memory unit of work for the services' rules (tests/unit/test_services.py): the ports of
services/unit_of_work.py over dicts. It keeps what the database keeps for these rules — a commit keeps the
writes, leaving without one drops them; a status moves only from the status the writer saw and only as
domain/status.py allows; one terminal audit event per bulk operation — and nothing else (no SQL)."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from inventory_sync.db.changes import ItemChange
from inventory_sync.db.idempotency import StoredResponse
from inventory_sync.db.items import ItemFilter, Keyset
from inventory_sync.db.missing_permissions import MissingPermissions
from inventory_sync.db.rows import (
    AuditEvent,
    BulkOperation,
    InventoryItem,
    Member,
    Run,
    StoredLink,
    Tenant,
    TenantWithRole,
    TypeCount,
    User,
)
from inventory_sync.db.tenants import DirectoryTaken
from inventory_sync.domain.audit import NewAuditEvent
from inventory_sync.domain.status import (
    BULK_ACTIVE,
    TERMINAL_AUDIT_ACTIONS,
    BulkStatus,
    RunStatus,
    check_bulk_transition,
    check_run_transition,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class State:
    """Everything the fake database holds."""

    tenants: dict[int, Tenant] = field(default_factory=dict)
    users: dict[int, User] = field(default_factory=dict)
    roles: dict[tuple[int, int], str] = field(default_factory=dict)
    operations: dict[int, BulkOperation] = field(default_factory=dict)
    runs: dict[int, Run] = field(default_factory=dict)
    audit: list[NewAuditEvent] = field(default_factory=list)
    keys: dict[tuple[int, int, str], StoredResponse] = field(default_factory=dict)
    gates: list[int] = field(default_factory=list)
    missing: dict[int, MissingPermissions] = field(default_factory=dict)
    counted: list[int] = field(default_factory=list)  # tenants whose live items were counted
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def __deepcopy__(self, memo: dict[int, Any]) -> State:
        copied = State(**{f.name: copy.deepcopy(getattr(self, f.name), memo)
                          for f in dataclasses.fields(self) if f.name != "ids"})
        copied.ids = self.ids  # ids are never handed out twice, as with a sequence
        return copied

    # -- set-up helpers for tests --------------------------------------------------------------------------
    def add_tenant(self, name: str = "Contoso", status: str = "active", scheduled: bool = True) -> Tenant:
        tenant = Tenant(next(self.ids), name, f"{name.lower()}.example", "client", status, scheduled)
        self.tenants[tenant.id] = tenant
        return tenant

    def add_member(self, tenant_id: int, subject: str, role: str) -> User:
        user = _upsert_user(self, subject, None, None)
        self.roles[(tenant_id, user.id)] = role
        return user

    def add_operation(self, tenant_id: int, status: BulkStatus = BulkStatus.PENDING,
                      user_id: int | None = None) -> BulkOperation:
        op = BulkOperation(next(self.ids), tenant_id, user_id, "inventory", "sync", status.value, 1, 0, 0, 0, 0, [],
                           None, "0" * 64, "api", "corr", None, NOW, NOW, None)
        self.operations[op.id] = op
        return op

    def add_run(self, op: BulkOperation, status: RunStatus = RunStatus.RUNNING,
                error_codes: list[str] | None = None) -> Run:
        run = Run(next(self.ids), op.tenant_id, op.user_id, op.id, "0" * 64, {}, status.value, bool(error_codes),
                  error_codes or [], {}, NOW, None if status is RunStatus.RUNNING else NOW, 3, 3, 0, 0, 1, {}, "api",
                  "corr", NOW, 0, 0, 0, "full")
        self.runs[run.id] = run
        return run

    def events(self, action: str | None = None) -> list[NewAuditEvent]:
        return [e for e in self.audit if action is None or e.action == action]


def _upsert_user(state: State, subject: str, email: str | None, name: str | None) -> User:
    for user in state.users.values():
        if user.subject == subject:
            refreshed = user._replace(email=email or user.email, name=name or user.name)
            state.users[user.id] = refreshed
            return refreshed
    user = User(next(state.ids), subject, email, name)
    state.users[user.id] = user
    return user


class FakeTenants:
    def __init__(self, state: State) -> None:
        self.s = state

    def get(self, tenant_id: int) -> Tenant | None:
        return self.s.tenants.get(tenant_id)

    def role_of(self, tenant_id: int, user_id: int) -> str | None:
        return self.s.roles.get((tenant_id, user_id))

    def upsert_user(self, *, subject: str, email: str | None, name: str | None) -> User:
        return _upsert_user(self.s, subject, email, name)

    def get_user(self, user_id: int) -> User | None:
        return self.s.users.get(user_id)

    def scheduled_tenant_ids(self) -> list[int]:
        return sorted(t.id for t in self.s.tenants.values() if t.status == "active" and t.scheduled_sync_enabled)

    def create(self, *, name: str, graph_tenant_id: str, graph_client_id: str, status: str = "active",
               scheduled_sync_enabled: bool = True) -> Tenant:
        if self.directory_taken(graph_tenant_id):
            raise DirectoryTaken(graph_tenant_id)
        tenant = Tenant(next(self.s.ids), name, graph_tenant_id, graph_client_id, status, scheduled_sync_enabled)
        self.s.tenants[tenant.id] = tenant
        return tenant

    def directory_taken(self, graph_tenant_id: str) -> bool:
        return any(t.graph_tenant_id.lower() == graph_tenant_id.lower() for t in self.s.tenants.values())

    def view(self, tenant_id: int, user_id: int) -> TenantWithRole | None:
        tenant = self.s.tenants.get(tenant_id)
        if tenant is None:
            return None
        return TenantWithRole(*tenant, created_at=NOW, updated_at=NOW,
                              role=self.s.roles.get((tenant_id, user_id)))

    def list_views(self, user_id: int, *, every_tenant: bool, after_id: int | None,
                   limit: int) -> list[TenantWithRole]:
        views = [self.view(t, user_id) for t in sorted(self.s.tenants) if after_id is None or t > after_id]
        return [v for v in views if v is not None and (every_tenant or v.role is not None)][:limit]

    def update(self, tenant_id: int, changes: dict[str, object]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        tenant = self.s.tenants.get(tenant_id)
        if tenant is None:
            return None
        before = {k: getattr(tenant, k) for k in ("name", "status", "scheduled_sync_enabled", "graph_client_id")}
        changed = {k: v for k, v in changes.items() if before[k] != v}
        self.s.tenants[tenant_id] = tenant._replace(**changed)  # type: ignore[arg-type]
        return {k: before[k] for k in changed}, changed

    def ensure_user(self, *, subject: str, email: str | None, name: str | None) -> User:
        known = next((u for u in self.s.users.values() if u.subject == subject), None)
        return known or _upsert_user(self.s, subject, email, name)

    def members(self, tenant_id: int) -> list[Member]:
        return [m for uid in sorted(self.s.users) if (m := self.member(tenant_id, uid)) is not None]

    def member(self, tenant_id: int, user_id: int) -> Member | None:
        role = self.s.roles.get((tenant_id, user_id))
        user = self.s.users.get(user_id)
        return Member(user_id, user.subject, user.email, user.name, role, NOW) if role and user else None

    def lock_memberships(self, tenant_id: int) -> list[tuple[int, str]]:
        return [(uid, role) for (tid, uid), role in self.s.roles.items() if tid == tenant_id]

    def set_membership(self, tenant_id: int, user_id: int, role: str) -> None:
        self.s.roles[(tenant_id, user_id)] = role

    def remove_membership(self, tenant_id: int, user_id: int) -> bool:
        return self.s.roles.pop((tenant_id, user_id), None) is not None


class FakeBulkOperations:
    def __init__(self, state: State) -> None:
        self.s = state

    def create(self, *, tenant_id: int, user_id: int | None, selection_hash: str, trigger: str,
               correlation_id: str) -> BulkOperation:
        op = self.s.add_operation(tenant_id, user_id=user_id)
        op = op._replace(selection_hash=selection_hash, trigger=trigger, correlation_id=correlation_id,
                                 item_ids=[selection_hash])
        self.s.operations[op.id] = op
        return op

    def create_scheduled(self, tenant_ids: list[int], selection_hash: str,
                         correlation_id: str) -> list[tuple[int, int]]:
        made = []
        for tenant_id in tenant_ids:
            op = self.create(tenant_id=tenant_id, user_id=None, selection_hash=selection_hash, trigger="schedule",
                             correlation_id=correlation_id)
            made.append((tenant_id, op.id))
        return made

    def link_audit(self, pairs: list[tuple[int, int]]) -> None:
        for bulk_id, audit_id in pairs:
            self.s.operations[bulk_id] = self.s.operations[bulk_id]._replace(audit_log_id=audit_id)

    def delete_pending(self, ids: list[int]) -> None:
        for bulk_id in ids:
            self.s.operations.pop(bulk_id, None)

    def get(self, bulk_id: int, *, for_update: bool = False) -> BulkOperation | None:
        return self.s.operations.get(bulk_id)

    def tenants_with_active(self, tenant_ids: list[int], selection_hash: str) -> set[int]:
        return {op.tenant_id for op in self.s.operations.values()
                if op.tenant_id in tenant_ids and op.selection_hash == selection_hash and op.status in BULK_ACTIVE}

    def finish(self, bulk_id: int, current: BulkStatus, target: BulkStatus, counters: dict[str, int]) -> bool:
        check_bulk_transition(current, target)
        op = self.s.operations.get(bulk_id)
        if op is None or op.status != current:
            return False
        self.s.operations[bulk_id] = op._replace(
            status=target.value, finished_at=NOW, processed_items=counters["processed_items"],
            succeeded=counters["succeeded"], failed=counters["failed"], skipped=counters["skipped"])
        return True

    def request_cancel(self, bulk_id: int) -> bool:
        op = self.s.operations[bulk_id]
        if op.status != BulkStatus.RUNNING:
            return False
        self.s.operations[bulk_id] = op._replace(cancel_requested_at=op.cancel_requested_at or NOW)
        return True

    def list_for_user(self, user_id: int, *, active_only: bool, before_id: int | None,
                      limit: int) -> list[BulkOperation]:
        found = [op for op in self.s.operations.values() if op.user_id == user_id
                 and (not active_only or op.status in BULK_ACTIVE) and (before_id is None or op.id < before_id)]
        return sorted(found, key=lambda op: -op.id)[:limit]

    def stale_pending(self, older_than_seconds: int, limit: int = 500) -> list[int]:
        runs = {r.bulk_operation_run_id for r in self.s.runs.values()}
        return [op.id for op in self.s.operations.values() if op.status == BulkStatus.PENDING and op.id not in runs]


class FakeRuns:
    def __init__(self, state: State) -> None:
        self.s = state

    def get(self, run_id: int, *, for_update: bool = False) -> Run | None:
        return self.s.runs.get(run_id)

    def get_by_bulk_operation(self, bulk_id: int, *, for_update: bool = False) -> Run | None:
        return next((r for r in self.s.runs.values() if r.bulk_operation_run_id == bulk_id), None)

    def finish(self, run_id: int, *, status: RunStatus, error_codes: list[str],
               error_context: dict[str, Any]) -> bool:
        check_run_transition(RunStatus.RUNNING, status)
        run = self.s.runs.get(run_id)
        if run is None or run.status != RunStatus.RUNNING:
            return False
        self.s.runs[run_id] = run._replace(status=status.value, error_codes=sorted(set(error_codes)),
                                                  had_errors=bool(error_codes), finished_at=NOW,
                                                  error_context={**run.error_context, **error_context})
        return True

    def running_ids(self, limit: int = 500) -> list[tuple[int, int, str]]:
        return [(r.id, r.tenant_id, r.selection_hash) for r in self.s.runs.values() if r.status == RunStatus.RUNNING]

    def list_for_tenant(self, tenant_id: int, *, status: str | None, before_id: int | None,
                        limit: int) -> list[Run]:
        found = [r for r in self.s.runs.values() if r.tenant_id == tenant_id and status in (None, r.status)
                 and (before_id is None or r.id < before_id)]
        return sorted(found, key=lambda r: -r.id)[:limit]

    def latest_for_tenants(self, tenant_ids: list[int]) -> dict[int, Run]:
        latest: dict[int, Run] = {}
        for run in sorted(self.s.runs.values(), key=lambda r: r.id):
            if run.tenant_id in tenant_ids:
                latest[run.tenant_id] = run
        return latest


class FakeAudit:
    def __init__(self, state: State) -> None:
        self.s = state

    def insert(self, event: NewAuditEvent) -> int:
        self.s.audit.append(event)
        return len(self.s.audit)

    def insert_terminal(self, event: NewAuditEvent) -> int | None:
        bulk_id = event.metadata["bulk_operation_run_id"]
        if any(e.action in TERMINAL_AUDIT_ACTIONS and e.metadata.get("bulk_operation_run_id") == bulk_id
               for e in self.s.audit):
            return None
        return self.insert(event)

    def insert_same_for_many(self, template: NewAuditEvent, targets: list[tuple[int, str]]) -> list[int]:
        return [self.insert(template._replace(tenant_id=t, resource_id=r)) for t, r in targets]

    def list_for_tenant(self, tenant_id: int, *, action: str | None, resource_type: str | None,
                        resource_id: str | None, before_id: int | None, limit: int) -> list[AuditEvent]:
        return [AuditEvent(i + 1, e.tenant_id, e.actor.type, e.actor.id, e.actor.email, e.actor.name, e.action,
                           e.resource_type, e.resource_id, e.status, e.metadata, e.correlation_id, NOW)
                for i, e in enumerate(self.s.audit) if e.tenant_id == tenant_id][::-1][:limit]

    def count_for_tenant(self, tenant_id: int, *, action: str | None, resource_type: str | None,
                         resource_id: str | None) -> int:
        return sum(1 for e in self.s.audit if e.tenant_id == tenant_id and action in (None, e.action)
                   and resource_type in (None, e.resource_type) and resource_id in (None, e.resource_id))


class FakeIdempotency:
    def __init__(self, state: State) -> None:
        self.s = state

    def lock_and_get(self, user_id: int, tenant_id: int, key: str) -> StoredResponse | None:
        return self.s.keys.get((user_id, tenant_id, key))

    def store(self, user_id: int, tenant_id: int, key: str, request_hash: str, bulk_operation_run_id: int,
              response: dict[str, Any]) -> None:
        assert (user_id, tenant_id, key) not in self.s.keys, "the primary key would refuse a second row"
        self.s.keys[(user_id, tenant_id, key)] = StoredResponse(request_hash, response)


class NoItems:
    """The inventory is not what these rules are about: an empty one (finalize's count of it is noted)."""

    def __init__(self, state: State) -> None:
        self.s = state

    def list_for_tenant(self, tenant_id: int, item_filter: ItemFilter, keyset: Keyset,
                        limit: int) -> list[InventoryItem]:
        return []

    def count_for_tenant(self, tenant_id: int, item_filter: ItemFilter) -> int:
        return 0

    def stream_for_tenant(self, tenant_id: int, item_filter: ItemFilter, keyset: Keyset,
                          batch: int) -> Iterator[InventoryItem]:
        return iter(())

    def live_counts(self, tenant_ids: list[int]) -> dict[int, int]:
        return {}

    def count_live(self, tenant_id: int) -> None:
        self.s.counted.append(tenant_id)

    def get(self, tenant_id: int, item_id: int) -> InventoryItem | None:
        return None

    def exists(self, tenant_id: int, item_id: int) -> bool:
        return False

    def links_for_items(self, item_ids: list[int]) -> dict[int, list[StoredLink]]:
        return {}

    def counts_by_type(self, tenant_id: int) -> list[TypeCount]:
        return []


class NoChanges:
    def list_for_run(self, tenant_id: int, run_id: int, *, change: str | None, policy_type: str | None,
                     after_id: int | None, limit: int) -> list[ItemChange]:
        return []

    def history_of_item(self, tenant_id: int, item_id: int, *, before_id: int | None,
                        limit: int) -> list[ItemChange]:
        return []

    def count_for_run(self, tenant_id: int, run_id: int, *, change: str | None, policy_type: str | None) -> int:
        return 0

    def prune(self, older_than_days: int, batch: int) -> int:
        return 0


class FakeMissingPermissions:
    """The rules of db/missing_permissions.py over a dict: a check replaces, a run merges, the later wins."""

    def __init__(self, state: State) -> None:
        self.s = state

    def for_tenants(self, tenant_ids: list[int]) -> dict[int, MissingPermissions]:
        return {t: m for t, m in self.s.missing.items() if t in tenant_ids}

    def record_check(self, tenant_id: int, missing: Iterable[str], checked_at: datetime) -> None:
        known = self.s.missing.get(tenant_id)
        if known is None or known.observed_at < checked_at:
            self.s.missing[tenant_id] = MissingPermissions(tenant_id, sorted(set(missing)), "permission_check",
                                                           None, checked_at)

    def record_run(self, tenant_id: int, run_id: int, finished_at: datetime, refused: Iterable[str],
                   granted: Iterable[str]) -> None:
        refused, granted = set(refused), set(granted) - set(refused)
        known = self.s.missing.get(tenant_id)
        if known is not None and known.observed_at > finished_at:
            return
        before = set(known.missing_permissions) if known else set()
        self.s.missing[tenant_id] = MissingPermissions(tenant_id, sorted((before - granted) | refused), "run",
                                                       run_id, finished_at)


class FakeLocks:
    def __init__(self, state: State) -> None:
        self.s = state

    def hold_dispatch_gate(self, bulk_ids: list[int]) -> None:
        self.s.gates.extend(bulk_ids)


class FakeSessionLocks:
    def __init__(self, held_elsewhere: set[int]) -> None:
        self.elsewhere, self.mine = held_elsewhere, set[int]()

    def try_lock(self, key: int) -> bool:
        if key in self.elsewhere or key in self.mine:
            return False
        self.mine.add(key)
        return True

    def unlock(self, key: int) -> bool:
        had = key in self.mine
        self.mine.discard(key)
        return had

    def is_held(self, key: int) -> bool:
        return key in self.elsewhere or key in self.mine


class FakeUnitOfWork:
    def __init__(self, state: State | None = None) -> None:
        self.state = state or State()
        self.held_elsewhere: set[int] = set()  # advisory keys a live attempt elsewhere holds
        self.commits = 0
        self._before: State | None = None
        self._bind(self.state)

    def _bind(self, state: State) -> None:
        self.tenants = FakeTenants(state)
        self.bulk_operations = FakeBulkOperations(state)
        self.runs = FakeRuns(state)
        self.audit = FakeAudit(state)
        self.idempotency = FakeIdempotency(state)
        self.items = NoItems(state)
        self.changes = NoChanges()
        self.missing_permissions = FakeMissingPermissions(state)
        self.locks = FakeLocks(state)

    def __enter__(self) -> FakeUnitOfWork:
        assert self._before is None, "not re-entrant"
        self._before = copy.deepcopy(self.state)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        before, self._before = self._before, None
        assert before is not None
        for f in dataclasses.fields(State):  # what was written since the last commit goes
            setattr(self.state, f.name, getattr(before, f.name))

    def commit(self) -> None:
        assert self._before is not None, "commit outside the unit of work"
        self.commits += 1
        self._before = copy.deepcopy(self.state)

    @contextlib.contextmanager
    def lock_session(self, idle_session_timeout_ms: int) -> Iterator[FakeSessionLocks]:
        yield FakeSessionLocks(self.held_elsewhere)
