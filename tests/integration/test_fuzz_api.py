"""API fuzzing with schemathesis against the served OpenAPI document, through the local HTTP API: no 5xx,
every 4xx a problem document, responses conform to the schema; without a token everything is 401; and
afterwards the database holds nothing a rejected request could have written."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from invsync_dev.local.embedded_pg import free_port
from invsync_dev.local.http_api import request

ACCEPTED: list[int] = []


class LiveApi:
    """Where the API runs; its repr leaves the token out of test reports."""

    def __init__(self, url: str, token: str, database_url: str, tenant_id: int) -> None:
        self.url, self.token, self.database_url, self.tenant_id = url, token, database_url, tenant_id

    def __repr__(self) -> str:
        return f"LiveApi({self.url})"


@pytest.fixture(scope="module")
def live_api(pg, template_url):
    """The local stack on its own database for this module."""
    from invsync_dev.local.stack import LocalStack

    name = f"invsync_fuzz_{os.getpid()}"
    url = pg.create(name, template="invsync_template")
    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "AWS_ENDPOINT_URL", "RUN_QUEUE_URL",
                                            "FINALIZE_QUEUE_URL", "POWERTOOLS_LOG_LEVEL")}
    os.environ.update({"DATABASE_URL": url, "POWERTOOLS_LOG_LEVEL": "ERROR"})
    data = Path(tempfile.mkdtemp(prefix="invsync-fuzz-"))
    stack = LocalStack(data, api_port=free_port(), aws_port=free_port(), run_workers=0, sweep_every=3600).start()
    try:
        demo = stack.ensure_demo()
        yield LiveApi(stack.api.url, demo.token, url, demo.tenant_id)
    finally:
        stack.stop()
        shutil.rmtree(data, ignore_errors=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        pg.drop(name)


@pytest.fixture(scope="module")
def api_schema(live_api):
    status, document, _ = request(f"{live_api.url}/openapi.json", token=live_api.token)
    assert status == 200
    schema = schemathesis.openapi.from_dict(document)
    return schema


def _content_type(response) -> str:
    for name, value in response.headers.items():
        if name.lower() == "content-type":
            return value[0] if isinstance(value, list) else value
    return ""


def _is_problem(response) -> bool:
    body = response.json()
    return (_content_type(response).startswith("application/problem+json")
            and isinstance(body, dict) and body.get("status") == response.status_code and "title" in body)


def _operations(api_schema):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    return operations


def test_fuzz_with_a_valid_token(api_schema, live_api) -> None:
    """Driven per operation with Hypothesis (schemathesis' pytest plugin does not load under pytest 9)."""
    headers = {"Authorization": f"Bearer {live_api.token}"}
    calls = 0
    for operation in _operations(api_schema):
        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def fuzz(case) -> None:
            nonlocal calls
            # not checked: "every schema-valid request is accepted" — opaque cursors and selections that name
            # nothing enabled are schema-valid yet rightly 422; all other checks run
            response = case.call_and_validate(base_url=live_api.url, headers=headers,
                                              excluded_checks=[positive_data_acceptance])
            calls += 1
            assert response.status_code < 500, response.text
            if response.status_code >= 400:
                assert _is_problem(response), response.text
            if response.status_code == 202 and case.method == "POST" and case.path.endswith("inventory-syncs"):
                ACCEPTED.append(response.json()["bulk_operation_run"]["id"])

        fuzz()
    assert calls >= 50


def _hostile_fuzz(operation, live_api: LiveApi) -> int:
    """One operation's generated requests with hostile values put in; returns how many were sent."""
    from urllib.parse import quote

    from hypothesis import strategies as st

    from tests.support.hostile import cursors, url_ids, url_text

    query_names = [p.name for p in operation.query]
    path_names = [p.name for p in operation.path_parameters]
    sent = []

    @given(case=operation.as_strategy(), data=st.data())
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    def hostile(case, data) -> None:
        if "tenant_id" in path_names and case.method.upper() == "GET":  # the caller's own: past the member check
            case.path_parameters = {**(case.path_parameters or {}), "tenant_id": live_api.tenant_id}
        for name in data.draw(st.lists(st.sampled_from(query_names), unique=True)) if query_names else []:
            case.query = {**(case.query or {}), name: data.draw(cursors if name == "cursor" else url_text)}
        for name in data.draw(st.lists(st.sampled_from(path_names), unique=True)) if path_names else []:
            case.path_parameters = {**(case.path_parameters or {}), name: quote(data.draw(url_ids), safe="")}
        response = case.call(base_url=live_api.url, headers={"Authorization": f"Bearer {live_api.token}"})
        sent.append(1)
        assert response.status_code < 500, (case.formatted_path, case.query, response.text)
        if response.status_code >= 400:
            assert _is_problem(response), response.text
        if response.status_code == 202 and case.method == "POST" and case.path.endswith("inventory-syncs"):
            ACCEPTED.append(response.json()["bulk_operation_run"]["id"])

    if query_names or path_names:
        hostile()
    return len(sent)


def test_fuzz_with_hostile_values(api_schema, live_api) -> None:
    """The generated requests with hostile values put in their query parameters, cursors and path ids (NUL,
    numbers beyond bigint, nested cursors, odd Unicode: tests/support/hostile.py), which schemathesis, generating
    from the schema, never sends: still no 5xx, every 4xx a problem document."""
    assert sum(_hostile_fuzz(operation, live_api) for operation in _operations(api_schema)) >= 100


NOT_JSON = ["text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
            "application/xml", "application/octet-stream", "text/html"]


def _raw_post(url: str, token: str, data: bytes, content_type: str) -> tuple[int, bytes, str]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, data=data, method="POST",  # noqa: S310 - the loopback test server
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
            return resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers.get("Content-Type", "")


def test_fuzz_bodies_in_other_content_types_and_encodings(api_schema, live_api) -> None:
    """The generated request bodies sent as a browser's fetch, curl -d, a form or XML would send them: 415;
    arbitrary bytes as JSON (not UTF-8 ones reach the function base64-encoded, as from API Gateway): never a
    5xx. Every refusal is a problem document that does not contain the body."""
    import json

    from hypothesis import strategies as st

    posts = [op for op in _operations(api_schema) if op.method.upper() == "POST" and op.path.endswith("syncs")]
    assert posts
    for operation in posts:
        @given(case=operation.as_strategy(), content_type=st.sampled_from(NOT_JSON))
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def other_types(case, content_type) -> None:
            generated = case.body if isinstance(case.body, dict | list | str | int | float | bool) else None
            body = json.dumps(generated if generated is not None else {"policy_types": ["mobileApp"]}).encode()
            status, raw, answered = _raw_post(live_api.url + case.formatted_path, live_api.token, body, content_type)
            assert status in (404, 415), raw  # 404: a generated tenant id nobody is a member of
            assert answered.startswith("application/problem+json") and body not in raw

        other_types()

        @given(case=operation.as_strategy(), data=st.binary(min_size=1, max_size=300))
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def any_bytes(case, data) -> None:
            status, raw, answered = _raw_post(live_api.url + case.formatted_path, live_api.token, data,
                                              "application/json")
            assert status < 500, raw
            if status >= 400:
                assert answered.startswith("application/problem+json")
                assert len(data) < 8 or data not in raw
            elif status == 202:
                ACCEPTED.append(json.loads(raw)["bulk_operation_run"]["id"])

        any_bytes()


def test_fuzz_without_a_token_is_always_401(api_schema, live_api) -> None:
    for operation in _operations(api_schema):
        @given(case=operation.as_strategy())
        @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def fuzz(case) -> None:
            assert case.call(base_url=live_api.url).status_code == 401

        fuzz()


def test_rejected_requests_wrote_nothing(live_api) -> None:
    with psycopg.connect(live_api.database_url, autocommit=True) as conn:
        ops = [r[0] for r in conn.execute("SELECT id FROM bulk_operation_runs ORDER BY id").fetchall()]
        dispatched = conn.execute("SELECT count(*) FROM audit_logs WHERE action = 'inventory.sync.dispatched'"
                                  ).fetchone()[0]
        keys = conn.execute("SELECT count(*) FROM idempotency_keys").fetchone()[0]
        runs = conn.execute("SELECT count(*) FROM inventory_sync_runs").fetchone()[0]
    assert sorted(ACCEPTED) == ops  # only accepted dispatches left rows
    assert dispatched == len(ops) and keys <= len(ops) and runs == 0
