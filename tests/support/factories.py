"""Arrange rows through the real table modules (never a mock of our data layer)."""

from __future__ import annotations

import psycopg

from inventory_sync.db import tenants
from inventory_sync.db.rows import Tenant, User


def tenant(conn: psycopg.Connection, name: str = "Contoso", *, status: str = "active", scheduled: bool = True,
           graph_tenant_id: str = "contoso.onmicrosoft.com") -> Tenant:
    return tenants.create(conn, name=name, graph_tenant_id=graph_tenant_id, graph_client_id="client-app-id",
                          status=status, scheduled_sync_enabled=scheduled)


def member(conn: psycopg.Connection, tenant_id: int, subject: str, role: str = "operator",
           email: str | None = None, name: str | None = None) -> User:
    user = tenants.upsert_user(conn, subject=subject, email=email or f"{subject}@example.com",
                               name=name or subject.title())
    tenants.set_membership(conn, tenant_id, user.id, role)
    return user
