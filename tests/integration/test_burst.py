"""A burst of 200 dispatches across 20 tenants, processed by the local stack's pollers with 4 concurrent
run_sync workers: every bulk operation reaches a terminal status, its counters add up, and it has exactly
one terminal audit event."""

from __future__ import annotations

import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import psycopg
import pytest

from invsync_dev.local.embedded_pg import free_port
from invsync_dev.local.http_api import request

TERMINAL = ("completed", "completed_with_errors", "failed", "aborted")
SELECTIONS = [{"policy_types": ["deviceConfiguration"], "include_foundations": False},
              {"policy_types": ["mobileApp"], "include_foundations": False},
              {"categories": ["Scripts"], "include_foundations": False}]


@pytest.mark.slow
def test_burst_of_200_dispatches_with_4_workers(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from invsync_dev.local.stack import LocalStack

    for name in ("AWS_ENDPOINT_URL", "RUN_QUEUE_URL", "FINALIZE_QUEUE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    data = Path(tempfile.mkdtemp(prefix="invsync-burst-"))
    stack = LocalStack(data, api_port=free_port(), aws_port=free_port(), run_workers=4, sweep_every=3600)
    stack.start()
    try:
        demo = stack.ensure_demo()
        secrets = boto3.client("secretsmanager")
        tenant_ids = [demo.tenant_id]
        with psycopg.connect(database_url, autocommit=True) as conn:
            user_id = conn.execute("SELECT id FROM users WHERE subject = 'demo-operator'").fetchone()[0]
            for i in range(19):
                gid = f"burst-{i}.example"
                stack.graph.add_tenant(gid, "burst-client", f"burst-secret-{i}",
                                       counts={"deviceConfiguration": 30, "mobileApp": 20, "deviceShellScript": 5})
                tid = conn.execute("INSERT INTO tenants (name, graph_tenant_id, graph_client_id) VALUES (%s, %s,"
                                   " 'burst-client') RETURNING id", (f"Burst {i}", gid)).fetchone()[0]
                conn.execute("INSERT INTO tenant_memberships (tenant_id, user_id, role) VALUES (%s, %s, 'operator')",
                             (tid, user_id))
                secrets.create_secret(Name=f"inventory-sync/tenants/{tid}",
                                      SecretString=json.dumps({"client_secret": f"burst-secret-{i}"}))
                tenant_ids.append(tid)

        def dispatch(n: int) -> int:
            tid = tenant_ids[n % 20]
            status, body, _ = request(f"{stack.api.url}/tenants/{tid}/inventory-syncs", "POST", demo.token,
                                      SELECTIONS[n % 3])
            assert status == 202, body
            return body["bulk_operation_run"]["id"]

        with ThreadPoolExecutor(16) as pool:
            ids = list(pool.map(dispatch, range(200)))
        assert len(set(ids)) == 200
        deadline = time.monotonic() + 400
        with psycopg.connect(database_url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                active = conn.execute("SELECT count(*) FROM bulk_operation_runs WHERE status IN ('pending',"
                                      " 'running')").fetchone()[0]
                if active == 0:
                    break
                time.sleep(1)
            rows = conn.execute("SELECT b.id, b.status, b.processed_items, b.succeeded, b.failed, b.skipped,"
                                " r.status FROM bulk_operation_runs b LEFT JOIN inventory_sync_runs r"
                                " ON r.bulk_operation_run_id = b.id").fetchall()
            events: dict[str, int] = dict(conn.execute(
                "SELECT metadata ->> 'bulk_operation_run_id', count(*) FROM audit_logs WHERE action IN"
                " ('inventory.sync.completed', 'inventory.sync.failed', 'inventory.sync.skipped',"
                " 'inventory.sync.aborted') GROUP BY 1").fetchall())
    finally:
        stack.stop()
    assert len(rows) == 200
    for bulk_id, status, processed, succeeded, failed, skipped, run_status in rows:
        assert status in TERMINAL, (bulk_id, status)
        assert processed == 1 and succeeded + failed + skipped == 1, (bulk_id, status)
        assert events.get(str(bulk_id)) == 1, bulk_id
        assert run_status in ("success", "skipped"), (bulk_id, run_status)
    statuses = [r[6] for r in rows]
    assert statuses.count("success") >= 60  # each tenant+selection ran at least once
