"""`invsync local up` in a subprocess: the printed token works over HTTP, a sync completes through the
pollers, and a bad token gets 401."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from invsync_dev.local.embedded_pg import free_port
from invsync_dev.local.http_api import request
from tests.support.local_up import LocalUp

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_local_up_serves_the_api_and_runs_a_sync(database_url: str) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="invsync-local-"))
    port = free_port()
    stack = LocalUp(data_dir, database_url, "--api-port", str(port), "--aws-port", "0", "--graph-port", "0",
                    "--sweep-every", "5", timeout=90)
    try:
        token, tenant_id = stack.token, stack.tenant_id
        assert token and tenant_id, stack.printed()
        base = f"http://127.0.0.1:{port}"
        status, _, _ = request(f"{base}/policy-types", token="x.y.z")
        assert status == 401
        status, _, _ = request(f"{base}/policy-types")
        assert status == 401
        status, body, headers = request(f"{base}/tenants/{tenant_id}/inventory-syncs", "POST", token,
                                        {"policy_types": ["deviceConfiguration", "mobileApp"]})
        assert status == 202, body
        op_id = body["bulk_operation_run"]["id"]
        assert headers["Location"] == f"/bulk-operations/{op_id}"
        for _ in range(240):
            status, op, _ = request(f"{base}/bulk-operations/{op_id}", token=token)
            if op["status"] not in ("pending", "running"):
                break
            time.sleep(0.25)
        assert op["status"] == "completed" and op["run"]["status"] == "success"
        assert op["run"]["items_observed_count"] > 0
        status, trail, _ = request(f"{base}/tenants/{tenant_id}/audit-logs?action=inventory.sync.completed",
                                   token=token)
        assert [e["metadata"]["bulk_operation_run_id"] for e in trail["items"]] == [op_id]
        # the operator CLI reads the run's change set over the same API (not a TTY: no colour codes)
        shown = subprocess.run([sys.executable, "-m", "invsync_dev.cli", "changes", "--tenant", str(tenant_id),
                                "--api-url", base, "--token", token], capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        assert lines[0] == f"changes of run {op['run']['id']}" and "\033[" not in shown.stdout
        added = [line for line in lines if line.startswith("+ added")]
        assert len(added) == op["run"]["items_observed_count"]
        assert lines[-1] == f"{len(added)} added, 0 changed, 0 deleted, 0 restored"
        # a browser asks several routes at once: each answer is its own request's (the resolver holds the
        # current request, so the local API serves one at a time, like one Lambda environment)
        from concurrent.futures import ThreadPoolExecutor

        run_id = op["run"]["id"]
        asks = [(f"/tenants/{tenant_id}/inventory-syncs?status=success", lambda b: b["items"][0]["id"] == run_id),
                ("/bulk-operations?status=active", lambda b: b["items"] == []),
                (f"/tenants/{tenant_id}/audit-logs?action=inventory.sync.completed", lambda b: len(b["items"]) == 1),
                ("/policy-types", lambda b: "categories" in b)] * 10
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda ask: request(base + ask[0], token=token), asks))
        for (path, check), (status, body, _) in zip(asks, answers, strict=True):
            assert status == 200 and check(body), (path, status, body)
    finally:
        rest = stack.stop()
    assert stack.process.returncode == 0, stack.printed() + rest
    assert "stopping" in rest


def test_for_containers_without_docker_says_why_and_starts_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock", "INVSYNC_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "invsync_dev.cli", "local", "up", "--for-containers",
                             "--env-json", str(tmp_path / "env.local.json")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--for-containers: no Docker engine running" in result.stderr or "needs root" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "env.local.json").exists() and not (tmp_path / "postgres").exists()


def _receive(endpoint: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run([sys.executable, "-m", "invsync_dev.cli", "local", "receive", *args, "--aws-endpoint",
                           endpoint, "--wait", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_local_receive_hands_over_a_queued_message_as_the_sqs_event_lambda_gets(moto_server, tmp_path) -> None:
    """What `sam local invoke RunSyncFunction -e` needs: the queued body, unchanged, in an SQS event."""
    import json

    import boto3

    from inventory_sync.domain.messages import RunMessage
    from invsync_dev.local import sample_events

    sqs = boto3.client("sqs")
    body = sample_events.run_message()
    sqs.send_message(QueueUrl=moto_server["run"], MessageBody=json.dumps(body))

    kept = _receive(moto_server["endpoint"], "RunQueue", "--keep")
    assert kept.returncode == 0, kept.stderr
    event = json.loads(kept.stdout)
    [record] = event["Records"]
    assert json.loads(record["body"]) == body and record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(":RunQueue") and record["messageId"]
    RunMessage.model_validate_json(record["body"])

    # --keep left it visible; without --keep the message is taken off the queue
    taken = _receive(moto_server["endpoint"], "RunQueue", "-o", str(tmp_path / "run-event.json"))
    assert taken.returncode == 0, taken.stderr
    assert json.loads((tmp_path / "run-event.json").read_text())["Records"][0]["body"] == record["body"]
    assert "Messages" not in sqs.receive_message(QueueUrl=moto_server["run"], WaitTimeSeconds=1)

    empty = _receive(moto_server["endpoint"], "FinalizeQueue")
    assert empty.returncode == 1 and "no message on FinalizeQueue" in empty.stderr and empty.stdout == ""
