"""What the benchmarks run against: an embedded PostgreSQL in a temp dir (durable settings, like a real
server), moto in-process, and the Graph stand-in."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg

from inventory_sync.db import migrate as migrations
from invsync_dev.local.embedded_pg import EmbeddedPostgres


@contextlib.contextmanager
def postgres() -> Iterator[EmbeddedPostgres]:
    base = Path(tempfile.mkdtemp(prefix="invsync-bench-"))
    base.chmod(0o755)
    server = EmbeddedPostgres(base / "data", durable=True).start()
    try:
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


def fresh_database(server: EmbeddedPostgres, name: str) -> str:
    server.drop_database(name)
    url = server.create_database(name)
    migrations.migrate(url)
    return url


@contextlib.contextmanager
def aws() -> Iterator[dict[str, str]]:
    import boto3
    from moto import mock_aws

    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        sqs = boto3.client("sqs")
        yield {"run": sqs.create_queue(QueueName="RunQueue")["QueueUrl"],
               "finalize": sqs.create_queue(QueueName="FinalizeQueue")["QueueUrl"]}


class RemoteStandIn:
    """The Graph stand-in in its own process, scripted over its control endpoints."""

    def __init__(self, latency_ms: int = 0) -> None:
        import subprocess
        import sys

        from invsync_dev.local.embedded_pg import free_port
        from invsync_dev.local.http_api import request

        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._proc = subprocess.Popen([sys.executable, "-m", "invsync_dev.local.graph_standin", "--port",
                                       str(self.port), "--latency-ms", str(latency_ms)], stdout=subprocess.PIPE,
                                      text=True)
        self._proc.stdout.readline()  # "Graph stand-in on …"
        self._request = request

    def add_tenant(self, gid: str, client_id: str, secret: str, counts: dict[str, int]) -> None:
        status, _, _ = self._request(f"{self.base_url}/_standin/tenants", "POST", body={
            "graph_tenant_id": gid, "client_id": client_id, "client_secret": secret, "counts": counts})
        assert status == 200

    def stop(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=10)


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def tenants(url: str, n: int) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "INSERT INTO tenants (name, graph_tenant_id, graph_client_id) SELECT 'T' || g, 't' || g || '.example',"
            " 'c' FROM generate_series(1, %s) g RETURNING id", (n,)).fetchall()
    return [r[0] for r in rows]
