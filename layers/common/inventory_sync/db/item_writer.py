"""The bulk write path of a sync: COPY a batch into session temp tables, then one set-based upsert.

``items_upserted_count`` counts rows inserted or whose content changed (or that come back after
being marked deleted); rows merely seen again only get ``last_seen_*`` refreshed. Links are
replaced for changed rows only (their content hash covers the assignments).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from inventory_sync.domain.items import ItemRecord

_SETUP = """
CREATE TEMP TABLE IF NOT EXISTS sync_stage_items (
    policy_type text NOT NULL, external_id text NOT NULL, display_name text, category text, platform text,
    payload jsonb NOT NULL, content_hash char(64) NOT NULL
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS sync_changed_items (
    id bigint NOT NULL, policy_type text NOT NULL, external_id text NOT NULL
) ON COMMIT DELETE ROWS;
"""

_UPSERT = """
WITH staged AS (
    SELECT DISTINCT ON (policy_type, external_id) * FROM sync_stage_items ORDER BY policy_type, external_id
), changed AS (
    INSERT INTO inventory_items AS i (tenant_id, policy_type, external_id, display_name, category, platform,
                                      payload, content_hash, first_seen_at, last_seen_at, last_seen_run_id)
    SELECT %(tenant)s, s.policy_type, s.external_id, s.display_name, s.category, s.platform, s.payload,
           s.content_hash, now(), now(), %(run)s
    FROM staged s
    ON CONFLICT (tenant_id, policy_type, external_id) DO UPDATE SET
        display_name = EXCLUDED.display_name, category = EXCLUDED.category, platform = EXCLUDED.platform,
        payload = EXCLUDED.payload, content_hash = EXCLUDED.content_hash, last_seen_at = EXCLUDED.last_seen_at,
        last_seen_run_id = EXCLUDED.last_seen_run_id, deleted_at = NULL
    WHERE i.content_hash <> EXCLUDED.content_hash OR i.deleted_at IS NOT NULL
    RETURNING i.id, i.policy_type, i.external_id
), remember AS (
    INSERT INTO sync_changed_items (id, policy_type, external_id) SELECT id, policy_type, external_id FROM changed
), seen AS (
    UPDATE inventory_items i SET last_seen_at = now(), last_seen_run_id = %(run)s
    FROM staged s
    WHERE i.tenant_id = %(tenant)s AND i.policy_type = s.policy_type AND i.external_id = s.external_id
      AND i.content_hash = s.content_hash AND i.deleted_at IS NULL
      AND i.last_seen_run_id IS DISTINCT FROM %(run)s
    RETURNING 1
)
SELECT s.policy_type, count(*), (SELECT count(*) FROM changed c WHERE c.policy_type = s.policy_type)
FROM staged s GROUP BY s.policy_type
"""

@dataclass(frozen=True)
class WriteResult:
    observed: int
    upserted: int


_prepared_sessions: set[tuple[int, int]] = set()


def _ensure_tables(conn: psycopg.Connection) -> None:
    """Session temp tables, created once per server session (they empty themselves at commit)."""
    session = (id(conn), conn.info.backend_pid)
    if session not in _prepared_sessions:
        conn.execute(_SETUP)
        _prepared_sessions.add(session)


def write(conn: psycopg.Connection, tenant_id: int, run_id: int,
          records: Sequence[ItemRecord]) -> dict[str, WriteResult]:
    """Upsert one batch inside the caller's transaction (one batch per transaction: the staging
    tables empty at commit). Returns counts per policy type."""
    if not records:
        return {}
    _ensure_tables(conn)
    with conn.cursor() as cur:
        with cur.copy("COPY sync_stage_items (policy_type, external_id, display_name, category, platform, payload,"
                      " content_hash) FROM STDIN") as copy:
            for r in records:
                copy.write_row((r.policy_type, r.external_id, r.display_name, r.category, r.platform,
                                r.payload_json, r.content_hash))
        rows = cur.execute(_UPSERT, {"tenant": tenant_id, "run": run_id}).fetchall()
        result = {ptype: WriteResult(observed, upserted) for ptype, observed, upserted in rows}
        if any(r.upserted for r in result.values()):
            _replace_links(cur, tenant_id, records)
    return result


def _replace_links(cur: psycopg.Cursor, tenant_id: int, records: Sequence[ItemRecord]) -> None:
    """Links of the changed items only: drop theirs, COPY the new ones straight into inventory_links."""
    changed = {(ptype, ext): item_id for item_id, ptype, ext in
               cur.execute("SELECT id, policy_type, external_id FROM sync_changed_items").fetchall()}
    cur.execute("DELETE FROM inventory_links WHERE item_id = ANY(%s)", (list(changed.values()),))
    seen: set[tuple[int, str, str, str]] = set()
    with cur.copy("COPY inventory_links (tenant_id, item_id, link_type, target_type, target_id, properties)"
                  " FROM STDIN") as copy:
        for r in records:
            item_id = changed.get((r.policy_type, r.external_id))
            if item_id is None:
                continue
            for link in r.links:
                key = (item_id, link.link_type, link.target_type, link.target_id)
                if key not in seen:  # the same item may come twice in one batch
                    seen.add(key)
                    copy.write_row((tenant_id, item_id, link.link_type, link.target_type, link.target_id,
                                    json.dumps(link.properties)))


def mark_deleted(conn: psycopg.Connection, tenant_id: int, policy_type: str, run_id: int) -> int:
    """After a complete listing of `policy_type`: whatever this run did not see is gone."""
    cur = conn.execute(
        "UPDATE inventory_items SET deleted_at = now() WHERE tenant_id = %s AND policy_type = %s"
        " AND deleted_at IS NULL AND last_seen_run_id IS DISTINCT FROM %s",
        (tenant_id, policy_type, run_id),
    )
    return cur.rowcount
