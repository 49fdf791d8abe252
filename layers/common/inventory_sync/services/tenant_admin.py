"""Onboarding and membership over the API: the rules `invsync tenants` / `invsync members` follow locally.

Platform administrators create, list, rename, enable/disable and schedule tenants; they and a tenant's
owners set its Graph credential and manage its members. Every change writes its audit event (with the
actor's snapshot) in the use case's unit of work, so the change and its record commit together. A credential
goes to Secrets Manager only, as the last step before the commit: when Secrets Manager refuses it, the
transaction rolls back and nothing of the change stays; when the commit fails after it, `_committing` puts
the previous secret back. Both change, or neither. The CLI's direct mode runs the same routes, so the same
rules and events hold there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

import psycopg

from inventory_sync.db.rows import Member, Tenant, TenantWithRole
from inventory_sync.db.tenants import DirectoryTaken
from inventory_sync.domain.audit import NewAuditEvent
from inventory_sync.domain.tenancy import CredentialIn, MemberIn, TenantCreate, TenantPatch
from inventory_sync.errors import Conflict, NotFound, Unavailable
from inventory_sync.observability import logger
from inventory_sync.services.access import (
    Caller,
    Identity,
    actor_of,
    require_admin,
    require_tenant_manager,
    working_as,
)
from inventory_sync.services.paging import Page, decode_cursor
from inventory_sync.services.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from inventory_sync.adapters.graph.credentials import StoredCredential


class CredentialWriter(Protocol):
    def put(self, tenant_id: int, value: dict[str, str]) -> StoredCredential: ...

    def restore(self, stored: StoredCredential) -> bool: ...


class TenantAdmin:
    """One request's tenant administration: each method is a use case, its own unit of work. `credential_changed
    (tenant)` is told after a commit that changed a tenant's credential (the process drops what it cached of the
    old one)."""

    def __init__(self, uow: UnitOfWork, credentials: CredentialWriter,
                 credential_changed: Callable[[Tenant], None]) -> None:
        self._uow = uow
        self._credentials = credentials
        self._credential_changed = credential_changed
        self._stored: list[StoredCredential] = []
        self._changed: list[Tenant] = []

    @contextlib.contextmanager
    def _working(self, identity: Identity) -> Iterator[Caller]:
        """The use case's unit of work, with the credentials stored during it taken back when it does not commit."""
        with self._committing(), working_as(self._uow, identity) as caller:
            yield caller

    @contextlib.contextmanager
    def _committing(self) -> Iterator[None]:
        """Around the request's transaction: when it does not commit, every credential stored during it is
        taken back (a new secret deleted, a replaced one's previous value put back), and a database failure is a 503
        that says nothing changed; when it commits, the caches of the old credential are dropped."""
        try:
            yield
        except BaseException as exc:
            for stored in reversed(self._stored):
                if not self._credentials.restore(stored):
                    logger.error("a credential stored for a change that did not commit could not be taken back",
                                 extra={"tenant_id": stored.tenant_id})
            if isinstance(exc, psycopg.Error):
                raise Unavailable("the change could not be committed (database); nothing was changed") from None
            raise
        finally:
            self._stored = []
        for tenant in self._changed:
            self._credential_changed(tenant)
        self._changed = []

    def _event(self, caller: Caller, tenant_id: int, action: str, resource_type: str, resource_id: str,
               metadata: dict[str, Any], correlation_id: str | None) -> None:
        self._uow.audit.insert(NewAuditEvent(tenant_id, actor_of(caller.user), action, resource_type, resource_id,
                                             "success", metadata, correlation_id))

    def _store(self, tenant: Tenant, credential: CredentialIn) -> None:
        from inventory_sync.adapters.graph.credentials import CredentialStoreError

        try:
            self._stored.append(self._credentials.put(tenant.id, credential.secret_value()))
        except CredentialStoreError:
            raise Unavailable("the credential could not be stored (Secrets Manager); nothing was changed") from None
        self._changed.append(tenant)

    # -- tenants -----------------------------------------------------------------------------------------
    def create(self, identity: Identity, body: TenantCreate, correlation_id: str | None) -> TenantWithRole:
        """A new tenant, its `tenant.created` event, then its credential. A directory is onboarded once (409)."""
        with self._working(identity) as caller:
            require_admin(caller, "create tenants")
            store = self._uow.tenants
            if store.directory_taken(body.graph_tenant_id):
                raise _directory_taken()
            try:
                tenant = store.create(name=body.name, graph_tenant_id=body.graph_tenant_id,
                                      graph_client_id=body.credential.client_id,
                                      scheduled_sync_enabled=body.scheduled_sync_enabled)
            except DirectoryTaken:
                raise _directory_taken() from None
            self._event(caller, tenant.id, "tenant.created", "tenant", str(tenant.id),
                        {"name": tenant.name, "graph_tenant_id": tenant.graph_tenant_id,
                         "scheduled_sync_enabled": tenant.scheduled_sync_enabled}, correlation_id)
            self._event(caller, tenant.id, "tenant.credential.set", "tenant", str(tenant.id),
                        body.credential.audit_metadata(), correlation_id)
            self._store(tenant, body.credential)
            row = store.view(tenant.id, caller.user.id)
            assert row is not None
            return row

    def visible_tenants(self, identity: Identity, cursor: str | None, limit: int) -> Page[TenantWithRole]:
        with self._working(identity) as caller:
            rows = self._uow.tenants.list_views(caller.user.id, every_tenant=caller.admin,
                                                after_id=decode_cursor(cursor), limit=limit + 1)
        return Page.of(rows, limit)

    def get(self, identity: Identity, tenant_id: int) -> TenantWithRole:
        with self._working(identity) as caller:
            return self._visible(caller, tenant_id)

    def _visible(self, caller: Caller, tenant_id: int) -> TenantWithRole:
        row = self._uow.tenants.view(tenant_id, caller.user.id)
        if row is None or (row.role is None and not caller.admin):
            raise NotFound(f"tenant {tenant_id} not found")
        return row

    def update(self, identity: Identity, tenant_id: int, patch: TenantPatch,
               correlation_id: str | None) -> TenantWithRole:
        with self._working(identity) as caller:
            current = self._visible(caller, tenant_id)  # 404 for strangers, before saying who may do what
            require_admin(caller, "change tenants")
            try:
                result = self._uow.tenants.update(tenant_id, patch.changes())
            except DirectoryTaken:  # made active again on a directory another active tenant holds
                raise Conflict("another active tenant is onboarded on this directory") from None
            assert result is not None
            before, after = result
            if not after:
                return current
            self._event(caller, tenant_id, "tenant.updated", "tenant", str(tenant_id),
                        {"changes": {k: {"from": before[k], "to": after[k]} for k in sorted(after)}}, correlation_id)
            return self._visible(caller, tenant_id)

    def set_credential(self, identity: Identity, tenant_id: int, credential: CredentialIn,
                       correlation_id: str | None) -> None:
        """The tenant row stays locked until the commit, so changes of one tenant's credential follow one
        another."""
        with self._working(identity) as caller:
            tenant = require_tenant_manager(self._uow.tenants, tenant_id, caller)  # 404 strangers, 403 non-owners
            self._uow.tenants.update(tenant_id, {"graph_client_id": credential.client_id})
            self._event(caller, tenant_id, "tenant.credential.set", "tenant", str(tenant_id),
                        credential.audit_metadata(), correlation_id)
            self._store(tenant, credential)

    # -- members -----------------------------------------------------------------------------------------
    def members(self, identity: Identity, tenant_id: int) -> list[Member]:
        with self._working(identity) as caller:
            require_tenant_manager(self._uow.tenants, tenant_id, caller)
            return self._uow.tenants.members(tenant_id)

    def put_member(self, identity: Identity, tenant_id: int, body: MemberIn,
                   correlation_id: str | None) -> tuple[bool, Member]:
        """Add or change a membership. (created?, member). The user row is created on first sight with the
        body's email and name; an existing user's profile stays as their own token set it: it is shared by
        every tenant they belong to, so no owner of one tenant may rewrite it."""
        with self._working(identity) as caller:
            store = self._uow.tenants
            require_tenant_manager(store, tenant_id, caller)
            current = dict(store.lock_memberships(tenant_id))
            user = store.ensure_user(subject=body.subject, email=body.email, name=body.name)
            previous = current.get(user.id)
            if previous == "owner" and body.role != "owner":
                self._keep_an_owner(current, user.id)
            if previous != body.role:
                store.set_membership(tenant_id, user.id, body.role)
                action = "membership.added" if previous is None else "membership.changed"
                metadata: dict[str, Any] = {"user_id": user.id, "subject": user.subject, "role": body.role}
                if previous is not None:
                    metadata["previous_role"] = previous
                self._event(caller, tenant_id, action, "tenant_membership", f"{tenant_id}:{user.id}", metadata,
                            correlation_id)
            row = store.member(tenant_id, user.id)
            assert row is not None
            return previous is None, row

    def remove_member(self, identity: Identity, tenant_id: int, user_id: int, correlation_id: str | None) -> None:
        with self._working(identity) as caller:
            store = self._uow.tenants
            require_tenant_manager(store, tenant_id, caller)
            current = dict(store.lock_memberships(tenant_id))
            if user_id not in current:
                raise NotFound(f"user {user_id} is not a member of tenant {tenant_id}")
            if current[user_id] == "owner":
                self._keep_an_owner(current, user_id)
            row = store.member(tenant_id, user_id)
            assert row is not None
            store.remove_membership(tenant_id, user_id)
            self._event(caller, tenant_id, "membership.removed", "tenant_membership", f"{tenant_id}:{user_id}",
                        {"user_id": user_id, "subject": row.subject, "previous_role": current[user_id]},
                        correlation_id)

    @staticmethod
    def _keep_an_owner(current: dict[int, str], leaving: int) -> None:
        """A tenant keeps at least one owner: someone must be able to manage it without an administrator."""
        if not any(role == "owner" for uid, role in current.items() if uid != leaving):
            raise Conflict("a tenant keeps at least one owner: make someone else owner first")


def _directory_taken() -> Conflict:
    return Conflict("a tenant is already onboarded on this directory")
