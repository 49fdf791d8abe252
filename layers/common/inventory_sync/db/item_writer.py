"""The bulk write path of a sync: COPY a batch into session temp tables, then one set-based upsert.

``items_upserted_count`` counts rows inserted, rows whose configuration (``content_hash``) or, when this
sync read them, assignments (``assignments_hash``) changed, and rows that come back after being marked
deleted. Rows merely seen again get ``last_seen_*`` refreshed, and their payload too when only its noise
(reporting fields, server timestamps) moved. A sync that did not read assignments keeps the stored ones:
their hash, their links and the payload's ``assignments``. Links of changed rows are replaced: those
from the configuration (scope tags, policy set members) always, those from assignments only when read.

Every row upserted or marked deleted leaves a change row (``inventory_item_changes``) in the same
transaction: the upsert itself says which rows changed and how (it reads their previous version in the
same statement), and only rows that really changed are diffed.

Syncs of one tenant whose selections share a type run at the same time (the sync lock is per selection), so
every write says when its Graph read began (``read_at``, the database's clock) and rows keep the time of the
read they are stored from: a change from an earlier read than the stored one is not applied (nor recorded).
A complete listing marks deleted only the rows no sync has sighted (``last_seen_at``) since it began
(decision 0008).
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import psycopg

from inventory_sync.domain.changes import ChangeKind, changes_between, link_changes
from inventory_sync.domain.items import CONTENT_LINK_TYPES, ItemRecord, Link
from inventory_sync.domain.registry import BY_KEY

_SETUP = """
CREATE TEMP TABLE IF NOT EXISTS sync_stage_items (
    policy_type text NOT NULL, external_id text NOT NULL, display_name text, category text, platform text,
    payload jsonb NOT NULL, content_hash char(64) NOT NULL, assignments_hash char(64), payload_hash char(64),
    item_id bigint,  -- the stored row's id, when there is one (found by the batch's look-up)
    read_at timestamptz NOT NULL
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS sync_changed_items (
    id bigint NOT NULL, policy_type text NOT NULL, external_id text NOT NULL, change text NOT NULL,
    display_name text, new_hash char(64), previous_hash char(64), previous_payload jsonb
) ON COMMIT DELETE ROWS;
"""

# The payload to store: the new one, keeping the stored assignments when this sync did not read them.
_PAYLOAD = """CASE WHEN {new}.assignments_hash IS NULL AND i.payload ? 'assignments'
        THEN {new}.payload || jsonb_build_object('assignments', i.payload -> 'assignments')
        ELSE {new}.payload END"""

_CHANGED = """(i.content_hash <> {new}.content_hash OR i.deleted_at IS NOT NULL
        OR ({new}.assignments_hash IS NOT NULL AND i.assignments_hash IS DISTINCT FROM {new}.assignments_hash))"""

# This read is not older than the one the stored row comes from (or its deletion): it may replace it.
_NEWER = "{new}.read_at >= COALESCE(i.read_at, '-infinity')"

_UPSERT = f"""
WITH changed AS (
    INSERT INTO inventory_items AS i (tenant_id, policy_type, external_id, display_name, category, platform,
                                      payload, content_hash, assignments_hash, payload_hash, first_seen_at,
                                      last_seen_at, last_seen_run_id, read_at)
    SELECT %(tenant)s, s.policy_type, s.external_id, s.display_name, s.category, s.platform, s.payload,
           s.content_hash, s.assignments_hash, s.payload_hash, now(), now(), %(run)s, s.read_at
    FROM sync_stage_items s
    ON CONFLICT (tenant_id, policy_type, external_id) DO UPDATE SET
        display_name = EXCLUDED.display_name, category = EXCLUDED.category, platform = EXCLUDED.platform,
        payload = {_PAYLOAD.format(new="EXCLUDED")}, content_hash = EXCLUDED.content_hash,
        assignments_hash = COALESCE(EXCLUDED.assignments_hash, i.assignments_hash),
        payload_hash = EXCLUDED.payload_hash, last_seen_at = EXCLUDED.last_seen_at,
        last_seen_run_id = EXCLUDED.last_seen_run_id, deleted_at = NULL, read_at = EXCLUDED.read_at
    WHERE {_CHANGED.format(new="EXCLUDED")} AND {_NEWER.format(new="EXCLUDED")}
    RETURNING i.id, i.policy_type, i.external_id, i.display_name, i.content_hash
), remember AS (
    -- `p` is the row as it was before this statement (every part of a statement sees the same snapshot)
    INSERT INTO sync_changed_items (id, policy_type, external_id, change, display_name, new_hash, previous_hash,
                                    previous_payload)
    SELECT c.id, c.policy_type, c.external_id,
           CASE WHEN p.id IS NULL THEN 'added' WHEN p.deleted_at IS NOT NULL THEN 'restored' ELSE 'changed' END,
           c.display_name, c.content_hash, p.content_hash, p.payload
    FROM changed c LEFT JOIN inventory_items p ON p.id = c.id
), seen AS (
    -- sighted only: unchanged, or changed by an earlier read than the stored one (which then stays as it is)
    UPDATE inventory_items i SET last_seen_at = now(), last_seen_run_id = %(run)s,
        read_at = GREATEST(i.read_at, s.read_at),
        display_name = CASE WHEN {_NEWER.format(new="s")} THEN s.display_name ELSE i.display_name END,
        category = CASE WHEN {_NEWER.format(new="s")} THEN s.category ELSE i.category END,
        platform = CASE WHEN {_NEWER.format(new="s")} THEN s.platform ELSE i.platform END,
        payload = CASE WHEN {_NEWER.format(new="s")} AND i.payload_hash IS DISTINCT FROM s.payload_hash
                       THEN {_PAYLOAD.format(new="s")} ELSE i.payload END,
        payload_hash = CASE WHEN {_NEWER.format(new="s")} THEN s.payload_hash ELSE i.payload_hash END
    FROM sync_stage_items s
    WHERE i.id = s.item_id  -- found by the batch's look-up (the tenant's rows only); by key, not by tenant scan
      AND NOT ({_CHANGED.format(new="s")} AND {_NEWER.format(new="s")})
    RETURNING 1
)
SELECT s.policy_type, count(*), (SELECT count(*) FROM changed c WHERE c.policy_type = s.policy_type)
FROM sync_stage_items s GROUP BY s.policy_type
"""

# Rows the look-up did not find but another sync inserted meanwhile (the INSERT above waited for it and left
# them alone when they were not older): this read is a sighting of them too. A statement of its own, whose
# snapshot sees them; GREATEST keeps whatever is later.
_SIGHT_INSERTED_MEANWHILE = """
UPDATE inventory_items i SET last_seen_at = now(), last_seen_run_id = %(run)s, read_at = GREATEST(i.read_at, s.read_at)
FROM sync_stage_items s
WHERE s.item_id IS NULL AND i.tenant_id = %(tenant)s AND i.policy_type = s.policy_type
  AND i.external_id = s.external_id
"""

# A re-sync's common case: rows stored exactly as listed get only the sighting, the payload is not sent again.
# Rows that changed or were marked deleted since the look-up are left for the upsert (not returned).
_SIGHT_UNCHANGED = """
UPDATE inventory_items i SET last_seen_at = now(), last_seen_run_id = %(run)s,
    read_at = GREATEST(i.read_at, to_timestamp(k.epoch))
FROM unnest(string_to_array(%(ids)s, ',')::bigint[], string_to_array(%(epochs)s, ',')::float8[],
            string_to_array(%(content)s, ','), string_to_array(%(payload)s, ','),
            string_to_array(%(assignments)s, ',')) AS k(id, epoch, content_hash, payload_hash, assignments_hash)
WHERE i.id = k.id AND i.deleted_at IS NULL AND i.content_hash = k.content_hash
  AND i.payload_hash IS NOT DISTINCT FROM k.payload_hash
  AND (k.assignments_hash = '' OR i.assignments_hash IS NOT DISTINCT FROM k.assignments_hash)
RETURNING i.id
"""


class WriteResult(NamedTuple):
    observed: int
    upserted: int


@dataclass(frozen=True, eq=False)  # identity: one per changed row of this batch
class _Changed:
    item_id: int
    change: ChangeKind
    previous_hash: str | None
    previous_payload: dict[str, Any] | None


def _ensure_tables(conn: psycopg.Connection) -> None:
    """Session temp tables, created once per server session (they empty themselves at commit). The session
    itself says whether it has them (one look-up per batch), so no process-wide record of sessions is kept and
    any connection — pooled or not — works."""
    row = conn.execute("SELECT to_regclass('pg_temp.sync_changed_items') IS NOT NULL").fetchone()
    if not (row and row[0]):
        conn.execute(_SETUP)


def write(conn: psycopg.Connection, tenant_id: int, run_id: int, records: Sequence[ItemRecord],
          read_at: Sequence[float] | None = None) -> dict[str, WriteResult]:
    """Upsert one batch inside the caller's transaction (one batch per transaction: the staging
    tables empty at commit). Returns counts per policy type.

    `read_at`, one per record: when the Graph read that returned it began, as epoch seconds on the
    database's clock (`database_clock`). None: now, for a caller whose reads no other sync overlaps."""
    if not records:
        return {}
    _ensure_tables(conn)
    epochs = list(read_at) if read_at is not None else [database_clock(conn)] * len(records)
    # an object listed twice in one batch (pages shifting under a listing) is written once, as last seen
    by_key = {(r.policy_type, r.external_id): (r, t) for r, t in zip(records, epochs, strict=True)}
    records = [r for r, _ in by_key.values()]
    read = {key: _timestamp(t) for key, (_, t) in by_key.items()}
    with conn.cursor() as cur:
        unchanged, stored, ids = _split_unchanged(cur, tenant_id, records)
        observed: dict[str, int] = {}
        if unchanged:
            sighted = _sight_unchanged(cur, run_id, unchanged, by_key)
            for item_id, r in unchanged.items():
                if item_id in sighted:
                    observed[r.policy_type] = observed.get(r.policy_type, 0) + 1
                else:  # changed or marked deleted since the look-up: the upsert decides
                    stored.append(r)
                    ids[(r.policy_type, r.external_id)] = item_id
        rows: list[tuple[str, int, int]] = []
        new = [r for r in stored if (r.policy_type, r.external_id) not in ids]
        added = _insert_new(cur, tenant_id, run_id, new, read) if new else None
        if added is not None:
            rows += [(ptype, n, n) for ptype, n in _per_type(new).items()]
            records = [r for r in stored if (r.policy_type, r.external_id) in ids]
        else:
            records = stored
        if records:
            with cur.copy("COPY sync_stage_items (policy_type, external_id, display_name, category, platform,"
                          " payload, content_hash, assignments_hash, payload_hash, item_id, read_at) FROM STDIN"
                          ) as copy:
                for r in records:
                    copy.write_row((r.policy_type, r.external_id, r.display_name, r.category, r.platform,
                                    r.payload_json, r.content_hash, r.assignments_hash, r.payload_hash,
                                    ids.get((r.policy_type, r.external_id)), read[(r.policy_type, r.external_id)]))
            # never prepared: after five runs psycopg would prepare it, and PostgreSQL's generic plan for it
            # hash-joins the tenant's whole inventory (30x slower at 100k items than the custom plan)
            rows += cur.execute(_UPSERT, {"tenant": tenant_id, "run": run_id}, prepare=False).fetchall()
            if any((r.policy_type, r.external_id) not in ids for r in records):
                cur.execute(_SIGHT_INSERTED_MEANWHILE, {"tenant": tenant_id, "run": run_id}, prepare=False)
        upserted: dict[str, int] = {}
        for ptype, seen, changed_rows in rows:
            observed[ptype] = observed.get(ptype, 0) + seen
            upserted[ptype] = upserted.get(ptype, 0) + changed_rows
        result = {ptype: WriteResult(n, upserted.get(ptype, 0)) for ptype, n in observed.items()}
        if any(r.upserted for r in result.values()):
            changed = _changed_rows(cur, records) if records else {}
            removed = _replace_links(cur, tenant_id, changed, added or {})
            _record_changes(cur, tenant_id, run_id, {**(added or {}), **changed}, removed)
    return result


def database_clock(conn: psycopg.Connection) -> float:
    """The database's clock now, as epoch seconds: the one timeline every sync's read times are on."""
    row = conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()
    assert row is not None
    return float(row[0])


def _timestamp(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _sight_unchanged(cur: psycopg.Cursor, run_id: int, unchanged: dict[int, ItemRecord],
                     by_key: dict[tuple[str, str], tuple[ItemRecord, float]]) -> set[int]:
    """Sight the rows stored exactly as listed; returns those still stored so (the rest go to the upsert)."""
    items = list(unchanged.items())
    rows = cur.execute(_SIGHT_UNCHANGED, {
        "run": run_id, "ids": ",".join(str(i) for i, _ in items),
        "epochs": ",".join(repr(by_key[(r.policy_type, r.external_id)][1]) for _, r in items),
        "content": ",".join(r.content_hash for _, r in items),
        "payload": ",".join(r.payload_hash for _, r in items),
        "assignments": ",".join(r.assignments_hash or "" for _, r in items)}, prepare=False).fetchall()
    return {row[0] for row in rows}


_SEP = "\x1f"  # ASCII unit separator


def _per_type(records: Sequence[ItemRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in records:
        counts[r.policy_type] = counts.get(r.policy_type, 0) + 1
    return counts


def _insert_new(cur: psycopg.Cursor, tenant_id: int, run_id: int, new: list[ItemRecord],
                read_at: dict[tuple[str, str], datetime]) -> dict[_Changed, ItemRecord] | None:
    """Objects the batch's look-up found nowhere: COPY them straight into inventory_items (a tenant's first
    sync is mostly these), with ids drawn from the table's own sequence first so that nothing has to look
    them up afterwards. Returns them as added; None, with nothing written, when another sync of the tenant
    inserted one of them meanwhile: then they take the staging upsert like the rest."""
    drawn = cur.execute("SELECT string_agg(nextval((SELECT pg_get_serial_sequence('inventory_items', 'id'))::regclass)"
                        "::text, ',') FROM generate_series(1, %s)", (len(new),), prepare=False).fetchone()
    item_ids = [int(i) for i in drawn[0].split(",")] if drawn and drawn[0] else []
    try:
        # a savepoint: a unique violation undoes this part only. COPY writes the identity column as given
        # (INSERT would need OVERRIDING SYSTEM VALUE)
        with cur.connection.transaction(), cur.copy(
                "COPY inventory_items (id, tenant_id, policy_type, external_id, display_name, category, platform,"
                " payload, content_hash, assignments_hash, payload_hash, last_seen_run_id, read_at) FROM STDIN"
                ) as copy:
            for item_id, r in zip(item_ids, new, strict=True):
                copy.write_row((item_id, tenant_id, r.policy_type, r.external_id, r.display_name, r.category,
                                r.platform, r.payload_json, r.content_hash, r.assignments_hash, r.payload_hash,
                                run_id, read_at[(r.policy_type, r.external_id)]))
    except psycopg.errors.UniqueViolation:
        return None
    return {_Changed(item_id, ChangeKind.ADDED, None, None): r for item_id, r in zip(item_ids, new, strict=True)}


def _split_unchanged(cur: psycopg.Cursor, tenant_id: int, records: list[ItemRecord]
                     ) -> tuple[dict[int, ItemRecord], list[ItemRecord], dict[tuple[str, str], int]]:
    """One look-up for the whole batch: ({row id: record} of objects stored exactly as listed, the rest,
    and the ids of the rest that are stored). The rest — new, changed, restored, or with only their noise
    moved — go through the staging upsert."""
    stored = {(ptype, ext): (item_id, content, assignments, payload, deleted) for
              item_id, ptype, ext, content, assignments, payload, deleted in cur.execute(
                  "SELECT i.id, i.policy_type, i.external_id, i.content_hash, i.assignments_hash, i.payload_hash,"
                  " i.deleted_at IS NOT NULL FROM unnest(string_to_array(%s, %s), string_to_array(%s, %s))"
                  " AS k(policy_type, external_id) JOIN inventory_items i ON i.tenant_id = %s"
                  " AND i.policy_type = k.policy_type AND i.external_id = k.external_id",
                  # two strings, not two arrays: psycopg dumps arrays element by element in Python (a key that
                  # held the separator would only be missed here, and then be written by the upsert as usual)
                  (_SEP.join(r.policy_type for r in records), _SEP, _SEP.join(r.external_id for r in records),
                   _SEP, tenant_id)).fetchall()}
    unchanged: dict[int, ItemRecord] = {}
    rest: list[ItemRecord] = []
    ids: dict[tuple[str, str], int] = {}
    for r in records:
        row = stored.get((r.policy_type, r.external_id))
        if (row is not None and not row[4] and row[1] == r.content_hash and row[3] == r.payload_hash
                and (r.assignments_hash is None or row[2] == r.assignments_hash)):
            unchanged[row[0]] = r
        else:
            rest.append(r)
            if row is not None:
                ids[(r.policy_type, r.external_id)] = row[0]
    return unchanged, rest, ids


def _changed_rows(cur: psycopg.Cursor, records: Sequence[ItemRecord]) -> dict[_Changed, ItemRecord]:
    by_key = {(r.policy_type, r.external_id): r for r in records}
    rows = cur.execute("SELECT id, policy_type, external_id, change, previous_hash, previous_payload"
                       " FROM sync_changed_items").fetchall()
    return {_Changed(item_id, ChangeKind(change), previous_hash, previous_payload): by_key[(ptype, ext)]
            for item_id, ptype, ext, change, previous_hash, previous_payload in rows}


def _replace_links(cur: psycopg.Cursor, tenant_id: int, changed: dict[_Changed, ItemRecord],
                   added: dict[_Changed, ItemRecord]) -> dict[int, list[Link]]:
    """Links of the changed items only: drop those this sync re-read, COPY the new ones into inventory_links
    (items just added have none to drop). Returns the links dropped, per item."""
    all_links = [c.item_id for c, r in changed.items() if r.assignments_read]
    content_only = [c.item_id for c, r in changed.items() if not r.assignments_read]
    removed: list[tuple[Any, ...]] = []
    returning = " RETURNING item_id, link_type, target_type, target_id, link_key, properties"
    # two statements, not one with OR: an OR of the two lists makes the planner scan the whole table
    if all_links:
        removed += cur.execute("DELETE FROM inventory_links WHERE item_id = ANY(%s::bigint[])" + returning,
                               (all_links,)).fetchall()
    if content_only:
        removed += cur.execute("DELETE FROM inventory_links WHERE item_id = ANY(%s::bigint[])"
                               " AND link_type = ANY(%s)" + returning,
                               (content_only, sorted(CONTENT_LINK_TYPES))).fetchall()
    with cur.copy("COPY inventory_links (tenant_id, item_id, link_type, target_type, target_id, link_key,"
                  " properties) FROM STDIN") as copy:
        for c, r in (*changed.items(), *added.items()):
            for link in r.links:
                if r.assignments_read or link.link_type in CONTENT_LINK_TYPES:
                    copy.write_row((tenant_id, c.item_id, link.link_type, link.target_type, link.target_id,
                                    link.key, json.dumps(link.properties)))
    by_item: dict[int, list[Link]] = {}
    for item_id, link_type, target_type, target_id, key, properties in removed:
        by_item.setdefault(item_id, []).append(Link(link_type, target_type, target_id, properties, key))
    return by_item


def _record_changes(cur: psycopg.Cursor, tenant_id: int, run_id: int, changed: dict[_Changed, ItemRecord],
                    removed: dict[int, list[Link]]) -> None:
    """One change row per changed item: for items that existed before, the diffs of their configuration
    and links (new items have nothing to diff)."""
    with cur.copy("COPY inventory_item_changes (tenant_id, inventory_sync_run_id, inventory_item_id, policy_type,"
                  " external_id, display_name, change, previous_hash, new_hash, diff, links_diff,"
                  " previous_values_recorded) FROM STDIN") as copy:
        for c, r in changed.items():
            diff = links = None
            if c.previous_payload is not None:
                ptype = BY_KEY[r.policy_type]
                diff = json.dumps(changes_between(ptype, c.previous_payload, r.payload))
                new_links = [link for link in r.links if r.assignments_read or link.link_type in CONTENT_LINK_TYPES]
                links = json.dumps(link_changes(removed.get(c.item_id, []), new_links))
            copy.write_row((tenant_id, run_id, c.item_id, r.policy_type, r.external_id, r.display_name,
                            c.change.value, c.previous_hash, r.content_hash, diff, links, True))


def mark_deleted(conn: psycopg.Connection, tenant_id: int, policy_type: str, run_id: int, *, listing_began: float
                 ) -> int:
    """After a complete listing of `policy_type` that began after `listing_began` (epoch seconds, the database's
    clock): whatever no sync has sighted since is gone (and recorded so). A sighting is dated by the transaction
    that wrote it (`last_seen_at`, after its read ended), so a row seen since — by this listing or by an
    overlapping sync, however long its read took — stays. The deletion is stamped as read now, after every
    read of the listing: only a read that begins later brings the row back."""
    log = """, logged AS (
        INSERT INTO inventory_item_changes (tenant_id, inventory_sync_run_id, inventory_item_id, policy_type,
                                            external_id, display_name, change, previous_hash,
                                            previous_values_recorded)
        SELECT %(tenant)s, %(run)s, id, policy_type, external_id, display_name, 'deleted', content_hash, true
        FROM gone
    )"""
    row = conn.execute(
        "WITH gone AS (UPDATE inventory_items SET deleted_at = now(), read_at = clock_timestamp()"
        " WHERE tenant_id = %(tenant)s AND policy_type = %(ptype)s AND deleted_at IS NULL"
        " AND last_seen_at < %(began)s"
        " RETURNING id, policy_type, external_id, display_name, content_hash)" + log +
        " SELECT count(*) FROM gone",
        {"tenant": tenant_id, "ptype": policy_type, "run": run_id, "began": _timestamp(listing_began)},
    ).fetchone()
    return row[0] if row else 0


def sight(conn: psycopg.Connection, tenant_id: int, run_id: int, policy_type: str, external_ids: Sequence[str]
          ) -> int:
    """Objects an incremental run listed but did not read below (their markers had not moved): seen by this
    run, their stored configuration, hashes and links kept as they are. Returns how many are stored live."""
    if not external_ids:
        return 0
    cur = conn.execute(
        "UPDATE inventory_items SET last_seen_at = now(), last_seen_run_id = %s WHERE tenant_id = %s"
        " AND policy_type = %s AND external_id = ANY(string_to_array(%s, %s)) AND deleted_at IS NULL",
        (run_id, tenant_id, policy_type, _SEP.join(external_ids), _SEP), prepare=False)
    return cur.rowcount
