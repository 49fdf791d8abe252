"""The API's JSON, pinned: every read route and the dispatch answer, after a real sync with changes, reduced to
its shape — keys, value types, and the formats clients parse (timestamps with their UTC offset, hashes) — and
compared with tests/snapshots/api_shapes.json. A refactor of how answers are built must leave this unchanged.
After an intended change of the API, rewrite the snapshot with `INVSYNC_UPDATE_SNAPSHOTS=1` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

from tests.support.lambdas import FakeContext, claims_for, http_event, response_json

SNAPSHOT = Path(__file__).resolve().parents[1] / "snapshots" / "api_shapes.json"
OPENAPI_SNAPSHOT = SNAPSHOT.with_name("openapi.json")
ADMIN_GROUP = "5d0c3c1e-0000-4000-8000-00000000ad00"
FORMATS = [
    (re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$"), "<timestamp, +00:00>"),
    (re.compile(r"^[0-9a-f]{64}$"), "<sha256 hex>"),
]


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: shape(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, str):
        return next((name for pattern, name in FORMATS if pattern.match(value)), "str")
    return type(value).__name__


def _compare(got: Any, snapshot: Path) -> None:
    if os.environ.get("INVSYNC_UPDATE_SNAPSHOTS"):
        snapshot.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    expected = json.loads(snapshot.read_text())
    for name in sorted(set(got) | set(expected)):
        assert got.get(name) == expected.get(name), name


def test_the_api_answers_keep_their_shape(env) -> None:
    env.pipeline.rewire(admin_group_id=ADMIN_GROUP)
    gid, graph, p, t = env.graph_tenant_id, env.graph, env.pipeline, env.tenant.id

    def as_admin(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                 subject: str = "root") -> tuple[int, Any]:
        claims: dict[str, Any] = {**claims_for(subject, f"{subject}@contoso.com", subject.title()),
                                  "groups": f"[{ADMIN_GROUP}]"}
        response = p.dispatch_fn.lambda_handler(http_event(method, path, body=body, claims=claims, headers=headers),
                                                FakeContext())
        return response["statusCode"], response_json(response)

    selection = {"policy_types": ["deviceConfiguration", "settingsCatalogPolicy"], "include_foundations": True}
    dispatched = p.dispatch(t, selection)
    p.run_all()
    graph.modify_item(gid, "settingsCatalogPolicy", 1)
    graph.remove_item(gid, "deviceConfiguration", 2)
    second = p.dispatch(t, selection)
    p.run_all()
    bulk_id = second["bulk_operation_run"]["id"]
    _, op = p.api("GET", f"/bulk-operations/{bulk_id}")
    run_id = op["run"]["id"]
    _, items = p.api("GET", f"/tenants/{t}/inventory-items", query={"policy_type": "deviceConfiguration"})
    item_id = next(i["id"] for i in items["items"] if i["links"])
    pending = p.dispatch(t, {"policy_types": ["mobileApp"]})  # left pending: the widget's list is not empty
    answers: dict[str, Any] = {"POST /tenants/{id}/inventory-syncs": dispatched}
    for name, path, query in [
        ("GET /tenants", "/tenants", None),
        ("GET /tenants/{id}", f"/tenants/{t}", None),
        ("GET /tenants/{id}/inventory-syncs", f"/tenants/{t}/inventory-syncs", None),
        ("GET /tenants/{id}/inventory-syncs/{run_id}", f"/tenants/{t}/inventory-syncs/{run_id}", None),
        ("GET .../inventory-syncs/{run_id}/changes", f"/tenants/{t}/inventory-syncs/{run_id}/changes",
         {"change": "changed"}),
        ("GET /bulk-operations?status=active", "/bulk-operations", {"status": "active"}),
        ("GET /bulk-operations/{id}", f"/bulk-operations/{bulk_id}", None),
        ("GET /tenants/{id}/inventory-items", f"/tenants/{t}/inventory-items",
         {"policy_type": "deviceConfiguration"}),
        ("GET /tenants/{id}/inventory-items/{item_id}", f"/tenants/{t}/inventory-items/{item_id}", None),
        ("GET /tenants/{id}/inventory-summary", f"/tenants/{t}/inventory-summary", None),
        ("GET /tenants/{id}/audit-logs", f"/tenants/{t}/audit-logs", {"action": "inventory.sync.completed"}),
        ("GET /policy-types", "/policy-types", None),
        ("GET /tenants/{id}/inventory-items/{item_id}/history", f"/tenants/{t}/inventory-items/{item_id}/history",
         None),
        ("GET /tenants/{id}/exports/inventory-items?format=json", f"/tenants/{t}/exports/inventory-items",
         {"format": "json", "policy_type": "deviceConfiguration"}),  # one type: ids follow the types' read order
        ("GET .../exports/inventory-syncs/{run_id}/changes?format=json",
         f"/tenants/{t}/exports/inventory-syncs/{run_id}/changes", {"format": "json", "change": "changed"}),
        ("GET /tenants/{id}/exports/audit-logs?format=json", f"/tenants/{t}/exports/audit-logs",
         {"format": "json"}),
    ]:
        status, body = p.api("GET", path, query=query)
        assert status == 200, (name, body)
        answers[name] = body
    status, cancelled = p.api("POST", f"/bulk-operations/{pending['bulk_operation_run']['id']}/cancel")
    assert status == 200
    answers["POST /bulk-operations/{id}/cancel"] = cancelled

    # a retry with the same Idempotency-Key answers the first 202 body again, byte for byte
    key = {"Idempotency-Key": f"shape-{uuid.uuid4().hex}"}
    first = as_admin("POST", f"/tenants/{t}/inventory-syncs", {"policy_types": ["mobileApp"]}, key, "alice")
    p.run_all()
    again = as_admin("POST", f"/tenants/{t}/inventory-syncs", {"policy_types": ["mobileApp"]}, key, "alice")
    assert first[0] == again[0] == 202 and again[1] == first[1]
    answers["POST /tenants/{id}/inventory-syncs (replayed)"] = again[1]

    status, created = as_admin("POST", "/tenants", {
        "name": "Fabrikam", "graph_tenant_id": f"{uuid.uuid4().hex[:10]}.onmicrosoft.com",
        "credential": {"client_id": "0b9e6a4c-1f2d-4e3a-9b8c-7d6e5f4a3b2c", "client_secret": "shape-secret-1"}})
    assert status == 201, created
    answers["POST /tenants"] = created
    for name, method, path, body, expected_status in [
        ("PATCH /tenants/{id}", "PATCH", f"/tenants/{created['id']}", {"name": "Fabrikam Ltd"}, 200),
        ("PUT /tenants/{id}/members (added)", "PUT", f"/tenants/{t}/members",
         {"subject": "olivia", "email": "olivia@contoso.com", "name": "Olivia", "role": "owner"}, 201),
        ("PUT /tenants/{id}/members (changed)", "PUT", f"/tenants/{t}/members",
         {"subject": "alice", "role": "reader"}, 200),
        ("GET /tenants/{id}/members", "GET", f"/tenants/{t}/members", None, 200),
        ("GET /tenants (administrator)", "GET", "/tenants", None, 200),
    ]:
        status, answer = as_admin(method, path, body)
        assert status == expected_status, (name, answer)
        answers[name] = answer
    _compare({name: shape(body) for name, body in answers.items()}, SNAPSHOT)


def test_the_openapi_document_is_unchanged(env) -> None:
    """The document clients generate code from: exactly as pinned, not only its shape."""
    status, document = env.pipeline.api("GET", "/openapi.json")
    assert status == 200
    _compare(document, OPENAPI_SNAPSHOT)
