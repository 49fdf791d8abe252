"""SQL for idempotency_keys: the first 202 body of an Idempotency-Key, replayed for retries."""

from typing import Any, NamedTuple

import psycopg
from psycopg.types.json import Jsonb

from inventory_sync.db.locks import derive_key


class StoredResponse(NamedTuple):
    request_hash: str
    response: dict[str, Any]


def lock_and_get(conn: psycopg.Connection, user_id: int, tenant_id: int, key: str) -> StoredResponse | None:
    """Serialise requests with the same key (xact lock), then return the stored response if any."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (derive_key("idempotency", user_id, tenant_id, key),))
    row = conn.execute(
        "SELECT request_hash, response FROM idempotency_keys WHERE user_id = %s AND tenant_id = %s AND key = %s",
        (user_id, tenant_id, key),
    ).fetchone()
    return StoredResponse(row[0], row[1]) if row else None


def store(conn: psycopg.Connection, user_id: int, tenant_id: int, key: str, request_hash: str,
          bulk_operation_run_id: int, response: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO idempotency_keys (user_id, tenant_id, key, request_hash, bulk_operation_run_id, response)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (user_id, tenant_id, key, request_hash, bulk_operation_run_id, Jsonb(response)),
    )
