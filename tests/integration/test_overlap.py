"""Overlapping syncs of one tenant (docs/decisions/0008): selections that share a type run at the same time
(the sync lock is per selection). Neither may mark the other's live items deleted, record a change twice, or
let an earlier Graph read replace a later one."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from inventory_sync.db import item_writer
from inventory_sync.domain.items import to_record
from inventory_sync.domain.registry import BY_KEY
from invsync_dev.local.graph_standin import Fault
from tests.support import factories
from tests.support.lambdas import FakeContext, load_function, sqs_event
from tests.support.scenarios import worker_process

BOTH = {"policy_types": ["deviceCategory", "deviceConfiguration"], "include_foundations": False,
        "include_dependencies": False}
ALONE = {"policy_types": ["deviceConfiguration"], "include_foundations": False, "include_dependencies": False}


def _live(db, ptype: str = "deviceConfiguration") -> int:
    return db.execute("SELECT count(*) FROM inventory_items WHERE policy_type = %s AND deleted_at IS NULL",
                      (ptype,)).fetchone()[0]


def _changes(db, ptype: str = "deviceConfiguration") -> dict[str, int]:
    """Change rows per kind; and none twice for one item and kind."""
    twice = db.execute("SELECT external_id, change, count(*) FROM inventory_item_changes WHERE policy_type = %s"
                       " GROUP BY 1, 2 HAVING count(*) > 1", (ptype,)).fetchall()
    assert twice == [], twice
    return dict(db.execute("SELECT change, count(*) FROM inventory_item_changes WHERE policy_type = %s GROUP BY 1",
                           (ptype,)).fetchall())


def _overlapping_round(env) -> list[str]:
    """Dispatch both selections, deliver both messages at once to two worker processes; their run statuses."""
    bulk_ids = [env.pipeline.dispatch(env.tenant.id, body)["bulk_operation_run"]["id"] for body in (BOTH, ALONE)]
    messages = env.pipeline.receive("run")
    assert len(messages) == 2
    procs = [worker_process(m["Body"]) for m in messages]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    return [env.db.execute("SELECT status FROM inventory_sync_runs WHERE bulk_operation_run_id = %s",
                           (bulk_id,)).fetchone()[0] for bulk_id in bulk_ids]


@pytest.mark.slow
def test_overlapping_selections_in_two_processes_keep_every_item_live(server_env) -> None:
    env = server_env
    gid = env.graph_tenant_id
    env.graph.add_items(gid, "deviceConfiguration", 150 - env.graph.tenants[gid].total("deviceConfiguration"))
    env.graph.latency_ms = 150  # each run's listing spans a second or so: the two overlap
    categories = env.graph.tenants[gid].total("deviceCategory")
    for _ in range(3):  # first sight, then unchanged re-reads
        assert _overlapping_round(env) == ["success", "success"]
        assert _live(env.db) == 150
        assert _live(env.db, "deviceCategory") == categories
        assert _changes(env.db) == {"added": 150}
    # Graph moves: 10 changed, 5 gone, 5 new. Each change is recorded once, by whichever run saw it first.
    for index in range(10):
        env.graph.modify_item(gid, "deviceConfiguration", index)
    for index in range(140, 145):
        env.graph.remove_item(gid, "deviceConfiguration", index)
    env.graph.add_items(gid, "deviceConfiguration", 5)
    for _ in range(2):
        assert _overlapping_round(env) == ["success", "success"]
        assert _live(env.db) == 150
        assert _changes(env.db) == {"added": 155, "changed": 10, "deleted": 5}
    gone = {env.graph.item_id(gid, "deviceConfiguration", i) for i in range(140, 145)}
    deleted = {r[0] for r in env.db.execute("SELECT external_id FROM inventory_items WHERE deleted_at IS NOT NULL")}
    assert deleted == gone


def test_a_run_that_read_earlier_and_writes_later_does_not_regress_an_item(env, database_url) -> None:
    """Run B reads a configuration, then stalls before writing (its progress update waits on a row lock the
    test holds); the object changes in Graph and run A stores the new version; B's late write of the old
    version must change nothing: not the configuration, not the hash, not the change set."""
    gid = env.graph_tenant_id
    env.pipeline.dispatch(env.tenant.id, ALONE)
    env.pipeline.run_all()
    x_id = env.graph.item_id(gid, "deviceConfiguration", 0)
    [(v1_hash,)] = env.db.execute("SELECT content_hash FROM inventory_items WHERE external_id = %s", (x_id,))

    fn = env.pipeline.run_fn
    fn.container().sync_deps.engine_config.progress_interval = 0.0  # B's first progress write comes at once
    env.graph.set_fault("deviceConfiguration", Fault(status=200, latency_ms=1500))  # B's listing is slow
    b_bulk = env.pipeline.dispatch(env.tenant.id, BOTH)["bulk_operation_run"]["id"]
    [b_message] = env.pipeline.receive("run")
    outcome: dict = {}
    b = threading.Thread(target=lambda: outcome.setdefault(
        "b", fn.lambda_handler(sqs_event([b_message["Body"]]), FakeContext())))
    b.start()
    with psycopg.connect(database_url) as holder:  # a transaction holding B's run row
        for _ in range(200):
            row = holder.execute("SELECT id FROM inventory_sync_runs WHERE bulk_operation_run_id = %s FOR UPDATE",
                                 (b_bulk,)).fetchone()
            if row:
                break
            holder.rollback()
            time.sleep(0.02)
        assert row, "run B never started"
        _wait_for_lock_waiter(env.db)  # B's writer is stuck behind the row lock, its reads go on
        _wait_until_graph_is_quiet(env.graph)  # B has read every page (the old version of X)
        env.graph.clear_faults()
        env.graph.modify_item(gid, "deviceConfiguration", 0)
        env.pipeline.dispatch(env.tenant.id, ALONE)
        [a_message] = env.pipeline.receive("run")
        a_fn = load_function("run_sync")  # another execution environment (B's holds its one connection)
        assert a_fn.lambda_handler(sqs_event([a_message["Body"]]), FakeContext()) == {"batchItemFailures": []}
        [(v2_hash, v2_payload)] = env.db.execute("SELECT content_hash, payload FROM inventory_items"
                                                 " WHERE external_id = %s", (x_id,))
        assert v2_hash != v1_hash
    b.join(timeout=60)  # the lock is gone with the transaction: B writes what it read before the change
    assert outcome["b"] == {"batchItemFailures": []}
    assert env.db.execute("SELECT status FROM inventory_sync_runs WHERE bulk_operation_run_id = %s",
                          (b_bulk,)).fetchone()[0] == "success"
    assert env.db.execute("SELECT content_hash, payload, deleted_at FROM inventory_items WHERE external_id = %s",
                          (x_id,)).fetchone() == (v2_hash, v2_payload, None)
    history = env.db.execute("SELECT change, previous_hash, new_hash FROM inventory_item_changes"
                             " WHERE external_id = %s ORDER BY id", (x_id,)).fetchall()
    assert history == [("added", None, v1_hash), ("changed", v1_hash, v2_hash)]
    assert _live(env.db) == env.graph.tenants[gid].total("deviceConfiguration")


def _wait_for_lock_waiter(db, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0]:
            return
        time.sleep(0.02)
    raise AssertionError("nothing ever waited on the held row")


def _wait_until_graph_is_quiet(graph, quiet: float = 2.0, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    last, since = graph.count("graph_requests"), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = graph.count("graph_requests")
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
    raise AssertionError("Graph never went quiet")


# -- the write path's rules, read times given explicitly ---------------------------------------------------

PTYPE = BY_KEY["deviceCategory"]


def _record(ext: str, name: str):
    return to_record(PTYPE, {"id": ext, "displayName": name})


def test_write_rules_by_read_time(database_url: str, db: psycopg.Connection) -> None:
    tenant = factories.tenant(db)
    early, late = factories.sync_run(db, tenant.id), factories.sync_run(db, tenant.id)
    with psycopg.connect(database_url) as conn:
        t = item_writer.database_clock(conn) - 10  # read times in the recent past
    with psycopg.connect(database_url) as conn:  # the later read is written first
        item_writer.write(conn, tenant.id, late, [_record("x", "X new"), _record("y", "Y")], read_at=[t + 2] * 2)
    with psycopg.connect(database_url) as conn:  # the earlier read arrives late: x as it was, y, and z
        written = item_writer.write(conn, tenant.id, early, [_record("x", "X old"), _record("y", "Y"),
                                                              _record("z", "Z")], read_at=[t + 1] * 3)
    assert {k: (v.observed, v.upserted) for k, v in written.items()} == {"deviceCategory": (3, 1)}
    assert db.execute("SELECT external_id, display_name FROM inventory_items ORDER BY 1").fetchall() == [
        ("x", "X new"), ("y", "Y"), ("z", "Z")]
    with psycopg.connect(database_url) as conn:
        began = item_writer.database_clock(conn)  # a listing begins; it sees none of them
    with psycopg.connect(database_url) as conn:  # an overlapping sync sights y meanwhile
        item_writer.write(conn, tenant.id, early, [_record("y", "Y")], read_at=[began - 5])
    with psycopg.connect(database_url) as conn:
        # every row was sighted after t: a listing that began then deletes nothing
        assert item_writer.mark_deleted(conn, tenant.id, "deviceCategory", late, listing_began=t) == 0
        # the listing that began at `began`: y was sighted since (however early its read began), x and z not
        assert item_writer.mark_deleted(conn, tenant.id, "deviceCategory", late, listing_began=began) == 2
    with psycopg.connect(database_url) as conn:  # a sighting whose read began before the deletion: no restore
        assert item_writer.write(conn, tenant.id, early, [_record("x", "X new")], read_at=[began])[
            "deviceCategory"].upserted == 0
    assert db.execute("SELECT external_id FROM inventory_items WHERE deleted_at IS NULL").fetchall() == [("y",)]
    with psycopg.connect(database_url) as conn:  # one that began after it does
        assert item_writer.write(conn, tenant.id, late, [_record("x", "X back")])["deviceCategory"].upserted == 1
    changes = db.execute("SELECT external_id, change, inventory_sync_run_id FROM inventory_item_changes").fetchall()
    assert sorted(changes) == sorted([("x", "added", late), ("y", "added", late), ("z", "added", early),
                                      ("x", "deleted", late), ("z", "deleted", late), ("x", "restored", late)])
