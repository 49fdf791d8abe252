"""SnapStart runtime hooks, registered and run through the `snapshot_restore_py` interface Lambda's Python
runtime calls: nothing open goes into the snapshot, and a restored environment connects afresh."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
import snapshot_restore_py

from tests.support import factories
from tests.support.lambdas import FakeContext, claims_for, http_event, load_function, response_json

ROOT = Path(__file__).resolve().parents[2]


def _run(registry: list) -> None:
    """What the runtime does with the registered hooks (in order, with their arguments)."""
    for func, args, kwargs in registry:
        func(*args, **kwargs)


def _backends(db: psycopg.Connection, application: str) -> list[int]:
    return [r[0] for r in db.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s"
                                     " AND state IS NOT NULL ORDER BY pid", (application,))]


def _pool_threads() -> list[str]:
    """The connection pool's scheduler and workers (psycopg_pool names them after the pool)."""
    return [t.name for t in threading.enumerate() if t.name.startswith("invsync-dispatch") and t.is_alive()]


@pytest.fixture
def dispatch(stack):  # noqa: ANN201
    snapshot_restore_py._before_snapshot_registry.clear()
    snapshot_restore_py._after_restore_registry.clear()
    module = load_function("dispatch")  # loading registers the hooks, as in Lambda's init phase
    yield module
    snapshot_restore_py._before_snapshot_registry.clear()
    snapshot_restore_py._after_restore_registry.clear()


def test_a_restored_environment_reconnects_and_never_reuses_a_pre_snapshot_connection(
        dispatch, db: psycopg.Connection) -> None:
    assert [f.__name__ for f, _, _ in snapshot_restore_py._before_snapshot_registry] == ["before_snapshot"]
    assert [f.__name__ for f, _, _ in snapshot_restore_py._after_restore_registry] == ["after_restore"]
    tenant = factories.tenant(db)
    factories.member(db, tenant.id, "alice", "owner")

    def list_runs() -> int:
        response = dispatch.lambda_handler(http_event("GET", f"/tenants/{tenant.id}/inventory-syncs",
                                                      claims=claims_for("alice")), FakeContext())
        assert response["statusCode"] == 200, response_json(response)
        return response["statusCode"]

    # a priming invocation before the snapshot (what an init-phase warm-up would do)
    list_runs()
    before = _backends(db, "invsync-dispatch")
    assert len(before) == 1 and _pool_threads()

    _run(snapshot_restore_py._before_snapshot_registry)
    assert _backends(db, "invsync-dispatch") == [] or _wait_gone(db, before)
    assert _pool_threads() == []  # no thread in the snapshot either

    state = random.getstate()
    _run(snapshot_restore_py._after_restore_registry)
    assert random.getstate() != state  # every restored copy draws its own numbers

    list_runs()
    after = _backends(db, "invsync-dispatch")
    assert len(after) == 1 and after[0] not in before  # a fresh session, not the pre-snapshot one


def test_cached_credentials_and_tokens_are_dropped_on_restore(dispatch) -> None:
    built = dispatch.container()
    credentials, tokens = built.credentials, built.tokens  # built (and cached) before the snapshot
    _run(snapshot_restore_py._before_snapshot_registry)
    _run(snapshot_restore_py._after_restore_registry)
    assert built.credentials is not credentials and built.tokens is not tokens


def _wait_gone(db: psycopg.Connection, pids: list[int]) -> bool:
    import time

    for _ in range(100):  # a closed session's backend exits a moment after the client hung up
        if not set(pids) & set(_backends(db, "invsync-dispatch")):
            return True
        time.sleep(0.05)
    return False


def test_the_snapshot_holds_every_deferred_model_built() -> None:
    """docs/decisions/0013: our models wait for their first use at import; before the snapshot they are all
    built, so a restored copy pays for none of them. In a fresh interpreter: this process has used them."""
    code = """
import json, sys
import snapshot_restore_py
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import app
from inventory_sync.coldstart import waiting_models

def waiting():
    return sorted(f"{m.__module__}.{m.__name__}" for m in waiting_models())

before = waiting()
for func, args, kwargs in snapshot_restore_py._before_snapshot_registry:
    func(*args, **kwargs)
print(json.dumps({"before": before, "after": waiting()}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DATABASE_"))}
    env |= {"DATABASE_URL": "postgresql://invsync@127.0.0.1:9/none", "POWERTOOLS_METRICS_NAMESPACE": "Test"}
    result = subprocess.run([sys.executable, "-c", code, str(ROOT / "layers/common"), str(ROOT / "functions/dispatch")],
                            capture_output=True, text=True, env=env, timeout=60, cwd="/")
    assert result.returncode == 0, result.stderr
    models = json.loads(result.stdout.splitlines()[-1])
    assert {"inventory_sync.api.models.DispatchOut", "inventory_sync.settings.DispatchSettings",
            "inventory_sync.domain.selection.SelectionRequest"} <= set(models["before"])
    assert len(models["before"]) > 30
    assert models["after"] == []
