"""POST /tenants/{id}/inventory-syncs through the real dispatch handler, PostgreSQL and moto SQS."""

from __future__ import annotations

import json

import boto3
import psycopg
import pytest

from inventory_sync.domain.registry import CATEGORIES, POLICY_TYPES
from tests.support import factories
from tests.support.lambdas import FakeContext, claims_for, http_event, load_function, new_environment, response_json
from tests.support.queues import drain

ALL_TYPES = sorted(t.key for t in POLICY_TYPES)


@pytest.fixture
def dispatch():
    return load_function("dispatch")


@pytest.fixture
def tenant_and_operator(db: psycopg.Connection, stack: dict[str, str]):
    tenant = factories.tenant(db)
    user = factories.member(db, tenant.id, "alice", "operator", email="alice@contoso.com", name="Alice Admin")
    return tenant, user


def _post(dispatch, tenant_id: int, body=None, *, subject="alice", headers=None, raw_body=None, claims=None):
    event = http_event("POST", f"/tenants/{tenant_id}/inventory-syncs", body=body, raw_body=raw_body,
                       claims=claims if claims is not None else claims_for(subject, f"{subject}@contoso.com"),
                       headers=headers)
    return dispatch.lambda_handler(event, FakeContext())


def _counts(db: psycopg.Connection) -> tuple[int, int, int]:
    row = db.execute(
        "SELECT (SELECT count(*) FROM bulk_operation_runs), (SELECT count(*) FROM audit_logs),"
        " (SELECT count(*) FROM inventory_sync_runs)").fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def test_empty_body_dispatches_a_full_inventory(dispatch, db, stack, tenant_and_operator) -> None:
    tenant, user = tenant_and_operator
    response = _post(dispatch, tenant.id)
    assert response["statusCode"] == 202, response
    body = response_json(response)
    op = body["bulk_operation_run"]
    assert response["headers"]["Location"] == f"/bulk-operations/{op['id']}"
    assert body["selection"] == {"policy_types": ALL_TYPES, "categories": [], "include_foundations": True,
                                 "include_dependencies": True}
    assert body["ignored_policy_types"] == []
    assert op["status"] == "pending" and op["total_items"] == 1 and op["item_ids"] == [body["selection_hash"]]
    row = db.execute("SELECT status, resource, action, user_id, audit_log_id, item_ids FROM bulk_operation_runs"
                     " WHERE id = %s", (op["id"],)).fetchone()
    assert row[:4] == ("pending", "inventory", "sync", user.id)
    event = db.execute("SELECT action, resource_type, resource_id, actor_type, actor_id, actor_email, actor_name,"
                       " metadata, correlation_id FROM audit_logs WHERE id = %s", (row[4],)).fetchone()
    assert event[:7] == ("inventory.sync.dispatched", "bulk_operation_run", str(op["id"]), "user", user.id,
                         "alice@contoso.com", "Alice Admin")
    assert event[7]["selection_hash"] == body["selection_hash"] and event[7]["trigger"] == "api"
    messages = drain(stack["run"])
    assert len(messages) == 1
    message = messages[0]
    assert message["version"] == 1 and message["bulk_operation_run_id"] == op["id"]
    assert message["tenant_id"] == tenant.id and message["user_id"] == user.id and message["trigger"] == "api"
    assert message["selection"] == body["selection"] and message["selection_hash"] == body["selection_hash"]
    assert message["correlation_id"] == event[8]


def test_same_selection_in_any_order_hashes_the_same(dispatch, db, stack, tenant_and_operator) -> None:
    tenant, _ = tenant_and_operator
    a = response_json(_post(dispatch, tenant.id, {"policy_types": ["mobileApp", "deviceConfiguration"]}))
    b = response_json(_post(dispatch, tenant.id, {"policy_types": ["deviceConfiguration", "mobileApp",
                                                                    "mobileApp"], "include_foundations": True}))
    assert a["selection_hash"] == b["selection_hash"]
    assert a["selection"]["policy_types"] == ["deviceConfiguration", "mobileApp"]
    full = response_json(_post(dispatch, tenant.id, {}))
    explicit = response_json(_post(dispatch, tenant.id, {"policy_types": list(reversed(ALL_TYPES)),
                                                          "include_dependencies": True}))
    assert full["selection_hash"] == explicit["selection_hash"]


def test_categories_restrict_types(dispatch, stack, tenant_and_operator) -> None:
    tenant, _ = tenant_and_operator
    body = response_json(_post(dispatch, tenant.id, {"categories": ["Scripts"], "include_foundations": False}))
    assert body["selection"]["policy_types"] == sorted(t.key for t in POLICY_TYPES if t.category == "Scripts")
    assert body["selection"]["categories"] == ["Scripts"]
    assert body["selection"]["include_foundations"] is False


def test_runtime_disabled_types_are_dropped_and_reported(dispatch, stack, tenant_and_operator, monkeypatch) -> None:
    new_environment(dispatch, disabled_policy_types="mobileApp")
    tenant, _ = tenant_and_operator
    body = response_json(_post(dispatch, tenant.id, {"policy_types": ["mobileApp", "deviceConfiguration"]}))
    assert body["selection"]["policy_types"] == ["deviceConfiguration"]
    assert body["ignored_policy_types"] == ["mobileApp"]
    response = _post(dispatch, tenant.id, {"policy_types": ["mobileApp"]})
    assert response["statusCode"] == 422
    assert "nothing left" in response_json(response)["detail"]


@pytest.mark.parametrize(("body", "field"), [
    ({"policy_types": ["deviceConfiguration", "noSuchType"]}, "policy_types"),
    ({"categories": ["Gaming"]}, "categories"),
])
def test_unknown_types_or_categories_list_the_valid_ones(dispatch, db, stack, tenant_and_operator, body,
                                                         field) -> None:
    tenant, _ = tenant_and_operator
    before = _counts(db)
    response = _post(dispatch, tenant.id, body)
    assert response["statusCode"] == 422
    assert response["headers"]["Content-Type"] == "application/problem+json"
    problem = response_json(response)
    error = next(e for e in problem["errors"] if e["field"] == field)
    assert error["valid"] == (ALL_TYPES if field == "policy_types" else list(CATEGORIES))
    assert _counts(db) == before
    assert drain(stack["run"]) == []


@pytest.mark.parametrize(("raw", "status"), [
    ("{not json", 400),
    ('{"policy_types": "deviceConfiguration"}', 422),
    ('{"include_foundations": "yes"}', 422),
    ('{"include_foundations": 1}', 422),
    ('{"unexpected": true}', 422),
    ("[]", 422),
    ('{"policy_types": [1, 2]}', 422),
])
def test_bad_bodies_are_problems_and_write_nothing(dispatch, db, stack, tenant_and_operator, raw, status) -> None:
    tenant, _ = tenant_and_operator
    before = _counts(db)
    response = _post(dispatch, tenant.id, raw_body=raw)
    assert response["statusCode"] == status, response
    problem = response_json(response)
    assert problem["status"] == status and problem["title"] and problem["errors"]
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert _counts(db) == before
    assert drain(stack["run"]) == []


def test_oversize_body_is_413(dispatch, db, stack, tenant_and_operator) -> None:
    tenant, _ = tenant_and_operator
    raw = json.dumps({"policy_types": ["deviceConfiguration"], "pad": "x" * (64 * 1024)})
    response = _post(dispatch, tenant.id, raw_body=raw)
    assert response["statusCode"] == 413
    assert response_json(response)["status"] == 413
    assert _counts(db) == (0, 0, 0)


def test_the_edge_refuses_before_anything_reads_the_body(dispatch, db, stack, tenant_and_operator) -> None:
    """Size and token come first (docs/decisions/0007): a malformed body never earns a 422 that describes it."""
    tenant, _ = tenant_and_operator
    too_big_and_malformed = "{" + "x" * (64 * 1024)
    assert _post(dispatch, tenant.id, raw_body=too_big_and_malformed)["statusCode"] == 413
    assert _post(dispatch, tenant.id, raw_body=too_big_and_malformed, claims={})["statusCode"] == 413
    assert _post(dispatch, tenant.id, raw_body='{"policy_types": 7', claims={})["statusCode"] == 401
    unknown = dispatch.lambda_handler(http_event("GET", "/no/such/route", claims={}), FakeContext())
    assert unknown["statusCode"] == 401  # not 404: an anonymous caller learns nothing about the routes
    assert _counts(db) == (0, 0, 0)


def test_no_claims_is_401(dispatch, db, stack, tenant_and_operator) -> None:
    tenant, _ = tenant_and_operator
    response = _post(dispatch, tenant.id, claims={})
    assert response["statusCode"] == 401
    assert response_json(response)["status"] == 401
    assert _counts(db) == (0, 0, 0)


def test_non_member_and_unknown_tenant_are_both_404(dispatch, db, stack, tenant_and_operator) -> None:
    tenant, _ = tenant_and_operator
    other = factories.tenant(db, "Fabrikam")
    factories.member(db, other.id, "bob", "owner")
    not_member = _post(dispatch, other.id, subject="alice")
    unknown = _post(dispatch, 999_999, subject="alice")
    assert not_member["statusCode"] == unknown["statusCode"] == 404
    assert response_json(not_member)["title"] == response_json(unknown)["title"] == "Not Found"
    assert db.execute("SELECT count(*) FROM bulk_operation_runs").fetchone()[0] == 0
    bad_id = dispatch.lambda_handler(http_event("POST", "/tenants/abc/inventory-syncs", body={},
                                                claims=claims_for("alice")), FakeContext())
    assert bad_id["statusCode"] == 422


def test_reader_cannot_dispatch(dispatch, db, stack, tenant_and_operator) -> None:
    tenant, _ = tenant_and_operator
    factories.member(db, tenant.id, "rita", "reader")
    response = _post(dispatch, tenant.id, subject="rita")
    assert response["statusCode"] == 403
    assert db.execute("SELECT count(*) FROM bulk_operation_runs").fetchone()[0] == 0


def test_the_body_never_decides_the_actor(dispatch, db, stack, tenant_and_operator) -> None:
    tenant, user = tenant_and_operator
    response = _post(dispatch, tenant.id, raw_body='{"user_id": 1, "actor": "mallory"}')
    assert response["statusCode"] == 422
    assert db.execute("SELECT count(*) FROM audit_logs").fetchone()[0] == 0


def test_user_row_is_created_and_refreshed_from_claims(dispatch, db, stack, tenant_and_operator) -> None:
    tenant, user = tenant_and_operator
    claims = {"sub": "ignored-sub", "oid": "alice", "preferred_username": "alice@new.example", "name": "Alice N."}
    assert _post(dispatch, tenant.id, claims=claims)["statusCode"] == 202
    assert db.execute("SELECT email, name FROM users WHERE subject = 'alice'").fetchone() == (
        "alice@new.example", "Alice N.")
    assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 1


def test_idempotency_key_replays_the_first_response(dispatch, db, stack, tenant_and_operator) -> None:
    tenant, _ = tenant_and_operator
    headers = {"Idempotency-Key": "retry-1"}
    first = _post(dispatch, tenant.id, {"policy_types": ["mobileApp"]}, headers=headers)
    second = _post(dispatch, tenant.id, {"policy_types": ["mobileApp"]}, headers=headers)
    assert first["statusCode"] == second["statusCode"] == 202
    assert response_json(first) == response_json(second)
    assert len(drain(stack["run"])) == 1
    assert db.execute("SELECT count(*) FROM bulk_operation_runs").fetchone()[0] == 1
    different = _post(dispatch, tenant.id, {"policy_types": ["deviceConfiguration"]}, headers=headers)
    assert different["statusCode"] == 422
    assert "Idempotency-Key" in response_json(different)["detail"]
    assert db.execute("SELECT count(*) FROM bulk_operation_runs").fetchone()[0] == 1


def test_enqueue_failure_is_503_and_leaves_nothing_behind(dispatch, db, stack, tenant_and_operator) -> None:
    tenant, _ = tenant_and_operator
    boto3.client("sqs").delete_queue(QueueUrl=stack["run"])  # the queue is gone: every send fails
    response = _post(dispatch, tenant.id)
    assert response["statusCode"] == 503
    assert response_json(response)["status"] == 503
    assert db.execute("SELECT count(*) FROM bulk_operation_runs").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM audit_logs").fetchone()[0] == 0
