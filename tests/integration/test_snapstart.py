"""SnapStart runtime hooks, registered and run through the `snapshot_restore_py` interface Lambda's Python
runtime calls: nothing open goes into the snapshot, and a restored environment connects afresh."""

from __future__ import annotations

import random
import threading

import psycopg
import pytest
import snapshot_restore_py

from tests.support import factories
from tests.support.lambdas import FakeContext, claims_for, http_event, load_function, response_json


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
