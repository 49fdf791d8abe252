"""The unit of work: what a use case needs of the database, as ports (docs/architecture.md §1, "Unit of work").

A service opens the unit of work (`with uow:` is one transaction), authorises the caller inside it, does its
reads and writes through the stores below, and commits explicitly (`uow.commit()`); leaving the block without a
commit rolls back. `db/unit_of_work.py` implements these ports over PostgreSQL (each table's module keeps its
SQL); the service tests use an in-memory fake. Each store's methods are its table module's functions without the
connection (a unit test holds them to the same names and parameters; a table function may take more optional
ones that no use case here passes).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Protocol, Self

from inventory_sync.db.changes import ItemChange
from inventory_sync.db.idempotency import StoredResponse
from inventory_sync.db.rows import (
    AuditEvent,
    BulkOperation,
    InventoryItem,
    Run,
    StoredLink,
    Tenant,
    TypeCount,
    User,
)
from inventory_sync.domain.audit import NewAuditEvent
from inventory_sync.domain.status import BulkStatus, RunStatus


class TenantStore(Protocol):
    def get(self, tenant_id: int) -> Tenant | None: ...

    def role_of(self, tenant_id: int, user_id: int) -> str | None: ...

    def upsert_user(self, *, subject: str, email: str | None, name: str | None) -> User: ...

    def get_user(self, user_id: int) -> User | None: ...

    def scheduled_tenant_ids(self) -> list[int]: ...


class BulkOperationStore(Protocol):
    def create(self, *, tenant_id: int, user_id: int | None, selection_hash: str, trigger: str,
               correlation_id: str) -> BulkOperation: ...

    def create_scheduled(self, tenant_ids: list[int], selection_hash: str,
                         correlation_id: str) -> list[tuple[int, int]]: ...

    def link_audit(self, pairs: list[tuple[int, int]]) -> None: ...

    def delete_pending(self, ids: list[int]) -> None: ...

    def get(self, bulk_id: int, *, for_update: bool = False) -> BulkOperation | None: ...

    def tenants_with_active(self, tenant_ids: list[int], selection_hash: str) -> set[int]: ...

    def finish(self, bulk_id: int, current: BulkStatus, target: BulkStatus, counters: dict[str, int]) -> bool: ...

    def request_cancel(self, bulk_id: int) -> bool: ...

    def list_for_user(self, user_id: int, *, active_only: bool, before_id: int | None,
                      limit: int) -> list[BulkOperation]: ...

    def stale_pending(self, older_than_seconds: int, limit: int = 500) -> list[int]: ...


class RunStore(Protocol):
    def get(self, run_id: int, *, for_update: bool = False) -> Run | None: ...

    def get_by_bulk_operation(self, bulk_id: int, *, for_update: bool = False) -> Run | None: ...

    def finish(self, run_id: int, *, status: RunStatus, error_codes: list[str],
               error_context: dict[str, Any]) -> bool: ...

    def running_ids(self, limit: int = 500) -> list[tuple[int, int, str]]: ...

    def list_for_tenant(self, tenant_id: int, *, status: str | None, before_id: int | None,
                        limit: int) -> list[Run]: ...


class AuditLog(Protocol):
    def insert(self, event: NewAuditEvent) -> int: ...

    def insert_terminal(self, event: NewAuditEvent) -> int | None: ...

    def insert_same_for_many(self, template: NewAuditEvent, targets: list[tuple[int, str]]) -> list[int]: ...

    def list_for_tenant(self, tenant_id: int, *, action: str | None, resource_type: str | None,
                        resource_id: str | None, before_id: int | None, limit: int) -> list[AuditEvent]: ...


class IdempotencyStore(Protocol):
    def lock_and_get(self, user_id: int, tenant_id: int, key: str) -> StoredResponse | None: ...

    def store(self, user_id: int, tenant_id: int, key: str, request_hash: str, bulk_operation_run_id: int,
              response: dict[str, Any]) -> None: ...


class ItemStore(Protocol):
    def list_for_tenant(self, tenant_id: int, *, policy_type: str | None, include_deleted: bool,
                        after_id: int | None, limit: int, category: str | None = None,
                        search: str | None = None) -> list[InventoryItem]: ...

    def get(self, tenant_id: int, item_id: int) -> InventoryItem | None: ...

    def exists(self, tenant_id: int, item_id: int) -> bool: ...

    def links_for_items(self, item_ids: list[int]) -> dict[int, list[StoredLink]]: ...

    def counts_by_type(self, tenant_id: int) -> list[TypeCount]: ...


class ChangeStore(Protocol):
    def list_for_run(self, tenant_id: int, run_id: int, *, change: str | None, policy_type: str | None,
                     after_id: int | None, limit: int) -> list[ItemChange]: ...

    def history_of_item(self, tenant_id: int, item_id: int, *, before_id: int | None,
                        limit: int) -> list[ItemChange]: ...

    def prune(self, older_than_days: int, batch: int) -> int: ...


class TransactionLocks(Protocol):
    """Advisory locks that end with the unit of work's transaction."""

    def hold_dispatch_gate(self, bulk_ids: list[int]) -> None: ...


class SessionLocks(Protocol):
    """Advisory locks on a dedicated session (docs/architecture.md §6), outside any unit of work."""

    def try_lock(self, key: int) -> bool: ...

    def unlock(self, key: int) -> bool: ...

    def is_held(self, key: int) -> bool: ...


class UnitOfWork(Protocol):
    """One transaction of one use case. Enter it to open the transaction; `commit()` to keep its writes."""

    @property
    def tenants(self) -> TenantStore: ...

    @property
    def bulk_operations(self) -> BulkOperationStore: ...

    @property
    def runs(self) -> RunStore: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def idempotency(self) -> IdempotencyStore: ...

    @property
    def items(self) -> ItemStore: ...

    @property
    def changes(self) -> ChangeStore: ...

    @property
    def locks(self) -> TransactionLocks: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...

    def commit(self) -> None: ...

    def lock_session(self, idle_session_timeout_ms: int) -> AbstractContextManager[SessionLocks]: ...
