"""The tenant overview (what an operator looks at first): each tenant with its latest run, what that run
changed, its live item count and the Graph permissions its app lacks — for a whole page of tenants in three
statements, whatever its size."""

from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple

from inventory_sync.db.rows import Run, TenantWithRole
from inventory_sync.domain.status import RunStatus
from inventory_sync.services.paging import Page
from inventory_sync.services.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from inventory_sync.services.permissions import PermissionReport  # the Graph client: not for every import


class TenantOverview(NamedTuple):
    """A tenant row as the caller sees it (db.rows.TenantWithRole's fields, in order), then its overview."""

    id: int
    name: str
    graph_tenant_id: str
    graph_client_id: str
    status: str
    scheduled_sync_enabled: bool
    created_at: datetime
    updated_at: datetime
    role: str | None
    # then the overview
    last_run: Run | None
    item_count: int
    missing_permissions: list[str]
    missing_permissions_checked_at: datetime | None

    @property
    def last_changes(self) -> dict[str, int] | None:
        """What the latest run changed; null while it runs (its counts are taken when it finishes)."""
        if self.last_run is None or self.last_run.status == RunStatus.RUNNING:
            return None
        return self.last_run.changes


def of_tenants(uow: UnitOfWork, tenants: list[TenantWithRole]) -> list[TenantOverview]:
    """The overview of tenants the caller was already allowed to see (a read of its own; nothing to commit)."""
    ids = [t.id for t in tenants]
    if not ids:
        return []
    with uow:
        latest = uow.runs.latest_for_tenants(ids)
        counts = uow.items.live_counts(ids)
        missing = uow.missing_permissions.for_tenants(ids)
    overviews = []
    for tenant in tenants:
        known = missing.get(tenant.id)
        overviews.append(TenantOverview(
            *tenant, last_run=latest.get(tenant.id),
            item_count=counts.get(tenant.id, 0), missing_permissions=known.missing_permissions if known else [],
            missing_permissions_checked_at=known.observed_at if known else None))
    return overviews


def page_of(uow: UnitOfWork, page: Page[TenantWithRole]) -> Page[TenantOverview]:
    return Page(of_tenants(uow, page.items), page.next_cursor)


def one(uow: UnitOfWork, tenant: TenantWithRole) -> TenantOverview:
    return of_tenants(uow, [tenant])[0]


def record_permission_check(uow: UnitOfWork, report: "PermissionReport") -> None:
    """A permission check whose token worked probed every enabled type: its answer is what the overview shows,
    unless a run finished after it was taken (a cached answer is recorded as of when it was probed)."""
    if report.token_error is not None:
        return
    with uow:
        uow.missing_permissions.record_check(report.tenant_id, report.missing_permissions,
                                             datetime.fromtimestamp(report.checked_at, UTC))
        uow.commit()
