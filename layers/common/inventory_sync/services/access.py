"""Who is calling and what they may do with a tenant."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg

from inventory_sync.db import tenants
from inventory_sync.db.audit import Actor
from inventory_sync.db.rows import Tenant, User
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

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any] | None) -> Identity:
        claims = claims or {}
        subject = str(claims.get("oid") or claims.get("sub") or "").strip()
        if not subject or len(subject) > 255:
            raise Unauthenticated("the request carries no authenticated subject")
        email = claims.get("email") or claims.get("preferred_username")
        name = claims.get("name")
        return cls(subject, str(email)[:320] if email else None, str(name)[:200] if name else None)


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
