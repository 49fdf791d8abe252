"""Graph concurrency: a 30-type tenant, 100 ms latency per page on the stand-in, synced by the real engine
(database writes included) at SYNC_CONCURRENCY 1 and 8."""

from __future__ import annotations

import threading
from typing import Any

from bench.harness import RemoteStandIn, fresh_database, postgres, timed
from inventory_sync.adapters.graph.client import GraphClient
from inventory_sync.adapters.graph.credentials import ClientSecretCredential
from inventory_sync.adapters.graph.token import TokenProvider
from inventory_sync.db import tenants
from inventory_sync.db.connection import Database
from inventory_sync.domain.registry import POLICY_TYPES
from inventory_sync.services.engine import EngineConfig, SyncEngine

TYPES = [t for t in POLICY_TYPES if t.key != "settingsCatalogPolicy"][:30]  # 30 types, same shape of work


def sync_once(url: str, standin: RemoteStandIn, gid: str, concurrency: int) -> float:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        tenant = tenants.create(conn, name="bench", graph_tenant_id=gid, graph_client_id="c")
        bulk = conn.execute("INSERT INTO bulk_operation_runs (tenant_id, resource, action) VALUES (%s, 'inventory',"
                            " 'sync') RETURNING id", (tenant.id,)).fetchone()[0]
        run = conn.execute("INSERT INTO inventory_sync_runs (tenant_id, bulk_operation_run_id, selection_hash,"
                           " selection_payload) VALUES (%s, %s, repeat('a', 64), '{}') RETURNING id",
                           (tenant.id, bulk)).fetchone()[0]
    tokens = TokenProvider(standin.base_url, standin.base_url)
    credential = ClientSecretCredential("s")
    client = GraphClient(standin.base_url, lambda f: tokens.token(gid, "c", credential, force_refresh=f))
    db = Database(url, application_name=f"bench-graph-{concurrency}")
    engine = SyncEngine(db, client, EngineConfig(concurrency=concurrency), lambda r, p: None, lambda: False,
                        lambda: 1e9, threading.Event())
    holder: dict[str, Any] = {}
    elapsed = timed(lambda: holder.setdefault("r", engine.run(run, tenant.id, TYPES, False)))
    db.close()
    assert all(u.complete for u in holder["r"].units.values())
    return elapsed


def run(items_per_type: int = 250, latency_ms: int = 100) -> dict[str, Any]:
    standin = RemoteStandIn(latency_ms=latency_ms)
    counts = {t.key: items_per_type for t in TYPES}
    try:
        with postgres() as server:
            url = fresh_database(server, "graph_bench")
            results = {}
            for concurrency in (1, 8):
                gid = f"bench-{concurrency}.example"
                standin.add_tenant(gid, "c", "s", counts)
                results[concurrency] = sync_once(url, standin, gid, concurrency)
    finally:
        standin.stop()
    pages = len(TYPES) * -(-items_per_type // 100)
    ratio = results[1] / results[8]
    print(f"graph concurrency: {len(TYPES)} types, {pages} pages at {latency_ms} ms: concurrency 1 "
          f"{results[1]:.2f} s, concurrency 8 {results[8]:.2f} s → {ratio:.1f}x")
    return {"types": len(TYPES), "pages": pages, "latency_ms": latency_ms, "c1_s": results[1], "c8_s": results[8],
            "speedup": ratio}


if __name__ == "__main__":
    run()
