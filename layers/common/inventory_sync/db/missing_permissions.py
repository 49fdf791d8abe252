"""SQL for tenant_missing_permissions: the Graph application permissions a tenant's app lacks, as the latest
permission check or finished run found them (one row per tenant)."""

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb


class MissingPermissions(NamedTuple):
    tenant_id: int
    missing_permissions: list[str]
    source: str  # permission_check | run
    inventory_sync_run_id: int | None
    observed_at: datetime


_COLS = "tenant_id, missing_permissions, source, inventory_sync_run_id, observed_at"


def for_tenants(conn: psycopg.Connection, tenant_ids: list[int]) -> dict[int, MissingPermissions]:
    with conn.cursor(row_factory=class_row(MissingPermissions)) as cur:
        rows = cur.execute(f"SELECT {_COLS} FROM tenant_missing_permissions WHERE tenant_id = ANY(%s)",
                           (tenant_ids,)).fetchall()
    return {r.tenant_id: r for r in rows}


def record_check(conn: psycopg.Connection, tenant_id: int, missing: Iterable[str], checked_at: datetime) -> None:
    """A permission check probed every enabled type: its answer replaces what was known before it."""
    conn.execute(
        f"INSERT INTO tenant_missing_permissions ({_COLS}) VALUES (%s, %s, 'permission_check', NULL, %s)"
        " ON CONFLICT (tenant_id) DO UPDATE SET missing_permissions = EXCLUDED.missing_permissions,"
        " source = EXCLUDED.source, inventory_sync_run_id = NULL, observed_at = EXCLUDED.observed_at"
        " WHERE tenant_missing_permissions.observed_at < EXCLUDED.observed_at",
        (tenant_id, Jsonb(sorted(set(missing))), checked_at))


def record_run(conn: psycopg.Connection, tenant_id: int, run_id: int, finished_at: datetime,
               refused: Iterable[str], granted: Iterable[str]) -> None:
    """A finished run read some types only: the permissions Graph refused are missing, those of the types it
    read are not (a refusal wins within the run); the others stay as they were known. A run that finished
    before what is recorded was observed changes nothing (finalize can be late)."""
    refused, granted = set(refused), set(granted) - set(refused)
    conn.execute(
        f"INSERT INTO tenant_missing_permissions ({_COLS}) VALUES (%(tenant)s, %(refused)s, 'run', %(run)s, %(at)s)"
        " ON CONFLICT (tenant_id) DO UPDATE SET missing_permissions = (SELECT coalesce(jsonb_agg(p ORDER BY p),"
        "   '[]'::jsonb) FROM (SELECT p FROM jsonb_array_elements_text(tenant_missing_permissions.missing_permissions)"
        "   AS k(p) WHERE p <> ALL(%(granted)s::text[]) UNION SELECT jsonb_array_elements_text(%(refused)s)) u(p)),"
        " source = 'run', inventory_sync_run_id = %(run)s, observed_at = %(at)s"
        " WHERE tenant_missing_permissions.observed_at <= %(at)s",
        {"tenant": tenant_id, "refused": Jsonb(sorted(refused)), "granted": sorted(granted), "run": run_id,
         "at": finished_at})
