"""Service configuration: read from the environment once, validated at start-up (DESIGN §8)."""

from __future__ import annotations

import functools
import json
from typing import Annotated

import boto3
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CommaList = Annotated[tuple[str, ...], NoDecode]


class ConfigError(RuntimeError):
    """The environment is missing or has a bad setting; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    database_url: str | None = None
    database_secret_arn: str | None = None
    run_queue_url: str | None = None
    finalize_queue_url: str | None = None
    tenant_secret_prefix: str = "inventory-sync/tenants/"
    graph_base_url: str = "https://graph.microsoft.com"
    graph_authority_host: str = "https://login.microsoftonline.com"
    sync_concurrency: int = Field(default=8, ge=1, le=64)
    enabled_policy_types: CommaList = ()
    disabled_policy_types: CommaList = ()
    # Additions (not in the fixed contract): tuning with safe defaults.
    db_statement_timeout_ms: int = Field(default=30_000, ge=100)
    db_connect_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # one connection per Lambda execution environment; the local stack serves threads and raises it
    db_pool_max_size: int = Field(default=1, ge=1, le=32)
    # A lock holder whose session goes quiet longer than this loses the lock (DESIGN §7).
    lock_idle_session_timeout_ms: int = Field(default=60_000, ge=5_000)
    deadline_margin_seconds: float = Field(default=30.0, ge=0)
    pending_timeout_seconds: int = Field(default=3_600, ge=60)
    graph_max_attempts: int = Field(default=6, ge=1, le=20)
    graph_retry_base_seconds: float = Field(default=0.5, ge=0.0, le=30.0)
    # pages one listing may take before it is cut short as invalid (a runaway or cyclic nextLink chain)
    graph_max_pages: int = Field(default=10_000, ge=1)
    # a single Graph object larger than this (its JSON) is not stored; its type ends with an error
    graph_max_item_bytes: int = Field(default=4 * 2**20, ge=1024)
    # change rows (what changed per run) older than this are pruned by the sweep; the audit trail never is
    change_retention_days: int = Field(default=365, ge=1)

    @field_validator("enabled_policy_types", "disabled_policy_types", mode="before")
    @classmethod
    def _split(cls, value: object) -> tuple[str, ...]:
        if value is None or value == "":
            return ()
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return tuple(value)  # type: ignore[arg-type]

    @field_validator("graph_base_url", "graph_authority_host")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _database(self) -> Settings:
        if not self.database_url and not self.database_secret_arn:
            raise ValueError("DATABASE_URL or DATABASE_SECRET_ARN must be set")
        return self

    def require(self, *names: str) -> Settings:
        missing = [name.upper() for name in names if not getattr(self, name)]
        if missing:
            raise ConfigError(f"missing required environment variable(s): {', '.join(missing)}")
        return self

    def database_conninfo(self) -> str:
        """The libpq connection string, from DATABASE_URL or the RDS-style secret."""
        if self.database_url:
            return self.database_url
        return _conninfo_from_secret(self.database_secret_arn or "")


def _conninfo_from_secret(arn: str) -> str:
    from psycopg.conninfo import make_conninfo

    raw = boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    try:
        secret = json.loads(raw)
        return make_conninfo(
            host=secret["host"],
            port=str(secret.get("port", 5432)),
            user=secret["username"],
            password=secret["password"],
            dbname=secret.get("dbname", "postgres"),
            sslmode=secret.get("sslmode", "require"),
        )
    except (ValueError, KeyError, TypeError) as exc:
        # never echo the secret itself
        raise ConfigError(
            "DATABASE_SECRET_ARN: secret must be JSON with host, port, username, password, dbname"
        ) from exc


def load_settings(*required: str) -> Settings:
    """Read the environment; raise ConfigError naming every missing or bad variable."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "DATABASE_URL/DATABASE_SECRET_ARN"
            problems.append(f"{field.upper()}: {error['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
    return settings.require(*required)


@functools.cache
def cached_settings(*required: str) -> Settings:
    return load_settings(*required)
