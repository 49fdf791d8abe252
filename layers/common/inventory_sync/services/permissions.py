"""The Graph permission check: which enabled policy types and foundations the tenant's app can read.

The commonest failure of Intune tools is a missing Graph permission that shows up as a silent gap;
this probes each collection with a minimal request and says which permission each refusal needs.
"""

import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from inventory_sync.adapters.graph.client import GraphClient, RetryPolicy
from inventory_sync.adapters.graph.credentials import CredentialStore
from inventory_sync.adapters.graph.errors import GraphError
from inventory_sync.adapters.graph.token import TokenProvider
from inventory_sync.db.rows import Tenant
from inventory_sync.domain.error_codes import ErrorCode
from inventory_sync.domain.registry import PolicyType, RuntimeRegistry
from inventory_sync.services.access import OWNER_ROLES, Identity, require_member, working_as
from inventory_sync.services.unit_of_work import UnitOfWork

CACHE_SECONDS = 300
_OUTCOMES = {ErrorCode.GRAPH_FORBIDDEN: "forbidden", ErrorCode.GRAPH_NOT_FOUND: "not_found"}


class Probe(NamedTuple):
    key: str
    category: str
    foundation: bool
    permission: str
    result: str  # reachable | forbidden | not_found | error
    status: int | None
    detail: str | None


class PermissionReport(NamedTuple):
    tenant_id: int
    checked_at: float
    probes: list[Probe]
    token_error: str | None = None

    @property
    def blocking(self) -> list[Probe]:
        """Forbidden types the tenant's default (full) selection needs."""
        return [p for p in self.probes if p.result == "forbidden"]

    @property
    def ok(self) -> bool:
        return self.token_error is None and not self.blocking

    @property
    def missing_permissions(self) -> list[str]:
        return sorted({p.permission for p in self.blocking})


def _probe(client: GraphClient, ptype: PolicyType) -> Probe:
    params = "?$top=1&$select=id" if ptype.supports_top else "?$select=id"
    try:
        client.request("GET", client.url(ptype.collection) + params)
    except GraphError as exc:
        return Probe(ptype.key, ptype.category, ptype.foundation, ptype.permission,
                     _OUTCOMES.get(exc.code, "error"), exc.status, exc.message[:200])
    return Probe(ptype.key, ptype.category, ptype.foundation, ptype.permission, "reachable", 200, None)


def check(tenant: Tenant, registry: RuntimeRegistry, credentials: CredentialStore, tokens: TokenProvider,
          graph_base_url: str) -> PermissionReport:
    units = registry.enabled_policy_types + registry.enabled_foundations
    try:
        credential = credentials.get(tenant.id)
        tokens.token(tenant.graph_tenant_id, tenant.graph_client_id, credential)
    except GraphError as exc:
        return PermissionReport(tenant.id, time.time(), [], token_error=f"{exc.code.value}: {exc.message}")
    client = GraphClient(graph_base_url, lambda force: tokens.token(tenant.graph_tenant_id, tenant.graph_client_id,
                                                                     credential, force_refresh=force),
                         policy=RetryPolicy(max_attempts=3, base_delay=0.2, max_total_wait=10))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        probes = list(pool.map(lambda u: _probe(client, u), units))
    return PermissionReport(tenant.id, time.time(), probes)


class ReportCache:
    """Per execution environment: the API answers from here for a few minutes."""

    def __init__(self, seconds: float = CACHE_SECONDS) -> None:
        self.seconds = seconds
        self._items: dict[int, PermissionReport] = {}
        self._lock = threading.Lock()

    def get(self, tenant_id: int) -> PermissionReport | None:
        with self._lock:
            report = self._items.get(tenant_id)
        return report if report and time.time() - report.checked_at < self.seconds else None

    def put(self, report: PermissionReport) -> None:
        with self._lock:
            self._items[report.tenant_id] = report

    def forget(self, tenant_id: int) -> None:
        """A new credential: the next check probes again."""
        with self._lock:
            self._items.pop(tenant_id, None)


class PermissionChecks:
    """The check as the API offers it: the tenant's owners ask, the answer comes from the cache for a few
    minutes (or is probed afresh), and a credential change drops the cached report and tokens."""

    def __init__(self, reports: ReportCache, tokens: TokenProvider,
                 probe: Callable[[Tenant], PermissionReport]) -> None:
        self._reports, self._tokens, self._probe = reports, tokens, probe

    @staticmethod
    def tenant(uow: UnitOfWork, identity: Identity, tenant_id: int) -> Tenant:
        """The tenant to check, for its owners only (404 to strangers, 403 to other members)."""
        with working_as(uow, identity) as caller:
            return require_member(uow.tenants, tenant_id, caller.user, OWNER_ROLES)

    def report(self, tenant: Tenant, *, refresh: bool) -> PermissionReport:
        """For a tenant `tenant` returned (so after its membership check): cached, unless `refresh`."""
        report = None if refresh else self._reports.get(tenant.id)
        if report is None:
            report = self._probe(tenant)
            self._reports.put(report)
        return report

    def forget(self, tenant: Tenant) -> None:
        """The tenant's credential changed: its next check probes again, with a new token."""
        self._reports.forget(tenant.id)
        self._tokens.forget(tenant.graph_tenant_id)
