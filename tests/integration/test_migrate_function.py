"""The migrate function as CloudFormation runs it: custom resource requests (Create, Update, Delete) shaped
as AWS documents them, answered by a PUT to a local HTTP server standing in for the pre-signed ResponseURL."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest

from inventory_sync.db import migrate as migrations
from tests.support.lambdas import FakeContext, load_function

STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/inventory-sync/5b6b8a30-8f2e-11ef-9c1d-0a1b2c3d4e5f"
ALL_VERSIONS = [f"{m.version}_{m.name}" for m in migrations.available_migrations()]


class _ResponseUrl:
    """Stands in for CloudFormation's pre-signed S3 URL: records every request made to it."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                received.append({"method": "PUT", "path": self.path, "content_type": self.headers.get("Content-Type"),
                                 "body": json.loads(self.rfile.read(length))})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def only_answer(self) -> dict[str, Any]:
        assert len(self.requests) == 1, self.requests
        return self.requests[0]["body"]


@pytest.fixture
def response_url() -> Iterator[_ResponseUrl]:
    stand_in = _ResponseUrl()
    thread = threading.Thread(target=stand_in.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        stand_in.server.shutdown()
        stand_in.server.server_close()


@pytest.fixture
def function(fresh_database: str, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201 - the module
    monkeypatch.setenv("DATABASE_URL", fresh_database)
    monkeypatch.delenv("DATABASE_SECRET_ARN", raising=False)
    return load_function("migrate")


def _request(request_type: str, response_url: _ResponseUrl, physical_id: str | None = None) -> dict[str, Any]:
    """A custom resource request as CloudFormation sends it (see AWS's "Custom resource request objects")."""
    request_id = str(uuid.uuid4())
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:inventory-sync-MigrateFunction-AbC123",
        "ResponseURL": f"{response_url.url}/cloudformation-custom-resource-response-euwest1/"
                       f"{STACK_ID.replace(':', '%3A').replace('/', '%2F')}%7CSchemaMigration%7C{request_id}"
                       "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261129T020000Z&X-Amz-Expires=7200"
                       "&X-Amz-SignedHeaders=host&X-Amz-Credential=AKIAEXAMPLE%2F20261129%2Feu-west-1%2Fs3%2Faws4_request"
                       "&X-Amz-Signature=3f1e0c5e2b9d4a7c8e6f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d",
        "StackId": STACK_ID,
        "RequestId": request_id,
        "LogicalResourceId": "SchemaMigration",
        "ResourceType": "Custom::SchemaMigration",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:inventory-sync-MigrateFunction-AbC123",
            "SchemaVersion": "arn:aws:lambda:eu-west-1:123456789012:layer:inventory-sync-common:7",
        },
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if request_type == "Update":
        event["OldResourceProperties"] = {
            **event["ResourceProperties"],
            "SchemaVersion": "arn:aws:lambda:eu-west-1:123456789012:layer:inventory-sync-common:6"}
    return event


def _applied(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        if not conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]:
            return []
        return [f"{v}_{n}" for v, n in conn.execute("SELECT version, name FROM schema_migrations ORDER BY version")]


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def _answer_to(function, event: dict[str, Any], response_url: _ResponseUrl) -> dict[str, Any]:  # noqa: ANN001
    """Invoke with the event (five minutes to spare) and return CloudFormation's one answer, checked to be
    addressed to the request."""
    function.lambda_handler(event, FakeContext(remaining_ms=300_000))
    answer = response_url.only_answer()
    assert answer["StackId"] == event["StackId"]
    assert answer["RequestId"] == event["RequestId"]
    assert answer["LogicalResourceId"] == "SchemaMigration"
    return answer


def test_create_migrates_and_answers_success(function, fresh_database: str, response_url: _ResponseUrl) -> None:
    answer = _answer_to(function, _request("Create", response_url), response_url)

    request = response_url.requests[0]
    assert request["method"] == "PUT" and request["content_type"] == ""
    assert request["path"].startswith("/cloudformation-custom-resource-response-euwest1/")
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == function.PHYSICAL_ID
    assert answer["Data"] == {"Applied": ",".join(ALL_VERSIONS)}
    assert _applied(fresh_database) == ALL_VERSIONS
    assert {"tenants", "inventory_items", "inventory_item_changes", "audit_logs"} <= _tables(fresh_database)


def test_update_on_an_up_to_date_schema_is_a_no_op(function, fresh_database: str,
                                                   response_url: _ResponseUrl) -> None:
    migrations.migrate(fresh_database)
    tables = _tables(fresh_database)
    answer = _answer_to(function, _request("Update", response_url, physical_id="inventory-sync-schema"),
                        response_url)
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == "inventory-sync-schema"  # the same: CloudFormation replaces nothing
    assert answer["Data"] == {"Applied": "none"}
    assert _applied(fresh_database) == ALL_VERSIONS and _tables(fresh_database) == tables


def test_delete_keeps_the_schema_and_its_data(function, fresh_database: str, response_url: _ResponseUrl) -> None:
    migrations.migrate(fresh_database)
    with psycopg.connect(fresh_database) as conn:
        conn.execute("INSERT INTO tenants (name, graph_tenant_id, graph_client_id)"
                     " VALUES ('Kept', 'kept.example', 'c')")
    answer = _answer_to(function, _request("Delete", response_url, physical_id="inventory-sync-schema"),
                        response_url)
    assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] == "inventory-sync-schema"
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("SELECT name FROM tenants").fetchall() == [("Kept",)]


def test_a_failing_migration_answers_failed_and_leaves_the_schema_as_it_was(
        function, fresh_database: str, response_url: _ResponseUrl) -> None:
    """Every migration before 0003 applied, then an object in the way of 0003: its CREATE fails, and nothing
    after it runs."""
    before = [m for m in migrations.available_migrations() if m.version < "0003"]
    last = next(m for m in migrations.available_migrations() if m.version == "0003")
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(migrations._CREATE_TABLE)
        for m in before:
            conn.execute(m.sql)
            conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                         (m.version, m.name, m.checksum))
        conn.execute("CREATE TABLE inventory_item_changes (placeholder int)")
    tables = _tables(fresh_database)

    answer = _answer_to(function, _request("Update", response_url, physical_id="inventory-sync-schema"),
                        response_url)
    assert answer["Status"] == "FAILED"
    assert answer["PhysicalResourceId"] == "inventory-sync-schema"
    assert f"{last.version}_{last.name} failed" in answer["Reason"]
    assert "inventory_item_changes" in answer["Reason"] and "already exists" in answer["Reason"]
    assert len(json.dumps(answer)) < 4096
    assert _applied(fresh_database) == [f"{m.version}_{m.name}" for m in before]
    assert _tables(fresh_database) == tables
    with psycopg.connect(fresh_database) as conn:  # nothing of the failed migration stayed
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'inventory_item_changes'")]
    assert columns == ["placeholder"]


def test_a_failure_on_create_is_answered_and_the_rollbacks_delete_succeeds(
        function, fresh_database: str, response_url: _ResponseUrl, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database that cannot be reached: FAILED with a reason (the deploy rolls back), and the Delete that
    CloudFormation sends during the rollback, with the physical id it was given, succeeds."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:9/nowhere?connect_timeout=2")
    create = _request("Create", response_url)
    function.lambda_handler(create, FakeContext(remaining_ms=300_000))
    failed = response_url.only_answer()
    assert failed["Status"] == "FAILED" and "OperationalError" in failed["Reason"]

    rollback = _request("Delete", response_url, physical_id=failed["PhysicalResourceId"])
    function.lambda_handler(rollback, FakeContext(remaining_ms=300_000))
    assert response_url.requests[1]["body"]["Status"] == "SUCCESS"
    assert _applied(fresh_database) == []


def test_a_migration_waiting_past_the_deadline_is_answered_failed(function, fresh_database: str,
                                                                  response_url: _ResponseUrl) -> None:
    """Another migration holds the runner's lock past Lambda's deadline: the wait ends before it, CloudFormation
    gets FAILED with the reason before the invocation would end, and nothing is applied afterwards."""
    with psycopg.connect(fresh_database, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (migrations.MIGRATION_LOCK_KEY,))
        event = _request("Create", response_url)
        context = FakeContext(remaining_ms=6_000)
        function.lambda_handler(event, context)
        left_ms = context.get_remaining_time_in_millis()
        holder.execute("SELECT pg_advisory_unlock(%s)", (migrations.MIGRATION_LOCK_KEY,))
    answer = response_url.only_answer()
    assert answer["Status"] == "FAILED"
    assert "QueryCanceled" in answer["Reason"] and "timeout" in answer["Reason"]
    assert left_ms > 2_000  # answered with time to spare
    time.sleep(0.5)
    assert len(response_url.requests) == 1
    assert _applied(fresh_database) == []


def test_an_event_that_is_not_a_custom_resource_request_changes_nothing(function, fresh_database: str) -> None:
    function.lambda_handler({"hello": "world"}, FakeContext())
    assert _applied(fresh_database) == []
