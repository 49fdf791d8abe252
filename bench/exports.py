"""Exports: a whole inventory read through the CSV export's pages against the baseline of the list route's
pages (200 rows each, with their links), in the same run: rows per second of each, pages needed, and the
largest page and Python heap peak of one export page (what bounds the Lambda's memory and response).
Run: `python -m bench.exports [items]`."""

from __future__ import annotations

import statistics
import sys
import tracemalloc

import psycopg

from bench.harness import fresh_database, postgres, tenants, timed
from inventory_sync.db.connection import Database
from inventory_sync.db.items import ItemFilter
from inventory_sync.db.unit_of_work import SqlUnitOfWork
from inventory_sync.services import exports, queries
from inventory_sync.services.access import Identity

RUNS = 3


def _fill(url: str, n: int) -> int:
    [tenant] = tenants(url, 1)
    with psycopg.connect(url, autocommit=True) as conn:
        user = conn.execute("INSERT INTO users (subject) VALUES ('reader') RETURNING id").fetchone()
        assert user is not None
        conn.execute("INSERT INTO tenant_memberships (tenant_id, user_id, role) VALUES (%s, %s, 'reader')",
                     (tenant, user[0]))
        conn.execute(
            "INSERT INTO inventory_items (tenant_id, policy_type, external_id, display_name, category, platform,"
            " payload, content_hash) SELECT %s, 'deviceConfiguration', 'id-' || g, 'Policy \"' || g || '\", Windows',"
            " 'Configuration', 'windows', jsonb_build_object('id', 'id-' || g), repeat('0', 64)"
            " FROM generate_series(1, %s) g", (tenant, n))
        conn.execute(
            "INSERT INTO inventory_links (tenant_id, item_id, link_type, target_type, target_id, properties)"
            " SELECT %s, id, 'assignment', 'group', 'g-' || (id %% 50), '{}' FROM inventory_items", (tenant,))
        conn.execute("VACUUM ANALYZE")
    return tenant


def main(n: int = 50_000) -> None:
    with postgres() as server:
        url = fresh_database(server, "exports")
        tenant = _fill(url, n)
        user = Identity("reader", None, None)
        db = Database(url, application_name="bench-exports")
        conn = SqlUnitOfWork(db)
        try:
            def by_list() -> int:
                rows, cursor = 0, None
                while True:
                    page = queries.list_items(conn, user, tenant, ItemFilter(), cursor=cursor, limit=200)
                    rows += len(page.items)
                    cursor = page.next_cursor
                    if not cursor:
                        return rows

            pages: list[exports.ExportPage] = []

            def by_export() -> int:
                pages.clear()
                cursor = None
                while True:
                    page = exports.inventory(conn, user, tenant, ItemFilter(), "csv", sort="id", descending=False,
                                             cursor=cursor)
                    pages.append(page)
                    cursor = page.next_cursor
                    if not cursor:
                        return sum(p.rows for p in pages)

            listed = statistics.median(timed(by_list) for _ in range(RUNS))
            exported = statistics.median(timed(by_export) for _ in range(RUNS))
            assert sum(p.rows for p in pages) == n
            tracemalloc.start()
            exports.inventory(conn, user, tenant, ItemFilter(), "csv", sort="id", descending=False, cursor=None)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        finally:
            db.close()
        largest = max(len(p.body.encode()) for p in pages)
        print(f"{n} items: list route (200/page, {-(-n // 200)} pages) {n / listed:,.0f} rows/s;"
              f" CSV export ({len(pages)} pages) {n / exported:,.0f} rows/s = {listed / exported:.1f}x the list;"
              f" largest page {largest / 2**20:.2f} MiB (cap {exports.MAX_BYTES / 2**20:.1f} MiB),"
              f" heap peak of one page {peak / 2**20:.1f} MiB")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
