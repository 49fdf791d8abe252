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
from psycopg import sql

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
    # the stand-in answers on loopback, which the function accepts only beside a local AWS emulator
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
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
    """The schema's tables, but for the function's record of the requests it answered."""
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                                           " AND tablename <> 'schema_migration_requests'")}


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
    assert answer["Data"] == {"Applied": ",".join(ALL_VERSIONS),
                              "Configuration": function.configuration_hash(_request("Create", response_url)[
                                  "ResourceProperties"])}
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
    assert answer["Data"]["Applied"] == "none"
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
    assert answer["Reason"].startswith(("QueryCanceled", "LockNotAvailable")) and "timeout" in answer["Reason"]
    assert left_ms > 2_000  # answered with time to spare
    time.sleep(0.5)
    assert len(response_url.requests) == 1
    assert _applied(fresh_database) == []


def test_an_event_that_is_not_a_custom_resource_request_changes_nothing(function, fresh_database: str) -> None:
    function.lambda_handler({"hello": "world"}, FakeContext())
    assert _applied(fresh_database) == []


# --- answers only CloudFormation, once per request, never FAILED then committed --------------------------------

def test_a_forged_response_url_is_ignored_and_nothing_is_sent_or_migrated(
        function, fresh_database: str, response_url: _ResponseUrl, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """In AWS (no local emulator) a request whose ResponseURL is a plain http URL on a host of the sender's
    choosing gets no answer there, and migrates nothing."""
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    forged = {**_request("Create", response_url), "ResponseURL": f"{response_url.url}/collect"}
    function.lambda_handler(forged, FakeContext(remaining_ms=300_000))
    assert response_url.requests == []
    assert _applied(fresh_database) == []
    logged = caplog.text
    assert "ResponseURL is not CloudFormation's" in logged and "/collect" not in logged


@pytest.mark.parametrize("url", [
    "https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/arn%3Aaws?X-Amz-Signature=1",
    "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn?X-Amz-Signature=1",
    "https://s3-eu-west-1.amazonaws.com/cloudformation-custom-resource-response-euwest1/arn?X-Amz-Signature=1",
    "https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/arn?X=1",
])
def test_cloudformations_response_urls_are_answered(function, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert function.response_url_allowed(url)


@pytest.mark.parametrize("url", [
    "http://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/arn",  # not https
    "https://attacker.example/collect",
    "https://s3.amazonaws.com.attacker.example/collect",
    "https://amazonaws.com/collect",
    "https://s3.amazonaws.com:8443/collect",
    "https://user:pw@s3.amazonaws.com/collect",
    "https://169.254.169.254/latest/meta-data",
    "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",  # loopback, without a local emulator
    "file:///etc/passwd",
    "https://[::1/collect",
])
def test_other_response_urls_are_refused(function, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert not function.response_url_allowed(url)


def test_a_retried_invocation_answers_the_same_and_migrates_nothing_twice(
        function, fresh_database: str, response_url: _ResponseUrl) -> None:
    """Lambda retries an asynchronous invocation that failed (CloudFormation's is one): the same event again."""
    event = _request("Create", response_url)
    first = _answer_to(function, event, response_url)
    with psycopg.connect(fresh_database) as conn:
        applied_at = conn.execute("SELECT version, applied_at FROM schema_migrations ORDER BY version").fetchall()
    function.lambda_handler(event, FakeContext(remaining_ms=300_000))
    assert len(response_url.requests) == 2
    second = response_url.requests[1]["body"]
    assert first["Status"] == "SUCCESS" and second == first  # Data included: the versions the first applied
    assert first["Data"]["Applied"] == ",".join(ALL_VERSIONS)
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("SELECT version, applied_at FROM schema_migrations ORDER BY version"
                            ).fetchall() == applied_at
    # another request (the next deploy) migrates again, and finds nothing to do
    function.lambda_handler(_request("Update", response_url, physical_id="inventory-sync-schema"),
                            FakeContext(remaining_ms=300_000))
    assert response_url.requests[2]["body"]["Data"]["Applied"] == "none"


def test_a_request_answered_failed_at_its_deadline_is_answered_failed_again_on_retry(
        function, fresh_database: str, response_url: _ResponseUrl) -> None:
    """The deadline answered FAILED while the lock was held; the retry comes when the lock is free: it must not
    migrate (CloudFormation is rolling back) and answers FAILED again."""
    event = _request("Create", response_url)
    with psycopg.connect(fresh_database, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (migrations.MIGRATION_LOCK_KEY,))
        function.lambda_handler(event, FakeContext(remaining_ms=6_000))
        holder.execute("SELECT pg_advisory_unlock(%s)", (migrations.MIGRATION_LOCK_KEY,))
    first = response_url.only_answer()
    assert first["Status"] == "FAILED"
    function.lambda_handler(event, FakeContext(remaining_ms=300_000))
    assert response_url.requests[1]["body"] == first
    assert _applied(fresh_database) == []


def test_the_whole_migration_is_bounded_and_a_failed_answer_never_commits(
        function, fresh_database: str, response_url: _ResponseUrl) -> None:
    """The lock wait and the last migration's statement each end within the per-statement timeout, but
    together they outlast the deadline: the answer is FAILED and the schema stays as it was - then and later."""
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(migrations._CREATE_TABLE)
        for m in migrations.available_migrations()[:-1]:
            conn.execute(m.sql)
            conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                         (m.version, m.name, m.checksum))
    holder = psycopg.connect(fresh_database)
    holder.execute("SELECT pg_advisory_lock(%s)", (migrations.MIGRATION_LOCK_KEY,))
    # the last migration's statements wait on the tables the earlier ones made (whichever it changes)
    tables = sorted(_tables(fresh_database) - {"schema_migrations"})
    holder.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
        sql.SQL(", ").join(sql.Identifier(t) for t in tables)))

    def release() -> None:
        time.sleep(1.6)  # under the per-statement timeout (2 s of a 6 s invocation)
        holder.execute("SELECT pg_advisory_unlock(%s)", (migrations.MIGRATION_LOCK_KEY,))
        time.sleep(1.6)  # and again: 3.2 s in all, past the deadline's 3 s
        holder.rollback()

    releaser = threading.Thread(target=release)
    releaser.start()
    try:
        function.lambda_handler(_request("Update", response_url, physical_id="inventory-sync-schema"),
                                FakeContext(remaining_ms=6_000))
    finally:
        releaser.join()
        holder.close()
    time.sleep(1.0)
    answer = response_url.only_answer()
    assert answer["Status"] == "FAILED"
    assert _applied(fresh_database) == ALL_VERSIONS[:-1]


def test_the_configuration_hash_follows_the_database_target_and_the_functions_configuration(
        function, response_url: _ResponseUrl) -> None:
    """The stack names this hash in its functions' version description: a new value of a parameter the versions
    snapshot (which SAM's own version hash does not see) must change it; the layer and the token must not."""
    properties = _request("Update", response_url)["ResourceProperties"]
    properties = {**properties, "DatabaseHost": "db-a.internal", "FunctionConfiguration": {
        "DisabledPolicyTypes": "", "SubnetIds": ["subnet-a", "subnet-b"]}}
    base = function.configuration_hash(properties)
    assert len(base) == 16
    assert function.configuration_hash({**properties, "SchemaVersion": "arn:...:layer:inventory-sync-common:8",
                                        "ServiceToken": "arn:...:function:other"}) == base
    for changed in ({"DatabaseHost": "db-b.internal"}, {"DatabaseSecretArn": "arn:aws:secretsmanager:x"},
                    {"FunctionConfiguration": {"DisabledPolicyTypes": "mobileApp",
                                               "SubnetIds": ["subnet-a", "subnet-b"]}},
                    {"FunctionConfiguration": {"DisabledPolicyTypes": "", "SubnetIds": ["subnet-a"]}}):
        assert function.configuration_hash({**properties, **changed}) != base, changed
