"""The tenant overview for an administrator listing many tenants: a page of the plain tenant list (the
baseline); the same page with its overview (latest run, item count, missing permissions: four statements per
page, the item counts kept by finalize); for comparison the per-tenant way (three statements per tenant) and
counting the page's inventories on each request. Run: `python -m bench.tenant_overview [tenants] [items]`."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable

import psycopg

from bench.harness import fresh_database, postgres, tenants, timed
from inventory_sync.db import items, missing_permissions, runs
from inventory_sync.db import tenants as tenant_rows
from inventory_sync.db.connection import Database
from inventory_sync.db.rows import TenantWithRole
from inventory_sync.db.unit_of_work import SqlUnitOfWork
from inventory_sync.services import overview

RUNS = 7


def median_of(runs: int, fn: Callable[[], float]) -> tuple[float, list[float]]:
    samples = [fn() for _ in range(runs)]
    return statistics.median(samples), samples


def _fill(url: str, n_tenants: int, per_tenant: int) -> tuple[int, list[int]]:
    ids = tenants(url, n_tenants)
    with psycopg.connect(url, autocommit=True) as conn:
        admin = conn.execute("INSERT INTO users (subject) VALUES ('admin') RETURNING id").fetchone()
        assert admin is not None
        conn.execute(
            "INSERT INTO inventory_items (tenant_id, policy_type, external_id, payload, content_hash, deleted_at)"
            " SELECT t, 'deviceConfiguration', 'x' || g, '{}', repeat('0', 64),"
            " CASE WHEN g %% 10 = 0 THEN now() END FROM unnest(%s::bigint[]) t, generate_series(1, %s) g",
            (ids, per_tenant))
        for round_ in range(10):  # ten runs per tenant: the latest one has to be found, not the only one
            conn.execute(
                "WITH b AS (INSERT INTO bulk_operation_runs (tenant_id, resource, action, status, item_ids)"
                " SELECT t, 'inventory', 'sync', 'pending', '[]' FROM unnest(%s::bigint[]) t RETURNING id, tenant_id)"
                " INSERT INTO inventory_sync_runs (tenant_id, bulk_operation_run_id, selection_hash,"
                " selection_payload, status) SELECT tenant_id, id, repeat(%s, 64), '{}', 'running' FROM b",
                (ids, str(round_)))
        conn.execute("INSERT INTO tenant_missing_permissions (tenant_id, missing_permissions, source, observed_at)"
                     " SELECT t, '[\"DeviceManagementApps.Read.All\"]', 'run', now()"
                     " FROM unnest(%s::bigint[]) t WHERE t %% 3 = 0", (ids,))
        for tenant_id in ids:
            items.count_live(conn, tenant_id)  # what finalize does after each run
        conn.execute("VACUUM ANALYZE")
    return admin[0], ids


def main(n_tenants: int = 500, per_tenant: int = 1_000) -> None:
    with postgres() as server:
        url = fresh_database(server, "overview")
        admin, _ = _fill(url, n_tenants, per_tenant)
        db = Database(url, application_name="bench-overview")
        uow = SqlUnitOfWork(db)
        with psycopg.connect(url, autocommit=True) as conn:
            print(f"{n_tenants} tenants x {per_tenant} items (10% deleted), 10 runs each")
            print(f"{'page':>5} {'plain list':>11} {'overview':>10} {'per tenant':>11} {'counting':>10}"
                  f" {'overview/plain':>15} {'per tenant/overview':>20} {'counting/overview':>18}")
            for page in (50, 200):
                def plain(size: int = page) -> list[TenantWithRole]:
                    return tenant_rows.list_views(conn, admin, every_tenant=True, after_id=None, limit=size)

                def one_by_one(size: int = page) -> None:
                    for t in plain(size):
                        runs.latest_for_tenants(conn, [t.id])
                        items.live_counts(conn, [t.id])
                        missing_permissions.for_tenants(conn, [t.id])

                def counting(size: int = page) -> None:
                    ids = [t.id for t in plain(size)]
                    overview.of_tenants(uow, plain(size))
                    conn.execute("SELECT tenant_id, count(*) FROM inventory_items WHERE tenant_id = ANY(%s)"
                                 " AND deleted_at IS NULL GROUP BY tenant_id", (ids,)).fetchall()

                base, _ = median_of(RUNS, lambda: timed(plain))
                with_overview, _ = median_of(RUNS, lambda: timed(lambda: overview.of_tenants(uow, plain())))
                naive, _ = median_of(RUNS, lambda: timed(one_by_one))
                counted, _ = median_of(RUNS, lambda: timed(counting))
                print(f"{page:>5} {base * 1e3:>9.1f}ms {with_overview * 1e3:>8.1f}ms {naive * 1e3:>9.1f}ms"
                      f" {counted * 1e3:>8.1f}ms {with_overview / base:>14.1f}x {naive / with_overview:>19.2f}x"
                      f" {counted / with_overview:>17.1f}x")
        db.close()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
