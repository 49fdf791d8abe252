"""Who is calling and what they may do with a tenant."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg

from inventory_sync.db import tenants
from inventory_sync.db.rows import Tenant, User
from inventory_sync.domain.audit import Actor
from inventory_sync.domain.tenancy import claim_values
from inventory_sync.errors import Forbidden, NotFound, Unauthenticated

OWNER_ROLES = frozenset({"owner"})
WRITE_ROLES = frozenset({"owner", "operator"})
READ_ROLES = frozenset({"owner", "operator", "reader"})


@dataclass(frozen=True)
class Identity:
    """The caller as the JWT authorizer saw it (claims arrive as strings)."""

    subject: str
    email: str | None
    name: str | None
    # the `groups` and `roles` claims together: group object ids and app role values
    memberships: frozenset[str] = frozenset()

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any] | None) -> Identity:
        claims = claims or {}
        subject = str(claims.get("oid") or claims.get("sub") or "").strip()
        if not subject or len(subject) > 255:
            raise Unauthenticated("the request carries no authenticated subject")
        email = claims.get("email") or claims.get("preferred_username")
        name = claims.get("name")
        return cls(subject, str(email)[:320] if email else None, str(name)[:200] if name else None,
                   claim_values(claims.get("groups")) | claim_values(claims.get("roles")))

    def is_admin(self, admin_group_id: str | None) -> bool:
        """A platform administrator: the configured group or app role is among the token's claims."""
        return bool(admin_group_id) and admin_group_id in self.memberships


@dataclass(frozen=True)
class Caller:
    """Who is asking, resolved: the users row and whether they administer the platform."""

    user: User
    admin: bool


def actor_of(user: User) -> Actor:
    return Actor("user", user.id, user.email, user.name)


def resolve_user(conn: psycopg.Connection, identity: Identity) -> User:
    return tenants.upsert_user(conn, subject=identity.subject, email=identity.email, name=identity.name)


def require_member(conn: psycopg.Connection, tenant_id: int, user: User, roles: frozenset[str]) -> Tenant:
    """Unknown tenant and non-member look the same (404); a member without the role gets 403."""
    tenant = tenants.get(conn, tenant_id)
    role = tenants.role_of(conn, tenant_id, user.id) if tenant else None
    if tenant is None or role is None:
        raise NotFound(f"tenant {tenant_id} not found")
    if role not in roles:
        raise Forbidden(f"role '{role}' may not do this on tenant {tenant_id}")
    return tenant


def require_tenant_manager(conn: psycopg.Connection, tenant_id: int, caller: Caller) -> Tenant:
    """Platform administrators, and the tenant's owners, manage its credential and members."""
    if caller.admin:
        tenant = tenants.get(conn, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        return tenant
    return require_member(conn, tenant_id, caller.user, OWNER_ROLES)


def require_admin(caller: Caller, what: str) -> None:
    if not caller.admin:
        raise Forbidden(f"only platform administrators may {what}")
