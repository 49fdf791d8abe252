"""Advisory lock keys and calls. Keys are 64-bit, derived from a namespace and the lock's identity."""

from __future__ import annotations

import hashlib

import psycopg


def derive_key(*parts: object) -> int:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def sync_key(tenant_id: int, selection_hash: str) -> int:
    """The sync lock (docs/architecture.md §6): one sync per (tenant, selection) at a time."""
    return derive_key("sync", tenant_id, selection_hash)


def dispatch_gate_key(bulk_operation_run_id: int) -> int:
    return derive_key("dispatch", bulk_operation_run_id)


def try_lock(conn: psycopg.Connection, key: int) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    return bool(row and row[0])


def unlock(conn: psycopg.Connection, key: int) -> bool:
    row = conn.execute("SELECT pg_advisory_unlock(%s)", (key,)).fetchone()
    return bool(row and row[0])


def is_held(conn: psycopg.Connection, key: int) -> bool:
    """Whether any session holds the session-level lock `key` in this database."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND classid = ((%(k)s >> 32) & 4294967295)::oid AND objid = (%(k)s & 4294967295)::oid"
        " AND objsubid = 1)",
        {"k": key},
    ).fetchone()
    return bool(row and row[0])


def hold_dispatch_gate(conn: psycopg.Connection, bulk_ids: list[int]) -> None:
    """Held by the dispatching transaction until it commits or rolls back (see wait_dispatch_gate)."""
    conn.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k ORDER BY k",
                 ([dispatch_gate_key(i) for i in bulk_ids],))


def wait_dispatch_gate(conn: psycopg.Connection, bulk_id: int) -> None:
    """Wait until the transaction that dispatched `bulk_id` has ended, so its rows are visible
    (committed) or known never to exist (rolled back). The message is sent inside that transaction."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (dispatch_gate_key(bulk_id),))


def attempt_key(bulk_operation_run_id: int) -> int:
    """Held by the live attempt of a dispatch: a second delivery of the same message, and the
    orphan sweep, can tell a live attempt from a dead one by it."""
    return derive_key("attempt", bulk_operation_run_id)
