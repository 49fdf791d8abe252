"""The API's edge with what real clients send by default: a browser's `fetch` (text/plain), curl's `-d`
(form encoding), base64 bodies as API Gateway hands them over. Every answer is a problem document that
echoes nothing of the input, no input shape yields a 5xx, and a rejected request writes nothing."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import psycopg
import pytest

from tests.support import factories
from tests.support.lambdas import FakeContext, claims_for, http_event, load_function, response_json
from tests.support.queues import drain

MARKER = "zq-echo-marker-7319"  # if this comes back in an answer, the input was echoed


@pytest.fixture
def dispatch():
    return load_function("dispatch")


@pytest.fixture
def tenant_id(db: psycopg.Connection, stack: dict[str, str]) -> int:
    tenant = factories.tenant(db)
    factories.member(db, tenant.id, "alice", "operator", email="alice@contoso.com", name="Alice")
    return tenant.id


def _post(dispatch, tenant_id: int, raw_body: str | None, content_type: str | None, *, base64_body: bool = False):
    event = http_event("POST", f"/tenants/{tenant_id}/inventory-syncs", raw_body=raw_body,
                       claims=claims_for("alice", "alice@contoso.com"))
    if content_type is None:
        del event["headers"]["content-type"]
    else:
        event["headers"]["content-type"] = content_type
    if base64_body:
        event["isBase64Encoded"] = True
    return dispatch.lambda_handler(event, FakeContext())


def _written(db: psycopg.Connection) -> tuple[int, int]:
    row = db.execute("SELECT (SELECT count(*) FROM bulk_operation_runs), (SELECT count(*) FROM audit_logs)"
                     ).fetchone()
    assert row is not None
    return row[0], row[1]


def _assert_problem(response, status: int) -> dict:
    assert response["statusCode"] == status, response
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert MARKER not in response["body"]
    problem = response_json(response)
    assert problem["status"] == status and problem["title"] and problem["detail"]
    return problem


JSON_BODY = json.dumps({"policy_types": ["mobileApp"], "include_foundations": False})


@pytest.mark.parametrize(("raw", "content_type"), [
    (JSON_BODY, "text/plain;charset=UTF-8"),  # fetch(url, {method: "POST", body: JSON.stringify(...)})
    (f"policy_types=mobileApp&note={MARKER}", "application/x-www-form-urlencoded"),  # curl -d
    (f"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n{MARKER}\r\n--b--", "multipart/form-data; boundary=b"),
    (f"<selection>{MARKER}</selection>", "application/xml"),
    (JSON_BODY, "application/jsonp"),
])
def test_a_body_that_is_not_json_is_415(dispatch, db, stack, tenant_id, raw, content_type) -> None:
    before = _written(db)
    problem = _assert_problem(_post(dispatch, tenant_id, raw, content_type), 415)
    assert "application/json" in problem["detail"]
    assert _written(db) == before and drain(stack["run"]) == []


@pytest.mark.parametrize("raw", [
    base64.b64encode(b"\xff\xfe{\"policy_types\": []}").decode(),  # bytes that are not UTF-8
    base64.b64encode(MARKER.encode("utf-16")).decode(),
    f"not base64 at all {MARKER}!",
])
def test_base64_bodies_that_are_not_utf8_are_400(dispatch, db, stack, tenant_id, raw) -> None:
    before = _written(db)
    _assert_problem(_post(dispatch, tenant_id, raw, "application/json", base64_body=True), 400)
    assert _written(db) == before and drain(stack["run"]) == []


@pytest.mark.parametrize(("raw", "content_type", "encode"), [
    (JSON_BODY, "application/json; charset=utf-8", False),
    (JSON_BODY, "Application/JSON", False),
    (JSON_BODY, None, False),  # no Content-Type: read as JSON
    (JSON_BODY, "application/json", True),  # base64 as API Gateway passes some bodies
    ("", "text/plain", False),  # no body at all: the full inventory, whatever the header says
])
def test_json_in_its_usual_spellings_is_accepted(dispatch, db, stack, tenant_id, raw, content_type, encode) -> None:
    body = base64.b64encode(raw.encode()).decode() if encode else raw
    response = _post(dispatch, tenant_id, body or None, content_type, base64_body=encode)
    assert response["statusCode"] == 202, response
    assert len(drain(stack["run"])) == 1


@pytest.mark.parametrize("raw", [
    json.dumps({"policy_types": ["mobileApp"], MARKER: True}),
    json.dumps({"policy_types": [MARKER]}),
    json.dumps({"categories": ["Apps", MARKER]}),
    json.dumps({"include_foundations": MARKER}),
    json.dumps({"policy_types": [{MARKER: 1}]}),
])
def test_validation_errors_say_where_not_what(dispatch, db, stack, tenant_id, raw) -> None:
    before = _written(db)
    problem = _assert_problem(_post(dispatch, tenant_id, raw, "application/json"), 422)
    assert problem["errors"]
    assert _written(db) == before


def test_no_input_shape_is_a_server_error(dispatch, db, stack, tenant_id) -> None:
    bodies = ["", "null", "0", '"x"', "{}", "[]", "{", "\x00", "\ud800", json.dumps({"a": [1] * 10}), "é" * 50,
              json.dumps({"policy_types": None}), json.dumps({"policy_types": ["mobileApp"] * 500})]
    types = [None, "application/json", "text/plain", "application/octet-stream", "application/json; charset=latin-1",
             "application/problem+json", ";;", "*/*"]
    before = _written(db)
    for raw in bodies:
        for content_type in types:
            for encode in (False, True):
                body = base64.b64encode(raw.encode("utf-8", "surrogatepass")).decode() if encode else raw
                response = _post(dispatch, tenant_id, body or None, content_type, base64_body=encode)
                assert response["statusCode"] < 500, (raw, content_type, encode, response)
                if response["statusCode"] >= 400:
                    assert response["headers"]["Content-Type"] == "application/problem+json"
    accepted = len(drain(stack["run"]))
    assert _written(db)[0] - before[0] == accepted


# -- hostile input: each class refused at the edge (domain/limits.py), never a 5xx --------------------------------

def _call(dispatch, method: str, path: str, *, query: dict[str, str] | None = None, claims: dict | None = None,
          raw_body: str | None = None) -> dict:
    event = http_event(method, path, query=query and {k: "x" for k in query}, raw_body=raw_body,
                       claims=claims or claims_for("alice", "alice@contoso.com", "Alice"))
    if query:  # as API Gateway hands them over, decoded (a lone surrogate cannot be URL-encoded)
        event["queryStringParameters"] = query
        event["rawQueryString"] = urlencode(query, errors="surrogatepass")
    return dispatch.lambda_handler(event, FakeContext())


@pytest.fixture
def ids(db: psycopg.Connection, tenant_id: int) -> dict[str, int]:
    """A run and an item of the tenant, so that routes under them reach their cursor."""
    bulk = db.execute("INSERT INTO bulk_operation_runs (tenant_id, resource, action, status, total_items, item_ids,"
                      " selection_hash, trigger, correlation_id) VALUES (%s, 'inventory', 'sync', 'pending', 1,"
                      " '[]', repeat('a', 64), 'api', 'c') RETURNING id", (tenant_id,)).fetchone()[0]
    run = db.execute("INSERT INTO inventory_sync_runs (tenant_id, bulk_operation_run_id, selection_hash,"
                     " selection_payload) VALUES (%s, %s, repeat('a', 64), '{}') RETURNING id",
                     (tenant_id, bulk)).fetchone()[0]
    item = db.execute("INSERT INTO inventory_items (tenant_id, policy_type, external_id, payload, content_hash)"
                      " VALUES (%s, 'mobileApp', 'x', '{}', repeat('0', 64)) RETURNING id", (tenant_id,)).fetchone()[0]
    return {"tenant_id": tenant_id, "run_id": run, "item_id": item, "bulk_id": bulk, "user_id": 1}


def _get_operations(dispatch) -> list[tuple[str, list[str]]]:
    """Every GET route of the OpenAPI document with its query parameters."""
    dispatch.container()  # wires the resolver's routes
    from inventory_sync.api.routes import openapi_json

    paths = json.loads(openapi_json())["paths"]
    return [(path, [p["name"] for p in op.get("parameters", []) if p["in"] == "query"])
            for path, item in paths.items() for method, op in item.items() if method == "get"]


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


HUGE_CURSORS = ['{"id": 1e999}', '{"id": 9223372036854775808}', '{"id": 1' + "0" * 40 + "}",
                '{"id": 9007199254740992}', '{"id": -1e999}', '{"id": true}', '{"id": 1.5}', '{"id": "7"}',
                "[" * 70 + "]" * 70, '{"id": NaN}']


def test_cursors_of_huge_or_odd_ids_are_422_on_every_cursor_route(dispatch, db, stack, ids) -> None:
    routes = [path for path, query in _get_operations(dispatch) if "cursor" in query]
    assert len(routes) >= 7
    before = _written(db)
    for template in routes:
        path = template.format(**ids)
        for raw in HUGE_CURSORS:
            answer = _call(dispatch, "GET", path, query={"cursor": _cursor(raw)})
            problem = _assert_problem(answer, 422)
            assert problem["errors"] == [{"field": "cursor", "message": "not a cursor"}], (path, raw)
    assert _written(db) == before


def test_a_nul_anywhere_is_400_and_writes_nothing(dispatch, db, stack, ids) -> None:
    """PostgreSQL text refuses NUL: in any query parameter of any route, or in a claim, it is the caller's
    mistake (400), not the database's (500)."""
    before = _written(db), db.execute("SELECT count(*), max(updated_at) FROM users").fetchone()
    checked = 0
    for template, query in _get_operations(dispatch):
        for name in query:
            for value in ("a\x00b", "\x00", "\ud800"):
                answer = _call(dispatch, "GET", template.format(**ids), query={name: value})
                assert _assert_problem(answer, 400)["errors"][0]["in"] == "query"
                checked += 1
    assert checked >= 30
    for claim in ("name", "email"):
        claims = {**claims_for("alice", "alice@contoso.com", "Alice"), claim: "Eve\x00"}
        problem = _assert_problem(_call(dispatch, "GET", "/tenants", claims=claims), 400)
        assert problem["errors"][0]["in"] == "token"
    escaped = json.dumps({"policy_types": ["mobileApp\x00"]})  # "\u0000": valid JSON, unstorable text
    problem = _assert_problem(_call(dispatch, "POST", f"/tenants/{ids['tenant_id']}/inventory-syncs",
                                    raw_body=escaped), 400)
    assert problem["errors"][0]["in"] == "body"
    assert (_written(db), db.execute("SELECT count(*), max(updated_at) FROM users").fetchone()) == before


@pytest.mark.parametrize("raw", ["[" * 20_000 + "]" * 20_000, '{"a":' * 10_000 + "1" + "}" * 10_000,
                                 "[" * 30_000, '{"policy_types": ' + "[" * 33 + "]" * 33 + "}"])
def test_a_body_nested_deeper_than_the_limit_is_400(dispatch, db, stack, tenant_id, raw) -> None:
    before = _written(db)
    problem = _assert_problem(_post(dispatch, tenant_id, raw, "application/json"), 400)
    assert "nests deeper than 32 levels" in problem["detail"]
    assert _written(db) == before and drain(stack["run"]) == []


def test_brackets_inside_strings_are_not_nesting(dispatch, db, stack, tenant_id) -> None:
    raw = json.dumps({"policy_types": ["[" * 5000 + '\\"{' * 100]})
    problem = _assert_problem(_post(dispatch, tenant_id, raw, "application/json"), 422)
    assert problem["errors"]


def test_an_unknown_path_is_not_repeated_and_every_answer_says_nosniff(dispatch, db, stack, tenant_id) -> None:
    answer = _call(dispatch, "GET", f"/no-such-{MARKER}/route")
    problem = _assert_problem(answer, 404)
    assert problem["detail"] == "no route for this method and path"
    answers = [answer, _call(dispatch, "GET", "/tenants"), _call(dispatch, "GET", f"/tenants/{tenant_id}/audit-logs"),
               _post(dispatch, tenant_id, "x" * (65 * 1024), "application/json"),
               dispatch.lambda_handler(http_event("GET", "/tenants"), FakeContext())]
    assert [a["statusCode"] for a in answers] == [404, 200, 200, 413, 401]
    assert all(a["headers"]["X-Content-Type-Options"] == "nosniff" for a in answers)


def test_an_unexpected_error_is_a_problem_document_with_the_headers(dispatch, db, stack, tenant_id,
                                                                     monkeypatch, caplog) -> None:
    from inventory_sync.services import queries

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"boom {MARKER}")

    monkeypatch.setattr(queries, "list_runs", broken)
    answer = _call(dispatch, "GET", f"/tenants/{tenant_id}/inventory-syncs")
    problem = _assert_problem(answer, 500)
    assert problem["detail"] == "internal error" and answer["headers"]["X-Content-Type-Options"] == "nosniff"
    assert "unhandled error" in caplog.text
