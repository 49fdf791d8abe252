"""Property: whatever a caller puts in any route's query parameters, cursors, path ids and body — NUL, lone
surrogates, huge or odd numbers, deep nesting, odd Unicode — the API answers below 500, every refusal is a
problem document that does not repeat the input, and nothing is written.

Every route comes from the served OpenAPI document, so a route added later is covered without a change here.
The caller owns a tenant with a run, an item and a finished operation, so the routes get past their membership
checks and reach the parameters.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

import boto3
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import factories
from tests.support.hostile import bodies, cursors, ids, text
from tests.support.lambdas import FakeContext, claims_for, http_event, load_function, response_json


@pytest.fixture
def world(db: psycopg.Connection, stack: dict[str, str]) -> dict[str, Any]:
    tenant = factories.tenant(db)
    factories.member(db, tenant.id, "alice", "owner", email="alice@contoso.com", name="Alice")
    bulk = db.execute("INSERT INTO bulk_operation_runs (tenant_id, resource, action, status, total_items, item_ids,"
                      " selection_hash, trigger, correlation_id, finished_at) VALUES (%s, 'inventory', 'sync',"
                      " 'aborted', 1, '[]', repeat('a', 64), 'api', 'c', now()) RETURNING id",
                      (tenant.id,)).fetchone()[0]
    run = db.execute("INSERT INTO inventory_sync_runs (tenant_id, bulk_operation_run_id, selection_hash,"
                     " selection_payload) VALUES (%s, %s, repeat('a', 64), '{}') RETURNING id",
                     (tenant.id, bulk)).fetchone()[0]
    item = db.execute("INSERT INTO inventory_items (tenant_id, policy_type, external_id, payload, content_hash)"
                      " VALUES (%s, 'mobileApp', 'x', '{}', repeat('0', 64)) RETURNING id", (tenant.id,)).fetchone()[0]
    return {"tenant_id": str(tenant.id), "run_id": str(run), "item_id": str(item), "bulk_id": str(bulk)}


def _state(db: psycopg.Connection) -> tuple:
    """Everything a request could write: rows and their last change, queued messages, stored secrets."""
    counts = db.execute(
        "SELECT (SELECT count(*) FROM tenants), (SELECT max(updated_at) FROM tenants),"
        " (SELECT count(*) FROM tenant_memberships), (SELECT string_agg(role, ',' ORDER BY user_id)"
        " FROM tenant_memberships), (SELECT count(*) FROM users), (SELECT max(updated_at) FROM users),"
        " (SELECT count(*) FROM audit_logs), (SELECT count(*) FROM bulk_operation_runs),"
        " (SELECT max(updated_at) FROM bulk_operation_runs), (SELECT count(*) FROM inventory_sync_runs),"
        " (SELECT count(*) FROM idempotency_keys), (SELECT count(*) FROM inventory_items)").fetchone()
    secrets = boto3.client("secretsmanager").list_secrets()["SecretList"]
    return counts, len(secrets)


def _operations(api) -> list[tuple[str, str, list[str]]]:
    api.container()  # wires the resolver's routes
    from inventory_sync.api.routes import openapi_json

    paths = json.loads(openapi_json())["paths"]
    return [(method.upper(), path, [p["name"] for p in op.get("parameters", []) if p["in"] == "query"])
            for path, item in paths.items() for method, op in item.items()]


def _fill(template: str, known: dict[str, str], draw: Any) -> str:
    """Each path id: the world's own (so the route reaches its parameters) or a hostile one, URL-encoded as
    API Gateway would pass it."""
    out = template
    while "{" in out:
        name = out[out.index("{") + 1:out.index("}")]
        value = draw(st.sampled_from([known.get(name, "1")]) | ids) if name in known else draw(ids)
        out = out.replace("{" + name + "}", quote(value.encode("utf-8", "surrogatepass"), safe=""), 1)
    return out


def _hostile_requests(api, world: dict[str, str], method: str, template: str, query_names: list[str]):
    """The property for one route, as a Hypothesis test; returns how many requests it made."""
    calls = []

    @given(data=st.data())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    def hostile(data) -> None:
        path = _fill(template, world, data.draw)
        names = data.draw(st.lists(st.sampled_from(query_names), unique=True)) if query_names else []
        query = {name: data.draw(cursors if name == "cursor" else text) for name in names}
        body = data.draw(bodies) if method in ("POST", "PUT", "PATCH") else None
        event = http_event(method, path, claims=claims_for("alice", "alice@contoso.com", "Alice"), raw_body=body)
        if query:  # decoded, as API Gateway hands them over
            event["queryStringParameters"] = query
            event["rawQueryString"] = urlencode(query, errors="surrogatepass")
        answer = api.lambda_handler(event, FakeContext())
        calls.append(1)
        status = answer["statusCode"]
        assert status < 500, (method, path, query, answer)
        assert answer["headers"]["X-Content-Type-Options"] == "nosniff"
        if status >= 400:
            problem = response_json(answer)
            assert answer["headers"]["Content-Type"] == "application/problem+json"
            assert problem["status"] == status and problem["detail"]
            for value in query.values():  # (long enough not to occur in a problem document by chance)
                echoed = len(value) >= 8 and not value.lstrip("-").isdigit() and value in answer["body"]
                assert not echoed, (value, answer["body"])

    hostile()
    return len(calls)


def test_no_hostile_parameter_or_body_answers_5xx_or_writes(db, world) -> None:
    api = load_function("dispatch")
    operations = _operations(api)
    assert len(operations) >= 15
    before = _state(db)
    calls = sum(_hostile_requests(api, world, method, template, names) for method, template, names in operations)
    assert calls >= 25 * len(operations) * 0.9
    assert _state(db) == before
