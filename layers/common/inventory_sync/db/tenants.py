"""SQL for tenants, users and tenant_memberships."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import class_row, dict_row

from inventory_sync.db.rows import Member, Tenant, TenantWithRole, User

_TENANT_COLS = "id, name, graph_tenant_id, graph_client_id, status, scheduled_sync_enabled"


def get(conn: psycopg.Connection, tenant_id: int) -> Tenant | None:
    with conn.cursor(row_factory=class_row(Tenant)) as cur:
        return cur.execute(f"SELECT {_TENANT_COLS} FROM tenants WHERE id = %s", (tenant_id,)).fetchone()


class DirectoryTaken(Exception):
    """Another active tenant holds the directory (migration 0007's unique index)."""


def create(conn: psycopg.Connection, *, name: str, graph_tenant_id: str, graph_client_id: str,
           status: str = "active", scheduled_sync_enabled: bool = True) -> Tenant:
    with conn.cursor(row_factory=class_row(Tenant)) as cur:
        try:
            row = cur.execute(
                f"INSERT INTO tenants (name, graph_tenant_id, graph_client_id, status, scheduled_sync_enabled)"
                f" VALUES (%s, %s, %s, %s, %s) RETURNING {_TENANT_COLS}",
                (name, graph_tenant_id, graph_client_id, status, scheduled_sync_enabled),
            ).fetchone()
        except psycopg.errors.UniqueViolation:
            raise DirectoryTaken(graph_tenant_id) from None
    assert row is not None
    return row


def directory_taken(conn: psycopg.Connection, graph_tenant_id: str) -> bool:
    """Whether a tenant, active or not, is onboarded on the directory."""
    return conn.execute("SELECT EXISTS (SELECT 1 FROM tenants WHERE lower(graph_tenant_id) = lower(%s))",
                        (graph_tenant_id,)).fetchone() == (True,)


def set_status(conn: psycopg.Connection, tenant_id: int, status: str) -> None:
    conn.execute("UPDATE tenants SET status = %s, updated_at = now() WHERE id = %s", (status, tenant_id))


def scheduled_tenant_ids(conn: psycopg.Connection) -> list[int]:
    rows = conn.execute(
        "SELECT id FROM tenants WHERE status = 'active' AND scheduled_sync_enabled ORDER BY id"
    ).fetchall()
    return [r[0] for r in rows]


def upsert_user(conn: psycopg.Connection, *, subject: str, email: str | None, name: str | None) -> User:
    """Create the user on first sight; refresh email and name from the latest claims (absent claims keep
    what is stored)."""
    with conn.cursor(row_factory=class_row(User)) as cur:
        row = cur.execute(
            "INSERT INTO users (subject, email, name) VALUES (%s, %s, %s)"
            " ON CONFLICT (subject) DO UPDATE SET email = coalesce(EXCLUDED.email, users.email),"
            " name = coalesce(EXCLUDED.name, users.name), updated_at = now()"
            " WHERE users.email IS DISTINCT FROM coalesce(EXCLUDED.email, users.email)"
            " OR users.name IS DISTINCT FROM coalesce(EXCLUDED.name, users.name)"
            " RETURNING id, subject, email, name",
            (subject, email, name),
        ).fetchone()
        if row is None:  # unchanged: no write needed
            row = cur.execute("SELECT id, subject, email, name FROM users WHERE subject = %s",
                              (subject,)).fetchone()
    assert row is not None
    return row


def ensure_user(conn: psycopg.Connection, *, subject: str, email: str | None, name: str | None) -> User:
    """The user with this subject, created with `email` and `name` on first sight; an existing user's profile
    is never changed here (it comes from that user's own token, `upsert_user`)."""
    with conn.cursor(row_factory=class_row(User)) as cur:
        row = cur.execute(
            "INSERT INTO users (subject, email, name) VALUES (%s, %s, %s) ON CONFLICT (subject) DO NOTHING"
            " RETURNING id, subject, email, name", (subject, email, name)).fetchone()
        if row is None:
            row = cur.execute("SELECT id, subject, email, name FROM users WHERE subject = %s",
                              (subject,)).fetchone()
    assert row is not None
    return row


def get_user(conn: psycopg.Connection, user_id: int) -> User | None:
    with conn.cursor(row_factory=class_row(User)) as cur:
        return cur.execute("SELECT id, subject, email, name FROM users WHERE id = %s", (user_id,)).fetchone()


def role_of(conn: psycopg.Connection, tenant_id: int, user_id: int) -> str | None:
    row = conn.execute(
        "SELECT m.role FROM tenant_memberships m JOIN tenants t ON t.id = m.tenant_id"
        " WHERE m.tenant_id = %s AND m.user_id = %s",
        (tenant_id, user_id),
    ).fetchone()
    return row[0] if row else None


def set_membership(conn: psycopg.Connection, tenant_id: int, user_id: int, role: str) -> None:
    conn.execute(
        "INSERT INTO tenant_memberships (tenant_id, user_id, role) VALUES (%s, %s, %s)"
        " ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = EXCLUDED.role",
        (tenant_id, user_id, role),
    )


def remove_membership(conn: psycopg.Connection, tenant_id: int, user_id: int) -> bool:
    cur = conn.execute("DELETE FROM tenant_memberships WHERE tenant_id = %s AND user_id = %s", (tenant_id, user_id))
    return cur.rowcount == 1


_VIEW_COLS = ("t.id, t.name, t.graph_tenant_id, t.graph_client_id, t.status, t.scheduled_sync_enabled,"
              " t.created_at, t.updated_at")


def view(conn: psycopg.Connection, tenant_id: int, user_id: int) -> TenantWithRole | None:
    """The tenant with the caller's role in it (role None when not a member; None for an unknown tenant)."""
    with conn.cursor(row_factory=class_row(TenantWithRole)) as cur:
        return cur.execute(
            f"SELECT {_VIEW_COLS}, m.role FROM tenants t LEFT JOIN tenant_memberships m"
            " ON m.tenant_id = t.id AND m.user_id = %s WHERE t.id = %s", (user_id, tenant_id)).fetchone()


def list_views(conn: psycopg.Connection, user_id: int, *, every_tenant: bool, after_id: int | None,
               limit: int) -> list[TenantWithRole]:
    """Tenants in id order with the caller's role: all of them (administrators) or the caller's own."""
    join = "LEFT JOIN" if every_tenant else "JOIN"
    with conn.cursor(row_factory=class_row(TenantWithRole)) as cur:
        return cur.execute(
            f"SELECT {_VIEW_COLS}, m.role FROM tenants t {join} tenant_memberships m"
            " ON m.tenant_id = t.id AND m.user_id = %(user)s"
            " WHERE (%(after)s::bigint IS NULL OR t.id > %(after)s) ORDER BY t.id LIMIT %(limit)s",
            {"user": user_id, "after": after_id, "limit": limit}).fetchall()


def update(conn: psycopg.Connection, tenant_id: int,
           changes: dict[str, object]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Apply `changes` (name, status, scheduled_sync_enabled, graph_client_id) to the locked row; returns the
    changed fields (before, after), or None for an unknown tenant."""
    allowed = {"name", "status", "scheduled_sync_enabled", "graph_client_id"}
    assert set(changes) <= allowed, set(changes) - allowed
    with conn.cursor(row_factory=dict_row) as cur:
        before = cur.execute("SELECT name, status, scheduled_sync_enabled, graph_client_id FROM tenants"
                             " WHERE id = %s FOR UPDATE", (tenant_id,)).fetchone()
        if before is None:
            return None
        changed = {k: v for k, v in changes.items() if before[k] != v}
        if changed:
            assignments = ", ".join(f"{name} = %({name})s" for name in changed)
            try:
                cur.execute(f"UPDATE tenants SET {assignments}, updated_at = now() WHERE id = %(id)s",
                            {**changed, "id": tenant_id})
            except psycopg.errors.UniqueViolation:  # made active on a directory another active tenant holds
                raise DirectoryTaken(str(tenant_id)) from None
    return {k: before[k] for k in changed}, changed


def members(conn: psycopg.Connection, tenant_id: int) -> list[Member]:
    with conn.cursor(row_factory=class_row(Member)) as cur:
        return cur.execute(
            "SELECT u.id AS user_id, u.subject, u.email, u.name, m.role, m.created_at FROM tenant_memberships m"
            " JOIN users u ON u.id = m.user_id WHERE m.tenant_id = %s ORDER BY u.id", (tenant_id,)).fetchall()


def member(conn: psycopg.Connection, tenant_id: int, user_id: int) -> Member | None:
    with conn.cursor(row_factory=class_row(Member)) as cur:
        return cur.execute(
            "SELECT u.id AS user_id, u.subject, u.email, u.name, m.role, m.created_at FROM tenant_memberships m"
            " JOIN users u ON u.id = m.user_id WHERE m.tenant_id = %s AND m.user_id = %s",
            (tenant_id, user_id)).fetchone()


def lock_memberships(conn: psycopg.Connection, tenant_id: int) -> list[tuple[int, str]]:
    """The tenant's (user id, role) pairs, locked against concurrent membership changes (last-owner rule)."""
    conn.execute("SELECT 1 FROM tenants WHERE id = %s FOR UPDATE", (tenant_id,))
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT user_id, role FROM tenant_memberships WHERE tenant_id = %s", (tenant_id,)).fetchall()]
