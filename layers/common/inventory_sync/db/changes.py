"""SQL for inventory_item_changes: reads for the API, and bounded pruning. Rows are written by the bulk
write path (db/item_writer.py), in the transaction that changes the items."""

from datetime import datetime
from typing import Any, NamedTuple

import psycopg
from psycopg.rows import class_row

from inventory_sync.domain.changes import entries_of

COLS = ("id, tenant_id, inventory_sync_run_id, inventory_item_id, policy_type, external_id, display_name, change,"
        " previous_hash, new_hash, diff, previous_values_recorded, links_diff, recorded_at")


class ItemChange(NamedTuple):
    id: int
    tenant_id: int
    inventory_sync_run_id: int
    inventory_item_id: int
    policy_type: str
    external_id: str
    display_name: str | None
    change: str
    previous_hash: str | None
    new_hash: str | None
    diff: list[dict[str, Any]] | None
    previous_values_recorded: bool
    links_diff: dict[str, Any] | None
    recorded_at: datetime

    @property
    def entries(self) -> list[dict[str, Any]] | None:
        """The diff as "where: old → new" (domain/changes.py)."""
        return None if self.diff is None else entries_of(self.diff)


def list_for_run(conn: psycopg.Connection, tenant_id: int, run_id: int, *, change: str | None,
                 policy_type: str | None, after_id: int | None, limit: int) -> list[ItemChange]:
    with conn.cursor(row_factory=class_row(ItemChange)) as cur:
        return cur.execute(
            f"SELECT {COLS} FROM inventory_item_changes WHERE tenant_id = %(tenant)s"
            " AND inventory_sync_run_id = %(run)s AND (%(change)s::text IS NULL OR change = %(change)s)"
            " AND (%(ptype)s::text IS NULL OR policy_type = %(ptype)s)"
            " AND (%(after)s::bigint IS NULL OR id > %(after)s) ORDER BY id LIMIT %(limit)s",
            {"tenant": tenant_id, "run": run_id, "change": change, "ptype": policy_type, "after": after_id,
             "limit": limit},
        ).fetchall()


def count_for_run(conn: psycopg.Connection, tenant_id: int, run_id: int, *, change: str | None,
                  policy_type: str | None) -> int:
    row = conn.execute(
        "SELECT count(*) FROM inventory_item_changes WHERE tenant_id = %(tenant)s"
        " AND inventory_sync_run_id = %(run)s AND (%(change)s::text IS NULL OR change = %(change)s)"
        " AND (%(ptype)s::text IS NULL OR policy_type = %(ptype)s)",
        {"tenant": tenant_id, "run": run_id, "change": change, "ptype": policy_type}).fetchone()
    return int(row[0]) if row else 0


def history_of_item(conn: psycopg.Connection, tenant_id: int, item_id: int, *, before_id: int | None,
                    limit: int) -> list[ItemChange]:
    """Newest first."""
    with conn.cursor(row_factory=class_row(ItemChange)) as cur:
        return cur.execute(
            f"SELECT {COLS} FROM inventory_item_changes WHERE tenant_id = %(tenant)s"
            " AND inventory_item_id = %(item)s AND (%(before)s::bigint IS NULL OR id < %(before)s)"
            " ORDER BY id DESC LIMIT %(limit)s",
            {"tenant": tenant_id, "item": item_id, "before": before_id, "limit": limit},
        ).fetchall()


def prune(conn: psycopg.Connection, older_than_days: int, batch: int) -> int:
    """Delete at most `batch` change rows recorded more than `older_than_days` ago, oldest first (ids grow with
    time, so the primary key finds them). Rows a concurrent transaction holds are skipped, never waited for."""
    cur = conn.execute(
        "DELETE FROM inventory_item_changes WHERE id IN (SELECT id FROM inventory_item_changes"
        " WHERE recorded_at < now() - make_interval(days => %s) ORDER BY id LIMIT %s"
        " FOR UPDATE SKIP LOCKED)",
        (older_than_days, batch),
    )
    return cur.rowcount
