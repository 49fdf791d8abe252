"""The API's edge with what real clients send by default: a browser's `fetch` (text/plain), curl's `-d`
(form encoding), base64 bodies as API Gateway hands them over. Every answer is a problem document that
echoes nothing of the input, no input shape yields a 5xx, and a rejected request writes nothing."""

from __future__ import annotations

import base64
import json

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
