"""Test session: a real PostgreSQL (embedded unless TEST_DATABASE_URL names one) and moto for AWS.

Every test that asks for ``database_url`` gets its own database cloned from a migrated
template, so tests never see each other's rows (audit_logs is append-only, so cleaning up
by DELETE is not an option anyway).
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from inventory_sync.db import migrate as migrations

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = "invsync_template"
_counter = itertools.count()


class PgAdmin:
    """Creates and drops per-test databases on the session's server."""

    def __init__(self, admin_url: str, server=None) -> None:
        self.admin_url = admin_url
        self.server = server

    def url_for(self, dbname: str) -> str:
        params = conninfo_to_dict(self.admin_url)
        params["dbname"] = dbname
        return make_conninfo("", **params)

    def execute(self, sql: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql)

    def create(self, name: str, template: str | None = None) -> str:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url_for(name)

    def drop(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg() -> Iterator[PgAdmin]:
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield PgAdmin(external)
        return
    from invsync_dev.local.embedded_pg import EmbeddedPostgres

    # not under pytest's tmp dir: that is private to root, and the server may run as another user
    base = Path(tempfile.mkdtemp(prefix="invsync-pg-"))
    base.chmod(0o755)
    server = EmbeddedPostgres(base / "data", durable=False).start()
    try:
        yield PgAdmin(server.url, server)
    finally:
        server.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def template_url(pg: PgAdmin) -> str:
    url = pg.create(TEMPLATE)
    migrations.migrate(url)
    return url


@pytest.fixture
def fresh_database(pg: PgAdmin) -> Iterator[str]:
    """An empty database (no schema) for migration tests."""
    name = f"invsync_empty_{os.getpid()}_{next(_counter)}"
    url = pg.create(name)
    yield url
    pg.drop(name)


@pytest.fixture
def database_url(pg: PgAdmin, template_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated database of this test's own; DATABASE_URL points at it."""
    name = f"invsync_t_{os.getpid()}_{next(_counter)}"
    url = pg.create(name, template=TEMPLATE)
    monkeypatch.setenv("DATABASE_URL", url)
    yield url
    pg.drop(name)


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the test's database, for arranging and asserting rows."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """moto for SQS and Secrets Manager, with the template's queues; env points the functions at them."""
    import boto3
    from moto import mock_aws

    from tests.support.lambdas import end_environments

    with mock_aws():
        sqs = boto3.client("sqs")
        dlq = sqs.create_queue(QueueName="RunDLQ")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        run_q = sqs.create_queue(QueueName="RunQueue", Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"3"}}'})["QueueUrl"]
        fin_q = sqs.create_queue(QueueName="FinalizeQueue")["QueueUrl"]
        monkeypatch.setenv("RUN_QUEUE_URL", run_q)
        monkeypatch.setenv("FINALIZE_QUEUE_URL", fin_q)
        yield {"run": run_q, "finalize": fin_q, "dlq": dlq}
        end_environments()  # before the emulator and the test's database go


@pytest.fixture
def stack(database_url: str, aws: dict[str, str]) -> dict[str, str]:
    """The database and the queues together: what the functions need."""
    return {"database_url": database_url, **aws}



@pytest.fixture(scope="session")
def graph_server():
    """The Graph stand-in over real HTTP on loopback, shared by the session."""
    from invsync_dev.local.graph_standin import GraphStandIn

    server = GraphStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def graph(graph_server, monkeypatch: pytest.MonkeyPatch):
    """The stand-in with faults cleared; the functions point at it for login and Graph."""
    graph_server.clear_faults()
    graph_server.latency_ms = 0
    monkeypatch.setenv("GRAPH_BASE_URL", graph_server.base_url)
    monkeypatch.setenv("GRAPH_AUTHORITY_HOST", graph_server.base_url)
    monkeypatch.setenv("DEADLINE_MARGIN_SECONDS", "5")
    yield graph_server
    graph_server.clear_faults()


@pytest.fixture
def env(stack: dict[str, str], graph, db):
    return _make_env(stack, graph, db)


@pytest.fixture
def server_env(database_url: str, moto_server: dict[str, str], graph, db):
    """Like `env`, with moto as a server so worker subprocesses share the queues and secrets."""
    return _make_env({"database_url": database_url, **moto_server}, graph, db)


def _make_env(stack: dict[str, str], graph, db):
    """Everything: database, queues, Graph stand-in; plus a demo tenant with its secret and an operator."""
    import json
    import uuid

    import boto3

    from tests.support import factories
    from tests.support.pipeline import Pipeline

    graph_tenant_id = f"tenant-{uuid.uuid4().hex[:12]}.onmicrosoft.com"
    tenant = factories.tenant(db, "Contoso", graph_tenant_id=graph_tenant_id)
    graph.add_tenant(graph_tenant_id, "client-app-id", "s3cr3t-value-for-tests")
    boto3.client("secretsmanager").create_secret(
        Name=f"inventory-sync/tenants/{tenant.id}",
        SecretString=json.dumps({"client_secret": "s3cr3t-value-for-tests"}))
    user = factories.member(db, tenant.id, "alice", "operator", email="alice@contoso.com", name="Alice")

    from types import SimpleNamespace

    return SimpleNamespace(tenant=tenant, user=user, graph=graph, graph_tenant_id=graph_tenant_id, db=db,
                           queues=stack, pipeline=Pipeline(stack))


@pytest.fixture
def moto_server(aws_env: None, monkeypatch: pytest.MonkeyPatch):
    """moto as a real server on loopback, for tests where another process must reach the queues."""
    import boto3
    from moto.server import ThreadedMotoServer

    from invsync_dev.local.embedded_pg import free_port
    from tests.support.lambdas import end_environments

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    import urllib.request

    # moto's backends are process-wide: start each test from an empty emulator
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName="RunDLQ")["QueueUrl"]
    run_q = sqs.create_queue(QueueName="RunQueue")["QueueUrl"]
    fin_q = sqs.create_queue(QueueName="FinalizeQueue")["QueueUrl"]
    monkeypatch.setenv("RUN_QUEUE_URL", run_q)
    monkeypatch.setenv("FINALIZE_QUEUE_URL", fin_q)
    yield {"run": run_q, "finalize": fin_q, "dlq": dlq, "endpoint": f"http://127.0.0.1:{port}"}
    end_environments()
    server.stop()


# -- log hygiene over the whole suite --------------------------------------------------------------------
# Every test's captured stdout, stderr and logs are scanned for the secrets the suite uses and for every
# token the Graph stand-in issued; any hit fails the session.
KNOWN_SECRETS = ("s3cr3t-value-for-tests", "graph-test-secret-value", "onboarding-secret-value-123",
                 "local-demo-client-secret", "burst-secret-", "rotated-secret-elsewhere", "hunter2-secret")
_leaks: list[str] = []
_captured: list[tuple[str, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    text = "\n".join(content for name, content in report.sections if name.startswith("Captured"))
    if text:
        _captured.append((report.nodeid, text))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from invsync_dev.local.graph_standin import issued_tokens

    needles = [*KNOWN_SECRETS, *issued_tokens()]
    for nodeid, text in _captured:
        for needle in needles:
            if needle in text:
                _leaks.append(f"{nodeid}: a secret or token ({needle[:6]}…) reached captured output")
                break
        if "Authorization: Bearer" in text or "'Authorization': 'Bearer" in text:
            _leaks.append(f"{nodeid}: an Authorization header reached captured output")
    _leaks[:] = sorted(set(_leaks))
    if _leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    terminalreporter.write_line(f"log hygiene: scanned the captured output of {len(_captured)} test phases "
                                f"for secrets and issued tokens: {len(_leaks)} leak(s)")
    for leak in _leaks:
        terminalreporter.write_line("LEAK " + leak, red=True)


@pytest.fixture(autouse=True)
def _function_environments_end() -> Iterator[None]:
    """Whatever function modules a test loaded, their pools close with it (fixtures with queues close them
    earlier, before their emulator goes)."""
    yield
    from tests.support.lambdas import end_environments

    end_environments()
