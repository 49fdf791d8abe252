"""SQL for inventory_items and inventory_links: reads here; the bulk write path is in db/item_writer.py."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any, NamedTuple

import psycopg
from psycopg.rows import class_row

from inventory_sync.db.rows import InventoryItem, StoredLink, TypeCount

# `assigned` and `last_changed_at` are probes by key (inventory_links' identity, the change rows' item index):
# a page reads them for its own rows only
COLS = ("i.id, i.tenant_id, i.policy_type, i.external_id, i.display_name, i.category, i.platform, i.payload,"
        " i.content_hash, i.assignments_hash, i.first_seen_at, i.last_seen_at, i.last_seen_run_id, i.deleted_at,"
        " EXISTS (SELECT 1 FROM inventory_links l WHERE l.item_id = i.id AND l.link_type = 'assignment')"
        " AS assigned,"
        " (SELECT c.recorded_at FROM inventory_item_changes c WHERE c.inventory_item_id = i.id"
        "  ORDER BY c.id DESC LIMIT 1) AS last_changed_at")

# sortable columns: the SQL each sorts by (never null, so a keyset comparison works) and its type
SORTS: dict[str, tuple[str, str]] = {
    "id": ("i.id", "bigint"),
    "display_name": ("coalesce(i.display_name, '')", "text"),
    "policy_type": ("i.policy_type", "text"),
    "category": ("coalesce(i.category, '')", "text"),
    "platform": ("coalesce(i.platform, '')", "text"),
    "first_seen_at": ("i.first_seen_at", "timestamptz"),
    "last_seen_at": ("i.last_seen_at", "timestamptz"),
}


class ItemFilter(NamedTuple):
    """What the inventory list and its export narrow by (None: not narrowed)."""

    policy_type: str | None = None
    category: str | None = None
    search: str | None = None
    include_deleted: bool = False
    platform: str | None = None
    assigned: bool | None = None
    changed_since: datetime | None = None


class Keyset(NamedTuple):
    """Where a sorted page starts: after (value, id) in the sort's direction."""

    sort: str = "id"
    descending: bool = False
    after_value: Any = None
    after_id: int | None = None


def _like(text: str) -> str:
    """A substring pattern for ILIKE that matches `text` literally (its % and _ included)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _where(tenant_id: int, f: ItemFilter) -> tuple[str, dict[str, Any]]:
    sql = (" WHERE i.tenant_id = %(tenant)s"
           " AND (%(ptype)s::text IS NULL OR i.policy_type = %(ptype)s)"
           " AND (%(category)s::text IS NULL OR i.category = %(category)s)"
           " AND (%(like)s::text IS NULL OR i.display_name ILIKE %(like)s OR i.external_id ILIKE %(like)s)"
           " AND (%(deleted)s OR i.deleted_at IS NULL)"
           " AND (%(platform)s::text IS NULL OR i.platform = %(platform)s)"
           " AND (%(assigned)s::boolean IS NULL OR %(assigned)s = EXISTS (SELECT 1 FROM inventory_links l"
           "      WHERE l.item_id = i.id AND l.link_type = 'assignment'))")
    if f.changed_since is not None:
        # change rows of the runs that finished since (or still run): the run index, not a scan of the history
        sql += (" AND i.id IN (SELECT c.inventory_item_id FROM inventory_item_changes c"
                " WHERE c.tenant_id = %(tenant)s AND c.recorded_at >= %(since)s AND c.inventory_sync_run_id IN"
                " (SELECT r.id FROM inventory_sync_runs r WHERE r.tenant_id = %(tenant)s"
                "  AND (r.finished_at IS NULL OR r.finished_at >= %(since)s)))")
    return sql, {"tenant": tenant_id, "ptype": f.policy_type, "category": f.category,
                 "like": _like(f.search) if f.search else None, "deleted": f.include_deleted,
                 "platform": f.platform, "assigned": f.assigned, "since": f.changed_since}


def list_for_tenant(conn: psycopg.Connection, tenant_id: int, item_filter: ItemFilter, keyset: Keyset,
                    limit: int) -> list[InventoryItem]:
    where, params = _where(tenant_id, item_filter)
    column, kind = SORTS[keyset.sort]
    direction, compare = ("DESC", "<") if keyset.descending else ("ASC", ">")
    if keyset.after_id is not None:
        where += f" AND ({column}, i.id) {compare} (%(after_value)s::{kind}, %(after_id)s)"
        params |= {"after_value": keyset.after_value, "after_id": keyset.after_id}
    with conn.cursor(row_factory=class_row(InventoryItem)) as cur:
        return cur.execute(f"SELECT {COLS} FROM inventory_items i{where}"
                           f" ORDER BY {column} {direction}, i.id {direction} LIMIT %(limit)s",
                           params | {"limit": limit}).fetchall()


def count_for_tenant(conn: psycopg.Connection, tenant_id: int, item_filter: ItemFilter) -> int:
    where, params = _where(tenant_id, item_filter)
    row = conn.execute(f"SELECT count(*) FROM inventory_items i{where}", params).fetchone()
    return int(row[0]) if row else 0


def get(conn: psycopg.Connection, tenant_id: int, item_id: int) -> InventoryItem | None:
    with conn.cursor(row_factory=class_row(InventoryItem)) as cur:
        return cur.execute(f"SELECT {COLS} FROM inventory_items i WHERE i.id = %s AND i.tenant_id = %s",
                           (item_id, tenant_id)).fetchone()


def exists(conn: psycopg.Connection, tenant_id: int, item_id: int) -> bool:
    return conn.execute("SELECT 1 FROM inventory_items WHERE id = %s AND tenant_id = %s",
                        (item_id, tenant_id)).fetchone() is not None


def links_for_items(conn: psycopg.Connection, item_ids: list[int]) -> dict[int, list[StoredLink]]:
    """The items' links, each with its target's name where the inventory holds the target (filters, scope tags,
    policy set members; the built-in Default scope tag by its name). Groups are not inventoried: no name."""
    rows = conn.execute(
        "SELECT l.item_id, l.link_type, l.target_type, l.target_id, l.properties,"
        " CASE WHEN l.link_type = 'scope_tag' AND l.properties ? 'built_in' AND t.id IS NULL THEN 'Default'"
        " ELSE t.display_name END"
        " FROM inventory_links l LEFT JOIN inventory_items t ON t.tenant_id = l.tenant_id"
        " AND t.policy_type = l.target_type AND t.external_id = l.target_id"
        " WHERE l.item_id = ANY(%s) ORDER BY l.item_id, l.id",
        (item_ids,),
    ).fetchall()
    links: dict[int, list[StoredLink]] = {}
    for item_id, link_type, target_type, target_id, properties, name in rows:
        links.setdefault(item_id, []).append(StoredLink(link_type, target_type, target_id, properties, name))
    return links


def counts_by_type(conn: psycopg.Connection, tenant_id: int) -> list[TypeCount]:
    """Live and deleted items per policy type and category of the tenant: each item counted once, under the
    category the inventory lists it in."""
    with conn.cursor(row_factory=class_row(TypeCount)) as cur:
        return cur.execute(
            "SELECT policy_type, category, count(*) FILTER (WHERE deleted_at IS NULL) AS items,"
            " count(*) FILTER (WHERE deleted_at IS NOT NULL) AS deleted FROM inventory_items WHERE tenant_id = %s"
            " GROUP BY policy_type, category ORDER BY policy_type, category",
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


def live_counts(conn: psycopg.Connection, tenant_ids: list[int]) -> dict[int, int]:
    """Live items per tenant as counted when its latest run was finalized (one row each, whatever the size of
    the inventories); a tenant no run has finalized yet holds none."""
    rows = conn.execute("SELECT tenant_id, live_items FROM tenant_item_counts WHERE tenant_id = ANY(%s)",
                        (tenant_ids,)).fetchall()
    return {tenant_id: int(n) for tenant_id, n in rows}


def count_live(conn: psycopg.Connection, tenant_id: int) -> None:
    """Count the tenant's live items now (finalize, after a run): a later count is never replaced by an
    earlier one finalized late."""
    conn.execute(
        "INSERT INTO tenant_item_counts (tenant_id, live_items, counted_at) SELECT %(tenant)s, count(*),"
        " clock_timestamp() FROM inventory_items WHERE tenant_id = %(tenant)s AND deleted_at IS NULL"
        " ON CONFLICT (tenant_id) DO UPDATE SET live_items = EXCLUDED.live_items, counted_at = EXCLUDED.counted_at"
        " WHERE tenant_item_counts.counted_at <= EXCLUDED.counted_at",
        {"tenant": tenant_id})


def stream_for_tenant(conn: psycopg.Connection, tenant_id: int, item_filter: ItemFilter, keyset: Keyset,
                      batch: int) -> Iterator[InventoryItem]:
    """Rows in the list's order, `batch` at a time (an export reads until its response is full)."""
    while True:
        rows = list_for_tenant(conn, tenant_id, item_filter, keyset, batch)
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1]
        keyset = Keyset(keyset.sort, keyset.descending, sort_value(last, keyset.sort), last.id)


def sort_value(item: InventoryItem, sort: str) -> Any:
    """The value the keyset compares for `sort` (as the SQL computes it: nulls as '')."""
    value = getattr(item, sort)
    return "" if value is None else value
