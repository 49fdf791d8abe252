"""Tenant isolation, table-driven over every route: a member of tenant A can neither read nor change
anything of tenant B (404, like an unknown tenant); readers cannot dispatch or cancel (403); audit
events carry the real actor."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import factories
from tests.support.pipeline import Pipeline


@pytest.fixture
def world(db, stack):
    a = factories.tenant(db, "A")
    b = factories.tenant(db, "B")
    factories.member(db, a.id, "alice", "owner", email="alice@a.example")
    factories.member(db, a.id, "rita", "reader")
    factories.member(db, b.id, "bob", "owner", email="bob@b.example")
    pipeline = Pipeline(stack)
    b_sync = pipeline.dispatch(b.id, {"policy_types": ["mobileApp"]}, subject="bob")
    b_bulk = b_sync["bulk_operation_run"]["id"]
    db.execute("INSERT INTO inventory_sync_runs (tenant_id, bulk_operation_run_id, selection_hash, selection_payload)"
               " VALUES (%s, %s, %s, '{}')", (b.id, b_bulk, b_sync["selection_hash"]))
    b_run = db.execute("SELECT id FROM inventory_sync_runs").fetchone()[0]
    db.execute("INSERT INTO inventory_items (tenant_id, policy_type, external_id, payload, content_hash)"
               " VALUES (%s, 'mobileApp', 'b-secret-app', '{}', repeat('0', 64))", (b.id,))
    return {"a": a, "b": b, "b_bulk": b_bulk, "b_run": b_run, "pipeline": pipeline}


ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/tenants/{b}/inventory-syncs", {}),
    ("GET", "/tenants/{b}/inventory-syncs", None),
    ("GET", "/tenants/{b}/inventory-syncs/{b_run}", None),
    ("GET", "/bulk-operations/{b_bulk}", None),
    ("POST", "/bulk-operations/{b_bulk}/cancel", None),
    ("GET", "/tenants/{b}/inventory-items", None),
    ("GET", "/tenants/{b}/inventory-summary", None),
    ("GET", "/tenants/{b}/audit-logs", None),
    ("GET", "/tenants/{b}/permission-check", None),
    ("GET", "/tenants/{b}", None),
    ("GET", "/tenants/{b}/exports/inventory-items", None),
    ("GET", "/tenants/{b}/exports/inventory-syncs/{b_run}/changes", None),
    ("GET", "/tenants/{b}/exports/audit-logs", None),
]


@pytest.mark.parametrize(("method", "template", "body"), ROUTES)
def test_a_member_of_a_sees_nothing_of_b(world, db, method, template, body) -> None:
    path = template.format(b=world["b"].id, b_run=world["b_run"], b_bulk=world["b_bulk"])
    before = db.execute("SELECT (SELECT count(*) FROM bulk_operation_runs), (SELECT count(*) FROM audit_logs),"
                        " (SELECT status FROM bulk_operation_runs WHERE id = %s)", (world["b_bulk"],)).fetchone()
    for subject in ("alice", "rita"):
        status, problem = world["pipeline"].api(method, path, subject=subject, body=body)
        assert status == 404, (subject, method, path, status)
        assert "b-secret-app" not in str(problem)
    after = db.execute("SELECT (SELECT count(*) FROM bulk_operation_runs), (SELECT count(*) FROM audit_logs),"
                       " (SELECT status FROM bulk_operation_runs WHERE id = %s)", (world["b_bulk"],)).fetchone()
    assert after == before


def test_a_run_of_b_is_not_reachable_through_tenant_a(world) -> None:
    status, _ = world["pipeline"].api("GET", f"/tenants/{world['a'].id}/inventory-syncs/{world['b_run']}")
    assert status == 404


def test_lists_of_a_hold_nothing_of_b(world) -> None:
    p, a = world["pipeline"], world["a"].id
    assert p.api("GET", f"/tenants/{a}/inventory-items")[1]["items"] == []
    assert p.api("GET", f"/tenants/{a}/inventory-syncs")[1]["items"] == []
    assert p.api("GET", f"/tenants/{a}/audit-logs")[1]["items"] == []
    assert p.api("GET", "/bulk-operations", query={"status": "active"})[1]["items"] == []


@pytest.mark.parametrize(("method", "template"), [
    ("POST", "/tenants/{a}/inventory-syncs"),
    ("POST", "/bulk-operations/{a_bulk}/cancel"),
    ("GET", "/tenants/{a}/permission-check"),
])
def test_readers_cannot_write(world, db, method, template) -> None:
    a_bulk = world["pipeline"].dispatch(world["a"].id, {}, subject="alice")["bulk_operation_run"]["id"]
    before = db.execute("SELECT count(*) FROM audit_logs").fetchone()[0]
    status, problem = world["pipeline"].api(method, template.format(a=world["a"].id, a_bulk=a_bulk), subject="rita",
                                            body={} if method == "POST" else None)
    assert status == 403 and problem["status"] == 403
    assert db.execute("SELECT count(*) FROM audit_logs").fetchone()[0] == before
    assert db.execute("SELECT status FROM bulk_operation_runs WHERE id = %s", (a_bulk,)).fetchone()[0] == "pending"


def test_audit_events_carry_the_real_actor(world, db) -> None:
    p = world["pipeline"]
    bulk = p.dispatch(world["a"].id, {}, subject="alice")["bulk_operation_run"]["id"]
    p.api("POST", f"/bulk-operations/{bulk}/cancel", subject="alice")
    alice = db.execute("SELECT id FROM users WHERE subject = 'alice'").fetchone()[0]
    rows = db.execute("SELECT action, actor_type, actor_id, actor_email FROM audit_logs WHERE tenant_id = %s"
                      " ORDER BY id", (world["a"].id,)).fetchall()
    # the snapshot is what alice's token said at the time (Pipeline's claims carry alice@contoso.com)
    assert rows == [("inventory.sync.dispatched", "user", alice, "alice@contoso.com"),
                    ("inventory.sync.aborted", "user", alice, "alice@contoso.com")]


def test_a_removed_member_no_longer_lists_the_tenants_operations(world, db) -> None:
    """The list follows current membership, like `GET /bulk-operations/{id}` (its own operations included)."""
    p, a = world["pipeline"], world["a"].id
    bulk = p.dispatch(a, {}, subject="alice")["bulk_operation_run"]["id"]
    for query in ({"status": "active"}, None):
        assert [o["id"] for o in p.api("GET", "/bulk-operations", query=query)[1]["items"]] == [bulk]
    factories.member(db, a, "olga", "owner")
    db.execute("DELETE FROM tenant_memberships WHERE tenant_id = %s AND user_id ="
               " (SELECT id FROM users WHERE subject = 'alice')", (a,))
    for query in ({"status": "active"}, None):
        status, page = p.api("GET", "/bulk-operations", query=query)
        assert status == 200 and page["items"] == [], page
    assert p.api("GET", f"/bulk-operations/{bulk}")[0] == 404
