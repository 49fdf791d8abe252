"""SQL for inventory_items and inventory_links: reads here; the bulk write path is in db/item_writer.py."""

from __future__ import annotations

import psycopg
from psycopg.rows import class_row

from inventory_sync.db.rows import InventoryItem, StoredLink, TypeCount

COLS = ("id, tenant_id, policy_type, external_id, display_name, category, platform, payload, content_hash,"
        " assignments_hash, first_seen_at, last_seen_at, last_seen_run_id, deleted_at")


def _like(text: str) -> str:
    """A substring pattern for ILIKE that matches `text` literally (its % and _ included)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def list_for_tenant(conn: psycopg.Connection, tenant_id: int, *, policy_type: str | None, include_deleted: bool,
                    after_id: int | None, limit: int, category: str | None = None,
                    search: str | None = None) -> list[InventoryItem]:
    with conn.cursor(row_factory=class_row(InventoryItem)) as cur:
        return cur.execute(
            f"SELECT {COLS} FROM inventory_items WHERE tenant_id = %(tenant)s"
            " AND (%(ptype)s::text IS NULL OR policy_type = %(ptype)s)"
            " AND (%(category)s::text IS NULL OR category = %(category)s)"
            " AND (%(like)s::text IS NULL OR display_name ILIKE %(like)s OR external_id ILIKE %(like)s)"
            " AND (%(deleted)s OR deleted_at IS NULL)"
            " AND (%(after)s::bigint IS NULL OR id > %(after)s) ORDER BY id LIMIT %(limit)s",
            {"tenant": tenant_id, "ptype": policy_type, "category": category,
             "like": _like(search) if search else None, "deleted": include_deleted, "after": after_id,
             "limit": limit},
        ).fetchall()


def get(conn: psycopg.Connection, tenant_id: int, item_id: int) -> InventoryItem | None:
    with conn.cursor(row_factory=class_row(InventoryItem)) as cur:
        return cur.execute(f"SELECT {COLS} FROM inventory_items WHERE id = %s AND tenant_id = %s",
                           (item_id, tenant_id)).fetchone()


def exists(conn: psycopg.Connection, tenant_id: int, item_id: int) -> bool:
    return conn.execute("SELECT 1 FROM inventory_items WHERE id = %s AND tenant_id = %s",
                        (item_id, tenant_id)).fetchone() is not None


def links_for_items(conn: psycopg.Connection, item_ids: list[int]) -> dict[int, list[StoredLink]]:
    rows = conn.execute(
        "SELECT item_id, link_type, target_type, target_id, properties FROM inventory_links"
        " WHERE item_id = ANY(%s) ORDER BY item_id, id",
        (item_ids,),
    ).fetchall()
    links: dict[int, list[StoredLink]] = {}
    for item_id, link_type, target_type, target_id, properties in rows:
        links.setdefault(item_id, []).append(StoredLink(link_type, target_type, target_id, properties))
    return links


def counts_by_type(conn: psycopg.Connection, tenant_id: int) -> list[TypeCount]:
    """Live and deleted items per policy type of the tenant."""
    with conn.cursor(row_factory=class_row(TypeCount)) as cur:
        return cur.execute(
            "SELECT policy_type, min(category) AS category, count(*) FILTER (WHERE deleted_at IS NULL) AS items,"
            " count(*) FILTER (WHERE deleted_at IS NOT NULL) AS deleted FROM inventory_items WHERE tenant_id = %s"
            " GROUP BY policy_type ORDER BY policy_type",
            (tenant_id,),
        ).fetchall()


def stored_markers(conn: psycopg.Connection, tenant_id: int, policy_type: str, fields: tuple[str, ...],
                   read_below: list[str], with_assignments: bool) -> dict[str, dict[str, object]]:
    """The change-marker fields of the type's live items as their stored payloads hold them (the payload is
    refreshed whenever a listed object's markers move), for the items whose payload holds everything read below
    them today (`read_below`: an item stored before a sub-resource was read is read whole again).
    `with_assignments`: only items whose assignments a sync has read."""
    rows = conn.execute(
        "SELECT external_id, jsonb_build_object(" + ", ".join(["%s::text, payload -> %s::text"] * len(fields)) + ")"
        " FROM inventory_items WHERE tenant_id = %s AND policy_type = %s AND deleted_at IS NULL"
        " AND payload ?& %s::text[] AND (NOT %s OR assignments_hash IS NOT NULL)",
        (*[v for f in fields for v in (f, f)], tenant_id, policy_type, read_below, with_assignments),
    ).fetchall()
    return {external_id: markers for external_id, markers in rows}
