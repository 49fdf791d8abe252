"""Graph concurrency: a 30-type tenant, 100 ms latency per round trip on the stand-in, synced by the real engine
(database writes included) at SYNC_CONCURRENCY 1 and 8.

The stand-in runs in its own process with every object generated before the clock starts (`graph_scale`), so
what it spends per request is encoding and HTTP; its CPU time is read from /proc and reported as its share of the
machine for each run: the ratio is the engine's, not the stand-in's."""

from __future__ import annotations

import os
import threading
from typing import Any

from bench.harness import fresh_database, postgres, timed
from bench.scale import CLIENT_ID, CLIENT_SECRET, StandInProcess, round_trips
from inventory_sync.adapters.graph.client import GraphClient
from inventory_sync.adapters.graph.credentials import ClientSecretCredential
from inventory_sync.adapters.graph.token import TokenProvider
from inventory_sync.db import tenants
from inventory_sync.db.connection import Database
from inventory_sync.domain.registry import POLICY_TYPES
from inventory_sync.services.engine import EngineConfig, SyncEngine

TYPES = [t for t in POLICY_TYPES if t.key != "settingsCatalogPolicy"][:30]  # 30 types, same shape of work


def sync_once(url: str, standin: StandInProcess, gid: str, concurrency: int) -> float:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        tenant = tenants.create(conn, name=gid, graph_tenant_id=gid, graph_client_id=CLIENT_ID)
        bulk = conn.execute("INSERT INTO bulk_operation_runs (tenant_id, resource, action) VALUES (%s, 'inventory',"
                            " 'sync') RETURNING id", (tenant.id,)).fetchone()[0]
        run = conn.execute("INSERT INTO inventory_sync_runs (tenant_id, bulk_operation_run_id, selection_hash,"
                           " selection_payload) VALUES (%s, %s, repeat('a', 64), '{}') RETURNING id",
                           (tenant.id, bulk)).fetchone()[0]
    tokens = TokenProvider(standin.base_url, standin.base_url)
    credential = ClientSecretCredential(CLIENT_SECRET)
    client = GraphClient(standin.base_url, lambda f: tokens.token(gid, CLIENT_ID, credential, force_refresh=f))
    db = Database(url, application_name=f"bench-graph-{concurrency}")
    engine = SyncEngine(db, client, EngineConfig(concurrency=concurrency), lambda r, p: None, lambda: False,
                        lambda: 1e9, threading.Event())
    holder: dict[str, Any] = {}
    elapsed = timed(lambda: holder.setdefault("r", engine.run(run, tenant.id, TYPES, False)))
    db.close()
    assert all(u.complete for u in holder["r"].units.values())
    return elapsed


def run(items_per_type: int = 250, latency_ms: int = 100) -> dict[str, Any]:
    counts = {t.key: items_per_type for t in TYPES}
    standin = StandInProcess(2, 0, latency_ms, "graph-concurrency", counts=counts)
    results: dict[int, dict[str, float]] = {}
    try:
        with postgres() as server:
            url = fresh_database(server, "graph_bench")
            for n, concurrency in enumerate((1, 8)):
                before, cpu = standin.stats(), standin.cpu_seconds()
                wall = sync_once(url, standin, standin.gid(n), concurrency)
                after = standin.stats()
                results[concurrency] = {
                    "s": wall, "requests": after["graph_requests"] - before.get("graph_requests", 0),
                    "round_trips": round_trips(after) - round_trips(before),
                    "standin_cpu_share": (standin.cpu_seconds() - cpu) / (wall * (os.cpu_count() or 1))}
    finally:
        standin.stop()
    pages = len(TYPES) * -(-items_per_type // 100)
    ratio = results[1]["s"] / results[8]["s"]
    print(f"graph concurrency: {len(TYPES)} types × {items_per_type} objects ({pages} list pages, "
          f"{results[1]['requests']} requests in {results[1]['round_trips']} round trips) at {latency_ms} ms: "
          f"concurrency 1 {results[1]['s']:.2f} s "
          f"(stand-in {100 * results[1]['standin_cpu_share']:.0f}% of the machine), concurrency 8 "
          f"{results[8]['s']:.2f} s (stand-in {100 * results[8]['standin_cpu_share']:.0f}%) → {ratio:.1f}x")
    return {"types": len(TYPES), "pages": pages, "latency_ms": latency_ms, "c1_s": results[1]["s"],
            "c8_s": results[8]["s"], "speedup": ratio, "requests": results[1]["requests"],
            "round_trips": results[1]["round_trips"],
            "standin_cpu_share_c1": results[1]["standin_cpu_share"],
            "standin_cpu_share_c8": results[8]["standin_cpu_share"]}


if __name__ == "__main__":
    run()
