"""Database credentials as AWS hands them out: the secret RDS manages for an instance (username and password
only, rotated behind the service's back), read through Powertools parameters with a max age, and read again
at once when PostgreSQL refuses the password it holds."""

from __future__ import annotations

import json
import time
import uuid

import boto3
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from inventory_sync.settings import ConfigError, load_settings
from tests.support import factories
from tests.support.lambdas import FakeContext, claims_for, http_event, load_function, response_json


@pytest.fixture
def app_role(db: psycopg.Connection) -> dict[str, str]:
    """A login role of the service's own, signing in with a password (the embedded server trusts only
    `postgres`); returns its name and first password."""
    name, password = f"invsync_app_{uuid.uuid4().hex[:8]}", f"first-{uuid.uuid4().hex}"
    db.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
    db.execute(f"GRANT pg_read_all_data, pg_write_all_data TO {name}")
    return {"name": name, "password": password}


@pytest.fixture
def managed_secret(database_url: str, aws: dict[str, str], app_role: dict[str, str],
                   monkeypatch: pytest.MonkeyPatch) -> str:
    """The functions configured as the template configures them: an RDS-managed secret plus the endpoint."""
    params = conninfo_to_dict(database_url)
    arn = boto3.client("secretsmanager").create_secret(
        Name=f"rds!db-{uuid.uuid4()}",
        SecretString=json.dumps({"username": app_role["name"], "password": app_role["password"]}))["ARN"]
    monkeypatch.delenv("DATABASE_URL")
    for name, value in {"DATABASE_SECRET_ARN": arn, "DATABASE_HOST": str(params["host"]),
                        "DATABASE_PORT": str(params["port"]), "DATABASE_NAME": str(params["dbname"]),
                        "DATABASE_SSLMODE": "disable"}.items():
        monkeypatch.setenv(name, value)
    return arn


def _rotate(db: psycopg.Connection, arn: str, role: str) -> str:
    """What RDS's rotation does: a new password on the role and in the secret. Then the role's open sessions
    end (an execution environment's connection expires or was dropped while frozen)."""
    password = f"rotated-{uuid.uuid4().hex}"
    db.execute(f"ALTER ROLE {role} PASSWORD '{password}'")
    boto3.client("secretsmanager").put_secret_value(
        SecretId=arn, SecretString=json.dumps({"username": role, "password": password}))
    db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
    for _ in range(100):  # termination is asynchronous
        if not _sessions_of(db, role):
            break
        time.sleep(0.05)
    return password


def _sessions_of(db: psycopg.Connection, role: str) -> int:
    return db.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND state IS NOT NULL",
                      (role,)).fetchone()[0]


def test_the_next_invocation_after_a_rotation_connects(db: psycopg.Connection, managed_secret: str,
                                                       app_role: dict[str, str]) -> None:
    tenant = factories.tenant(db)
    factories.member(db, tenant.id, "alice", "owner")
    dispatch = load_function("dispatch")

    def list_runs() -> tuple[int, dict]:
        response = dispatch.lambda_handler(http_event("GET", f"/tenants/{tenant.id}/inventory-syncs",
                                                      claims=claims_for("alice")), FakeContext())
        return response["statusCode"], response_json(response)

    status, body = list_runs()
    assert status == 200 and body["items"] == []
    assert _sessions_of(db, app_role["name"]) == 1

    _rotate(db, managed_secret, app_role["name"])
    assert _sessions_of(db, app_role["name"]) == 0
    # the cached read (max age 300 s) still holds the old password: the server refuses it, the secret is
    # read again, and the same invocation goes on with the new one
    status, body = list_runs()
    assert status == 200 and body["items"] == []
    assert _sessions_of(db, app_role["name"]) >= 1  # a failed sign-in's backend may linger a moment

    # the advisory-lock session of run_sync opens its own connection, through the same source
    password = _rotate(db, managed_secret, app_role["name"])
    container = dispatch.container()
    with container.db.lock_session(idle_session_timeout_ms=10_000) as lock:
        assert lock.execute("SELECT current_user").fetchone() == (app_role["name"],)
    assert conninfo_to_dict(container.db.conninfo)["password"] == password


def test_a_password_the_secret_does_not_know_fails_clearly_without_echoing_it(
        db: psycopg.Connection, managed_secret: str, app_role: dict[str, str], caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The role's password changed but the secret was not updated: the invocation fails (once re-read, the
    secret still holds the refused password) with an error naming neither password."""
    monkeypatch.setenv("DB_CONNECT_TIMEOUT_SECONDS", "3")
    tenant = factories.tenant(db)
    factories.member(db, tenant.id, "alice", "owner")
    dispatch = load_function("dispatch")
    db.execute(f"ALTER ROLE {app_role['name']} PASSWORD 'unknown-to-the-secret-9f2c'")
    response = dispatch.lambda_handler(http_event("GET", f"/tenants/{tenant.id}/inventory-syncs",
                                                  claims=claims_for("alice")), FakeContext())
    assert response["statusCode"] >= 500
    text = json.dumps(response) + caplog.text
    assert app_role["password"] not in text and "unknown-to-the-secret-9f2c" not in text


def test_an_rds_managed_secret_needs_the_host(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    arn = boto3.client("secretsmanager").create_secret(
        Name=f"rds!db-{uuid.uuid4()}", SecretString=json.dumps({"username": "app", "password": "s3cr3t-pw"}))["ARN"]
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_SECRET_ARN", arn)
    monkeypatch.delenv("DATABASE_HOST", raising=False)
    with pytest.raises(ConfigError) as info:
        load_settings().database_source()
    assert "DATABASE_HOST" in str(info.value) and "s3cr3t-pw" not in str(info.value)
