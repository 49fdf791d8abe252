"""Scheduled fan-out for N tenants: the set-based dispatch (chunked multi-row inserts, SendMessageBatch)
against a naive loop (one transaction and one SendMessage per tenant), same process, same database.

Two measurements:
* with moto SQS in-process. moto spends several ms per *message* (batched or not) and its cost grows
  with queue depth, so both variants rotate to a fresh queue every 500 messages to keep that cost flat;
  this bounds what batching can show through the emulator;
* database side only (a counting queue that does no I/O), which isolates what our code does per tenant.
Both also report SQS API calls, which is what real SQS charges latency for.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import boto3
import psycopg
from psycopg.types.json import Jsonb

from bench.harness import aws, fresh_database, postgres, tenants, timed
from inventory_sync.db.connection import Database
from inventory_sync.db.unit_of_work import SqlUnitOfWork
from inventory_sync.domain.registry import filter_runtime
from inventory_sync.domain.selection import full_inventory
from inventory_sync.services.dispatch import DispatchService

ROTATE_EVERY = 500


class CountingQueue:
    """A queue port that counts API calls; `sqs` set → also sends to moto, rotating queues."""

    def __init__(self, sqs: Any | None = None) -> None:
        self.sqs, self.calls, self.messages, self._url = sqs, 0, 0, None

    def _queue(self) -> str:
        if self._url is None or self.messages % ROTATE_EVERY < (self.messages - 10) % ROTATE_EVERY:
            self._url = self.sqs.create_queue(QueueName=f"run-{self.messages}")["QueueUrl"]
        assert self._url is not None
        return self._url

    def send(self, body: dict[str, Any]) -> None:
        self.calls += 1
        if self.sqs:
            self.sqs.send_message(QueueUrl=self._queue(), MessageBody=json.dumps(body, default=str))
        self.messages += 1

    def send_batch(self, bodies: Sequence[dict[str, Any]]) -> list[int]:
        for start in range(0, len(bodies), 10):
            chunk = bodies[start:start + 10]
            self.calls += 1
            if self.sqs:
                self.sqs.send_message_batch(QueueUrl=self._queue(), Entries=[
                    {"Id": str(i), "MessageBody": json.dumps(b, default=str)} for i, b in enumerate(chunk)])
            self.messages += len(chunk)
        return []


def naive(url: str, queue: CountingQueue, tenant_ids: list[int], resolved) -> None:
    selection = resolved.selection.model_dump()
    with psycopg.connect(url) as conn:
        for tenant_id in tenant_ids:
            with conn.transaction():
                bulk_id = conn.execute(
                    "INSERT INTO bulk_operation_runs (tenant_id, resource, action, item_ids, selection_hash, trigger,"
                    " correlation_id) VALUES (%s, 'inventory', 'sync', %s, %s, 'schedule', 'naive') RETURNING id",
                    (tenant_id, Jsonb([resolved.selection_hash]), resolved.selection_hash)).fetchone()[0]
                audit_id = conn.execute(
                    "INSERT INTO audit_logs (tenant_id, actor_type, action, resource_type, resource_id, status,"
                    " metadata) VALUES (%s, 'system', 'inventory.sync.dispatched', 'bulk_operation_run', %s,"
                    " 'success', %s) RETURNING id",
                    (tenant_id, str(bulk_id), Jsonb({"selection": selection}))).fetchone()[0]
                conn.execute("UPDATE bulk_operation_runs SET audit_log_id = %s WHERE id = %s", (audit_id, bulk_id))
                queue.send({"version": 1, "bulk_operation_run_id": bulk_id, "tenant_id": tenant_id, "user_id": None,
                            "selection": selection, "selection_hash": resolved.selection_hash, "trigger": "schedule",
                            "correlation_id": "naive", "dispatched_at": datetime.now(UTC).isoformat()})


def _pair(server, n: int, resolved, sqs) -> dict[str, float]:
    url = fresh_database(server, "fanout_fast")
    tenants(url, n)
    db = Database(url, application_name="bench-fanout")
    fast_queue = CountingQueue(sqs)
    service = DispatchService(SqlUnitOfWork(db), fast_queue, filter_runtime())
    fast = timed(lambda: service.dispatch_scheduled(resolved, "bench"))
    db.close()
    naive_url = fresh_database(server, "fanout_naive")
    ids = tenants(naive_url, n)
    slow_queue = CountingQueue(sqs)
    slow = timed(lambda: naive(naive_url, slow_queue, ids, resolved))
    assert fast_queue.messages == slow_queue.messages == n
    return {"set_based_s": fast, "naive_s": slow, "speedup": slow / fast, "set_based_calls": fast_queue.calls,
            "naive_calls": slow_queue.calls}


def run(n: int = 10_000, n_moto: int = 2_000) -> dict[str, Any]:
    resolved = full_inventory(filter_runtime())
    with postgres() as server:
        db_only = _pair(server, n, resolved, None)
        print(f"fan-out {n} tenants, database side: set-based {db_only['set_based_s']:.2f} s, naive "
              f"{db_only['naive_s']:.2f} s → {db_only['speedup']:.1f}x; SQS calls {db_only['set_based_calls']} vs "
              f"{db_only['naive_calls']}")
        with aws():
            with_moto = _pair(server, n_moto, resolved, boto3.client("sqs"))
        print(f"fan-out {n_moto} tenants, with moto SQS: set-based {with_moto['set_based_s']:.2f} s, naive "
              f"{with_moto['naive_s']:.2f} s → {with_moto['speedup']:.1f}x")
    return {"tenants": n, "tenants_moto": n_moto, "db_only": db_only, "with_moto": with_moto}


if __name__ == "__main__":
    import sys

    run(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
