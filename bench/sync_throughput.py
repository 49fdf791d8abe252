"""Sync throughput and memory.

1. End to end: a tenant of N items on the Graph stand-in (its own process, no latency) synced by the real
   engine into PostgreSQL; items/second and peak RSS, each size in a fresh process (10,000 vs 100,000).
2. The database write path alone, on the same rows, against two references:
   * row by row: one autocommit INSERT … ON CONFLICT DO UPDATE per item (an ORM update_or_create loop);
   * raw COPY into the same indexed table (the practical limit here).
3. A re-sync with change sets on: the same rows written again after 10% of them changed a real setting,
   against the same two references writing that second version (row by row over the first version).
"""

from __future__ import annotations

import functools
import json
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg

from bench.harness import RemoteStandIn, fresh_database, postgres, timed
from inventory_sync.db import item_writer, tenants
from inventory_sync.db.connection import Database
from inventory_sync.domain.items import ItemRecord, to_record
from inventory_sync.domain.registry import BY_KEY
from inventory_sync.services.engine import EngineConfig, SyncEngine
from invsync_dev.local.graph_standin import GraphStandIn, StandInTenant, large_counts

KEYS = ["deviceConfiguration", "mobileApp", "deviceCompliancePolicy", "windowsFeatureUpdateProfile"]


REPEATS = 3  # timed runs per variant of the write path; the median is reported


def _rss_mb() -> float:
    """Peak RSS of this process (VmHWM: unlike ru_maxrss it does not inherit the parent's peak across exec)."""
    for line in open("/proc/self/status").read().splitlines():  # noqa: SIM115
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _tenant_and_run(url: str, gid: str) -> tuple[int, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        tenant = tenants.create(conn, name=gid, graph_tenant_id=gid, graph_client_id="c")
        bulk = conn.execute("INSERT INTO bulk_operation_runs (tenant_id, resource, action) VALUES (%s, 'inventory',"
                            " 'sync') RETURNING id", (tenant.id,)).fetchone()[0]
        run = conn.execute("INSERT INTO inventory_sync_runs (tenant_id, bulk_operation_run_id, selection_hash,"
                           " selection_payload) VALUES (%s, %s, repeat('a', 64), '{}') RETURNING id",
                           (tenant.id, bulk)).fetchone()[0]
    return tenant.id, run


def child(url: str, graph_url: str, gid: str, n: int) -> None:
    """One end-to-end sync in this (fresh) process; prints JSON."""
    from inventory_sync.adapters.graph.client import GraphClient
    from inventory_sync.adapters.graph.credentials import ClientSecretCredential
    from inventory_sync.adapters.graph.token import TokenProvider

    baseline = _rss_mb()
    tenant_id, run_id = _tenant_and_run(url, gid)
    tokens = TokenProvider(graph_url, graph_url)
    credential = ClientSecretCredential("s")
    client = GraphClient(graph_url, lambda f: tokens.token(gid, "c", credential, force_refresh=f))
    db = Database(url, application_name="bench-e2e")
    engine = SyncEngine(db, client, EngineConfig(concurrency=8), lambda r, p: None, lambda: False, lambda: 1e9,
                        threading.Event())
    units = [BY_KEY[k] for k in KEYS]
    holder: dict[str, Any] = {}
    cpu = time.process_time()
    elapsed = timed(lambda: holder.setdefault("r", engine.run(run_id, tenant_id, units, True)))
    cpu = time.process_time() - cpu
    totals = holder["r"].totals()
    assert totals.observed == n, totals
    print(json.dumps({"n": n, "seconds": elapsed, "items_per_s": n / elapsed, "cpu_us_per_item": cpu / n * 1e6,
                      "rss_baseline_mb": baseline,
                      "rss_peak_mb": _rss_mb(), "rss_growth_mb": _rss_mb() - baseline}))


def stages_child(url: str, graph_url: str, gid: str, n: int) -> None:
    """Each stage of the pipeline alone, in this (fresh) process, on the same tenant the whole sync reads:
    Graph pages fetched and decoded (8 workers, as the engine); records built and hashed; rows written
    with their links (the engine's batches). Each stage's CPU time is this process's (all its threads; the
    stand-in's and PostgreSQL's are their own processes'). Prints JSON."""
    from concurrent.futures import ThreadPoolExecutor

    from inventory_sync.adapters.graph.client import GraphClient
    from inventory_sync.adapters.graph.credentials import ClientSecretCredential
    from inventory_sync.adapters.graph.reader import read_pages
    from inventory_sync.adapters.graph.token import TokenProvider

    tokens = TokenProvider(graph_url, graph_url)
    credential = ClientSecretCredential("s")
    client = GraphClient(graph_url, lambda f: tokens.token(gid, "c", credential, force_refresh=f))
    units = [BY_KEY[k] for k in KEYS]
    fetched: dict[str, list[dict[str, Any]]] = {}

    def fetch() -> None:
        with ThreadPoolExecutor(max_workers=8) as pool:
            for unit, pages in zip(units, pool.map(lambda u: list(read_pages(client, u, True)), units), strict=True):
                fetched[unit.key] = [item for page in pages for item in page]

    cpu = {"fetch": time.process_time()}
    t_fetch = timed(fetch)
    cpu["fetch"] = time.process_time() - cpu["fetch"]
    records: list = []
    cpu["build"] = time.process_time()
    t_build = timed(lambda: records.extend(to_record(u, item, True) for u in units for item in fetched[u.key]))
    cpu["build"] = time.process_time() - cpu["build"]
    fetched.clear()
    tenant_id, run_id = _tenant_and_run(url, f"stages-{gid}")
    db = Database(url, application_name="bench-stages")
    batch = EngineConfig().batch_rows

    def write() -> None:
        for start in range(0, len(records), batch):
            with db.transaction() as conn:
                item_writer.write(conn, tenant_id, run_id, records[start:start + batch])

    cpu["write"] = time.process_time()
    t_write = timed(write)
    cpu["write"] = time.process_time() - cpu["write"]
    db.close()
    assert len(records) == n, len(records)
    print(json.dumps({"n": n, "fetch_s": t_fetch, "build_s": t_build, "write_s": t_write,
                      "cpu_us_per_item": {k: v / n * 1e6 for k, v in cpu.items()},
                      "links": sum(len(r.links) for r in records)}))


def end_to_end(url: str, sizes: list[int]) -> list[dict[str, Any]]:
    standin = RemoteStandIn()
    results = []
    try:
        for n in sizes:
            gid = f"e2e-{n}.example"
            standin.add_tenant(gid, "c", "s", large_counts(n, KEYS))
            out = subprocess.run([sys.executable, "-m", "bench.sync_throughput", "--child", url, standin.base_url,
                                  gid, str(n)], capture_output=True, text=True, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"end to end, {n} items: {result['seconds']:.1f} s, {result['items_per_s']:.0f} items/s, "
                  f"peak RSS {result['rss_peak_mb']:.0f} MB (+{result['rss_growth_mb']:.0f} MB over the "
                  f"{result['rss_baseline_mb']:.0f} MB after imports)")
            # the same tenant again, each stage alone (in its own process: it holds every item at once)
            out = subprocess.run([sys.executable, "-m", "bench.sync_throughput", "--stages", url, standin.base_url,
                                  gid, str(n)], capture_output=True, text=True, check=True)
            stages = json.loads(out.stdout.strip().splitlines()[-1])
            rates = {"fetch": n / stages["fetch_s"], "build": n / stages["build_s"], "write": n / stages["write_s"]}
            result["stages"] = {**stages, "items_per_s": rates}
            us = stages["cpu_us_per_item"]
            print(f"  stages alone, CPU per item: fetch + decode {us['fetch']:.0f} µs, build + hash "
                  f"{us['build']:.0f} µs, write with links {us['write']:.0f} µs (sum {sum(us.values()):.0f} µs); "
                  f"the whole sync {result['cpu_us_per_item']:.0f} µs")
            results.append(result)
    finally:
        standin.stop()
    return results


def records(n: int, changed_every: int = 0) -> Iterator[ItemRecord]:
    """The stand-in's objects as records; with `changed_every`, every so many objects have a setting changed."""
    gen = GraphStandIn.__new__(GraphStandIn)  # only its generator methods are used; no server
    tenant = StandInTenant("rows.example", "c", "s", large_counts(n, KEYS))
    for key, count in tenant.counts.items():
        ptype = BY_KEY[key]
        for index in range(count):
            if changed_every and index % changed_every == 0:
                tenant.versions[(key, index)] = 2
            yield to_record(ptype, gen.item(tenant, ptype, index, expand=True))


def raw_copy(url: str, tenant_id: int, rows: list) -> None:
    """The practical limit: the rows COPYed into the indexed table, nothing else."""
    with psycopg.connect(url) as conn, conn.cursor() as cur, cur.copy(
            "COPY inventory_items (tenant_id, policy_type, external_id, display_name, category, platform,"
            " payload, content_hash, assignments_hash, payload_hash) FROM STDIN") as copy:
        for r in rows:
            copy.write_row((tenant_id, r.policy_type, r.external_id, r.display_name, r.category, r.platform,
                            r.payload_json, r.content_hash, r.assignments_hash, r.payload_hash))


def row_by_row(url: str, tenant_id: int, run_id: int, rows: list) -> None:
    """The ORM-style reference: one autocommit INSERT … ON CONFLICT DO UPDATE per item."""
    with psycopg.connect(url, autocommit=True) as conn:
        for r in rows:
            conn.execute(
                "INSERT INTO inventory_items (tenant_id, policy_type, external_id, display_name, category,"
                " platform, payload, content_hash, assignments_hash, payload_hash, last_seen_run_id)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (tenant_id, policy_type, external_id) DO UPDATE SET display_name ="
                " EXCLUDED.display_name, payload = EXCLUDED.payload, content_hash = EXCLUDED.content_hash,"
                " assignments_hash = EXCLUDED.assignments_hash, payload_hash = EXCLUDED.payload_hash,"
                " last_seen_at = now(), last_seen_run_id = EXCLUDED.last_seen_run_id",
                (tenant_id, r.policy_type, r.external_id, r.display_name, r.category, r.platform,
                 r.payload_json, r.content_hash, r.assignments_hash, r.payload_hash, run_id))


def write_path(url: str, n: int, row_by_row_max: int, with_links: bool = False) -> dict[str, Any]:
    """The references write item rows only; so does ours unless `with_links` (then it also maintains the
    items' dependency links, work the references do not do)."""
    rows = list(records(n))
    if not with_links:
        rows = [r._replace(links=()) for r in rows]
    db = Database(url, application_name="bench-writer")

    batch = EngineConfig().batch_rows  # what the engine writes per transaction
    ours_times, copy_times = [], []
    for rep in range(REPEATS):  # interleaved, each into a fresh tenant of the same table; medians reported
        ours_tenant, ours_run = _tenant_and_run(url, f"ours-{n}-{rep}")

        def ours(tenant: int = ours_tenant, run: int = ours_run) -> None:
            for start in range(0, n, batch):
                with db.transaction() as conn:
                    item_writer.write(conn, tenant, run, rows[start:start + batch])

        ours_times.append(timed(ours))
        copy_tenant, _ = _tenant_and_run(url, f"copy-{n}-{rep}")
        copy_times.append(timed(functools.partial(raw_copy, url, copy_tenant, rows)))
    db.close()
    t_ours, t_copy = statistics.median(ours_times), statistics.median(copy_times)

    rbr_n = min(n, row_by_row_max)
    rbr_tenant, rbr_run = _tenant_and_run(url, f"rbr-{n}")

    # extrapolated when only a prefix was timed
    t_rbr = timed(lambda: row_by_row(url, rbr_tenant, rbr_run, rows[:rbr_n])) * (n / rbr_n)
    result = {"n": n, "with_links": with_links, "links": sum(len(r.links) for r in rows), "ours_s": t_ours,
              "copy_s": t_copy, "row_by_row_s": t_rbr, "row_by_row_measured": rbr_n,
              "ours_rows_per_s": n / t_ours, "copy_rows_per_s": n / t_copy, "row_by_row_rows_per_s": n / t_rbr,
              "vs_row_by_row": t_rbr / t_ours, "share_of_copy": t_copy / t_ours}
    label = f"write path{' (ours with links)' if with_links else ''}"
    print(f"{label}, {n} rows: ours {result['ours_rows_per_s']:.0f} rows/s, raw COPY "
          f"{result['copy_rows_per_s']:.0f} rows/s, row-by-row {result['row_by_row_rows_per_s']:.0f} rows/s"
          f"{'' if rbr_n == n else f' (timed on the first {rbr_n})'} → {result['vs_row_by_row']:.1f}x row-by-row,"
          f" {100 * result['share_of_copy']:.0f}% of COPY")
    return result


def _without_change_sets(write: Any) -> float:
    """`write` timed with the change-set rows left out: what recording them costs is the difference. The writer
    has no such switch (production always records them); the benchmark swaps the recording out here."""
    recording = item_writer._record_changes
    item_writer._record_changes = lambda *args, **kwargs: None
    try:
        return timed(write)
    finally:
        item_writer._record_changes = recording


def resync_with_changes(url: str, n: int, changed_every: int = 10, row_by_row_max: int = 20_000) -> dict[str, Any]:
    """Second write of the same n items, 1 in `changed_every` with a setting changed: ours with change sets on
    (and off, for the cost of recording them) against row by row and raw COPY writing that second version."""
    first, second = list(records(n)), list(records(n, changed_every))
    batch = EngineConfig().batch_rows

    def prepared(label: str) -> tuple[int, int, Database]:
        tenant, run = _tenant_and_run(url, f"{label}-{n}")
        db = Database(url, application_name=f"bench-{label}")
        for start in range(0, n, batch):
            with db.transaction() as conn:
                item_writer.write(conn, tenant, run, first[start:start + batch])
        _, second_run = _tenant_and_run(url, f"{label}-{n}-again")
        return tenant, second_run, db

    def ours(record_changes: bool, rep: int) -> tuple[float, int]:
        tenant, run, db = prepared(f"{'changes' if record_changes else 'nochanges'}-{rep}")
        changed = 0

        def write() -> None:
            nonlocal changed
            for start in range(0, n, batch):
                with db.transaction() as conn:
                    written = item_writer.write(conn, tenant, run, second[start:start + batch])
                    changed += sum(w.upserted for w in written.values())

        elapsed = timed(write) if record_changes else _without_change_sets(write)
        db.close()
        return elapsed, changed

    on, off = [], []
    for rep in range(REPEATS):  # interleaved; medians reported
        on.append(ours(True, rep))
        off.append(ours(False, rep))
    t_on, changed = statistics.median(t for t, _ in on), on[0][1]
    t_off = statistics.median(t for t, _ in off)
    copy_times = []
    for rep in range(REPEATS):
        copy_tenant, _ = _tenant_and_run(url, f"copy-again-{n}-{rep}")
        copy_times.append(timed(functools.partial(raw_copy, url, copy_tenant, second)))
    t_copy = statistics.median(copy_times)
    rbr_n = min(n, row_by_row_max)
    rbr_tenant, rbr_run, rbr_db = prepared("rbr")
    rbr_db.close()

    t_rbr = timed(lambda: row_by_row(url, rbr_tenant, rbr_run, second[:rbr_n])) * (n / rbr_n)
    result = {"n": n, "changed": changed, "ours_s": t_on, "ours_without_changes_s": t_off, "copy_s": t_copy,
              "row_by_row_s": t_rbr, "row_by_row_measured": rbr_n, "ours_rows_per_s": n / t_on,
              "copy_rows_per_s": n / t_copy, "row_by_row_rows_per_s": n / t_rbr, "vs_row_by_row": t_rbr / t_on,
              "share_of_copy": t_copy / t_on, "change_set_cost": t_on / t_off}
    print(f"re-sync with change sets, {n} rows ({changed} changed): ours {result['ours_rows_per_s']:.0f} rows/s"
          f" ({result['change_set_cost']:.2f}x the time without change sets), raw COPY "
          f"{result['copy_rows_per_s']:.0f} rows/s, row-by-row {result['row_by_row_rows_per_s']:.0f} rows/s"
          f"{'' if rbr_n == n else f' (timed on the first {rbr_n})'} → {result['vs_row_by_row']:.1f}x row-by-row,"
          f" {100 * result['share_of_copy']:.0f}% of COPY")
    return result


def run(sizes: tuple[int, ...] = (10_000, 100_000), row_by_row_max: int = 100_000) -> dict[str, Any]:
    with postgres() as server:
        url = fresh_database(server, "throughput")
        e2e = end_to_end(url, list(sizes))
        writes = [write_path(fresh_database(server, f"writes_{n}"), n, row_by_row_max) for n in sizes]
        with_links = write_path(fresh_database(server, "writes_links"), sizes[0], min(sizes[0], row_by_row_max),
                                with_links=True)
        resync = resync_with_changes(fresh_database(server, "resync"), sizes[-1])
    return {"end_to_end": e2e, "write_path": writes, "write_path_with_links": with_links,
            "resync_with_changes": resync}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--stages":
        stages_child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        started = time.monotonic()
        run()
        print(f"({time.monotonic() - started:.0f} s)")
