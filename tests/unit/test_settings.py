"""Configuration is read once and fails loudly, naming the variable."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws
from psycopg.conninfo import conninfo_to_dict

from inventory_sync.settings import ConfigError, DispatchSettings, RunSyncSettings, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "DATABASE_SECRET_ARN", "RUN_QUEUE_URL", "FINALIZE_QUEUE_URL",
                 "SYNC_CONCURRENCY", "ENABLED_POLICY_TYPES", "DISABLED_POLICY_TYPES", "GRAPH_BASE_URL",
                 "GRAPH_AUTHORITY_HOST", "TENANT_SECRET_PREFIX"):
        monkeypatch.delenv(name, raising=False)


def test_missing_database_names_both_variables() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL or DATABASE_SECRET_ARN"):
        load_settings()


def test_each_function_names_the_queue_it_requires(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://localhost/x")
    for name in ("RUN_QUEUE_URL", "FINALIZE_QUEUE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="RUN_QUEUE_URL: Field required"):
        load_settings(DispatchSettings)
    with pytest.raises(ConfigError, match="FINALIZE_QUEUE_URL: Field required"):
        load_settings(RunSyncSettings)
    assert load_settings().run_queue_url is None  # finalize and the tools send to no queue
    monkeypatch.setenv("RUN_QUEUE_URL", "http://127.0.0.1:4566/000000000000/RunQueue")
    assert load_settings(DispatchSettings).run_queue_url.endswith("/RunQueue")


def test_bad_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://localhost/x")
    monkeypatch.setenv("SYNC_CONCURRENCY", "lots")
    with pytest.raises(ConfigError, match="SYNC_CONCURRENCY"):
        load_settings()
    monkeypatch.setenv("SYNC_CONCURRENCY", "0")
    with pytest.raises(ConfigError, match="SYNC_CONCURRENCY"):
        load_settings()
    monkeypatch.setenv("SYNC_CONCURRENCY", "4")
    monkeypatch.setenv("GRAPH_BASE_URL", "graph.microsoft.us")
    with pytest.raises(ConfigError, match="GRAPH_BASE_URL"):
        load_settings()


def test_defaults_and_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://localhost/x")
    monkeypatch.setenv("DISABLED_POLICY_TYPES", " mobileApp, policySet ,")
    monkeypatch.setenv("GRAPH_BASE_URL", "https://graph.microsoft.us/")
    settings = load_settings()
    assert settings.disabled_policy_types == ("mobileApp", "policySet")
    assert settings.enabled_policy_types == ()
    assert settings.tenant_secret_prefix == "inventory-sync/tenants/"
    assert settings.graph_base_url == "https://graph.microsoft.us"
    assert settings.graph_authority_host == "https://login.microsoftonline.com"
    assert settings.sync_concurrency == 8


def test_database_secret_arn_builds_conninfo(monkeypatch: pytest.MonkeyPatch, aws_env: None) -> None:
    with mock_aws():
        client = boto3.client("secretsmanager")
        arn = client.create_secret(Name="db", SecretString=json.dumps({
            "host": "db.internal", "port": 5432, "username": "app", "password": "p@ss w0rd",
            "dbname": "inventory"}))["ARN"]
        monkeypatch.setenv("DATABASE_SECRET_ARN", arn)
        params = conninfo_to_dict(load_settings().database_conninfo())
    assert params["host"] == "db.internal"
    assert params["user"] == "app"
    assert params["password"] == "p@ss w0rd"
    assert params["dbname"] == "inventory"
    assert params["sslmode"] == "require"


def test_malformed_database_secret_does_not_echo_it(monkeypatch: pytest.MonkeyPatch, aws_env: None) -> None:
    with mock_aws():
        client = boto3.client("secretsmanager")
        arn = client.create_secret(Name="db", SecretString='{"password": "hunter2-secret"}')["ARN"]
        monkeypatch.setenv("DATABASE_SECRET_ARN", arn)
        with pytest.raises(ConfigError) as info:
            load_settings().database_conninfo()
    assert "hunter2-secret" not in str(info.value)
    assert "DATABASE_SECRET_ARN" in str(info.value)


def test_values_given_by_field_name_win_over_the_environment_and_unknown_names_are_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://localhost/x")
    monkeypatch.setenv("GRAPH_MAX_PAGES", "50")
    assert load_settings().graph_max_pages == 50
    assert load_settings(graph_max_pages=2).graph_max_pages == 2
    with pytest.raises(ConfigError, match=r"not settings of RunSyncSettings: \['graph_max_page'\]"):
        load_settings(RunSyncSettings, graph_max_page=2)  # a typo would otherwise be ignored silently
