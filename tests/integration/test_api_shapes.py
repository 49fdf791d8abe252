"""The API's JSON, pinned: every read route and the dispatch answer, after a real sync with changes, reduced to
its shape — keys, value types, and the formats clients parse (timestamps with their UTC offset, hashes) — and
compared with tests/snapshots/api_shapes.json. A refactor of how answers are built must leave this unchanged.
After an intended change of the API, rewrite the snapshot with `INVSYNC_UPDATE_SNAPSHOTS=1` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).resolve().parents[1] / "snapshots" / "api_shapes.json"
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


def test_the_api_answers_keep_their_shape(env) -> None:
    gid, graph, p, t = env.graph_tenant_id, env.graph, env.pipeline, env.tenant.id
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
    ]:
        status, body = p.api("GET", path, query=query)
        assert status == 200, (name, body)
        answers[name] = body
    status, cancelled = p.api("POST", f"/bulk-operations/{pending['bulk_operation_run']['id']}/cancel")
    assert status == 200
    answers["POST /bulk-operations/{id}/cancel"] = cancelled
    got = {name: shape(body) for name, body in answers.items()}
    if os.environ.get("INVSYNC_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    for name in sorted(set(got) | set(expected)):
        assert got.get(name) == expected.get(name), name
