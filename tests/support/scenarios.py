"""Situations several tests set up the same way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from inventory_sync.db import runs
from inventory_sync.db.rows import Run

ROOT = Path(__file__).resolve().parents[2]


def dead_attempt(conn: psycopg.Connection, env: Any, message_body: str) -> Run:
    """What a first attempt that died after starting leaves behind: a running run and no lock."""
    body = json.loads(message_body)
    run = runs.create_running(conn, tenant_id=env.tenant.id, user_id=env.user.id,
                              bulk_operation_run_id=body["bulk_operation_run_id"],
                              selection_hash=body["selection_hash"], selection_payload=body["selection"],
                              trigger="api", correlation_id=body["correlation_id"])
    assert run is not None
    return run


def worker_process(message_body: str) -> subprocess.Popen:
    """A run_sync worker in its own process, delivering one RunQueue body (for SIGKILL tests)."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.worker_proc"], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdin is not None
    proc.stdin.write(message_body)
    proc.stdin.close()
    return proc
