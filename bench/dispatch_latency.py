"""Dispatch latency through the local HTTP API (JWT check, the real dispatch handler, PostgreSQL, moto SQS)
under 50 concurrent clients, against the same requests sent one at a time in the same run. The local API
serves one request at a time, like one Lambda environment (dispatch with a concurrency of 1): the concurrent
figures are what 50 clients wait for one environment, and its throughput."""

from __future__ import annotations

import os

os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from invsync_dev.local.embedded_pg import free_port  # noqa: E402
from invsync_dev.local.http_api import request  # noqa: E402
from invsync_dev.local.stack import LocalStack  # noqa: E402


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _fire(url: str, token: str, n: int, concurrency: int) -> list[float]:
    def one(i: int) -> float:
        started = time.perf_counter()
        status, body, _ = request(url, "POST", token, {"policy_types": ["deviceConfiguration"]},
                                  headers={"Idempotency-Key": f"bench-{concurrency}-{i}"})
        assert status == 202, body
        return time.perf_counter() - started

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, range(n)))


def run(requests: int = 500, concurrency: int = 50) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="invsync-bench-api-"))
    data.chmod(0o755)
    stack = LocalStack(data, api_port=free_port(), pg_port=free_port(), run_workers=0, sweep_every=3600).start()
    try:
        demo = stack.ensure_demo()
        url = f"{stack.api.url}/tenants/{demo.tenant_id}/inventory-syncs"
        _fire(url, demo.token, 20, 1)  # warm-up
        sequential = _fire(url, demo.token, requests // 5, 1)
        concurrent_started = time.perf_counter()
        concurrent = _fire(url, demo.token, requests, concurrency)
        wall = time.perf_counter() - concurrent_started
    finally:
        stack.stop()
        shutil.rmtree(data, ignore_errors=True)
    result = {
        "requests": requests, "concurrency": concurrency,
        "p50_ms": statistics.median(concurrent) * 1000, "p99_ms": _percentile(concurrent, 0.99) * 1000,
        "throughput_rps": requests / wall,
        "sequential_p50_ms": statistics.median(sequential) * 1000,
        "sequential_p99_ms": _percentile(sequential, 0.99) * 1000,
    }
    print(f"dispatch latency, {requests} POSTs by {concurrency} clients: p50 {result['p50_ms']:.0f} ms, p99 "
          f"{result['p99_ms']:.0f} ms, {result['throughput_rps']:.0f} req/s; one at a time: p50 "
          f"{result['sequential_p50_ms']:.0f} ms, p99 {result['sequential_p99_ms']:.0f} ms")
    return result


if __name__ == "__main__":
    run()
