"""Who is calling and what they may do with a tenant."""

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple, Self

from inventory_sync.db.rows import BulkOperation, Tenant, User
from inventory_sync.domain.audit import Actor
from inventory_sync.domain.tenancy import claim_values
from inventory_sync.errors import Forbidden, NotFound, Unauthenticated
from inventory_sync.services.unit_of_work import TenantStore, UnitOfWork

OWNER_ROLES = frozenset({"owner"})
WRITE_ROLES = frozenset({"owner", "operator"})
READ_ROLES = frozenset({"owner", "operator", "reader"})


class Identity(NamedTuple):
    """Who is asking, before the database is asked: the JWT authorizer's claims (strings), or the operator of
    the CLI's direct mode. Services take it with their unit of work and resolve it to a users row inside it."""

    subject: str
    email: str | None
    name: str | None
    admin: bool = False  # a platform administrator: ADMIN_GROUP_ID among the token's groups or roles

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any] | None, admin_group_id: str | None = None) -> Self:
        claims = claims or {}
        subject = str(claims.get("oid") or claims.get("sub") or "").strip()
        if not subject or len(subject) > 255:
            raise Unauthenticated("the request carries no authenticated subject")
        email = claims.get("email") or claims.get("preferred_username")
        name = claims.get("name")
        memberships = claim_values(claims.get("groups")) | claim_values(claims.get("roles"))
        return cls(subject, str(email)[:320] if email else None, str(name)[:200] if name else None,
                   bool(admin_group_id) and admin_group_id in memberships)

    @classmethod
    def operator(cls, login: str) -> Self:
        """Whoever runs the CLI's direct mode (database and Secrets Manager access): a platform administrator,
        recorded in the audit trail as the users row `operator:<login>`."""
        return cls(f"operator:{login}"[:255], None, f"{login} (invsync direct mode)"[:200], admin=True)


class Caller(NamedTuple):
    """Who is asking, resolved: the users row and whether they administer the platform."""

    user: User
    admin: bool


def actor_of(user: User) -> Actor:
    return Actor("user", user.id, user.email, user.name)


@contextlib.contextmanager
def working_as(uow: UnitOfWork, identity: Identity) -> Iterator[Caller]:
    """A use case's transaction: the unit of work opened, the caller's users row created or refreshed, and
    everything committed when the block ends without an error (an error rolls it all back)."""
    with uow:
        yield Caller(uow.tenants.upsert_user(subject=identity.subject, email=identity.email, name=identity.name),
                     identity.admin)
        uow.commit()


@contextlib.contextmanager
def member_of(uow: UnitOfWork, identity: Identity, tenant_id: int, roles: frozenset[str]) -> Iterator[User]:
    """`working_as`, for a member of the tenant with one of `roles` only."""
    with working_as(uow, identity) as caller:
        require_member(uow.tenants, tenant_id, caller.user, roles)
        yield caller.user


def require_member(store: TenantStore, tenant_id: int, user: User, roles: frozenset[str]) -> Tenant:
    """Unknown tenant and non-member look the same (404); a member without the role gets 403."""
    tenant = store.get(tenant_id)
    role = store.role_of(tenant_id, user.id) if tenant else None
    if tenant is None or role is None:
        raise NotFound(f"tenant {tenant_id} not found")
    if role not in roles:
        raise Forbidden(f"role '{role}' may not do this on tenant {tenant_id}")
    return tenant


def require_bulk_operation(uow: UnitOfWork, user: User, bulk_id: int, roles: frozenset[str]) -> BulkOperation:
    """A bulk operation of a tenant the caller belongs to with one of `roles`; 404 for anyone else's."""
    op = uow.bulk_operations.get(bulk_id)
    if op is None:
        raise NotFound(f"bulk operation {bulk_id} not found")
    try:
        require_member(uow.tenants, op.tenant_id, user, roles)
    except NotFound:
        raise NotFound(f"bulk operation {bulk_id} not found") from None
    return op


def require_tenant_manager(store: TenantStore, tenant_id: int, caller: Caller) -> Tenant:
    """Platform administrators, and the tenant's owners, manage its credential and members."""
    if caller.admin:
        tenant = store.get(tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        return tenant
    return require_member(store, tenant_id, caller.user, OWNER_ROLES)


def require_admin(caller: Caller, what: str) -> None:
    if not caller.admin:
        raise Forbidden(f"only platform administrators may {what}")
