"""Service configuration: read from the environment once, validated at start-up (docs/architecture.md §9)."""

from typing import TYPE_CHECKING, Annotated, Any, Literal, Self, TypeVar, overload

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

if TYPE_CHECKING:
    from inventory_sync.db.credentials import FixedConninfo

CommaList = Annotated[tuple[str, ...], NoDecode]


class ConfigError(RuntimeError):
    """The environment is missing or has a bad setting; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True, defer_build=True)

    database_url: str | None = None
    database_secret_arn: str | None = None
    # with an RDS-managed secret (username and password only): where the database is
    database_host: str | None = None
    database_port: int | None = Field(default=None, ge=1, le=65535)
    database_name: str | None = None
    # platform administrators: callers whose `groups` (or `roles`) claim holds this value; empty = none
    admin_group_id: str | None = Field(default=None, max_length=255)
    # overrides the secret's sslmode (default require); verify-full with the RDS CA bundle where available
    database_sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None = None
    # how long a read of the database secret is reused (an authentication failure re-reads it at once)
    database_secret_max_age_seconds: int = Field(default=300, ge=0)
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
    # A lock holder whose session goes quiet longer than this loses the lock (docs/architecture.md §6).
    lock_idle_session_timeout_ms: int = Field(default=60_000, ge=5_000)
    deadline_margin_seconds: float = Field(default=30.0, ge=0)
    pending_timeout_seconds: int = Field(default=3_600, ge=60)
    graph_max_attempts: int = Field(default=6, ge=1, le=20)
    graph_retry_base_seconds: float = Field(default=0.5, ge=0.0, le=30.0)
    # pages one listing may take before it is cut short as invalid (a runaway or cyclic nextLink chain)
    graph_max_pages: int = Field(default=10_000, ge=1)
    # a single Graph object larger than this (its JSON) is not stored; its type ends with an error
    graph_max_item_bytes: int = Field(default=4 * 2**20, ge=1024)
    # Graph requests one run sends per sliding 20 s, each $batch sub-request counted: Intune allows 1,000 per
    # app per tenant; the rest is room for the tenant's other apps
    graph_requests_per_20s: int = Field(default=800, ge=20, le=2_000)
    # a run whose tenant and selection were last read in full longer ago than this reads in full again
    full_read_interval_hours: float = Field(default=24.0, ge=0)
    # $batch requests one run keeps in flight (all its workers together)
    graph_batches_in_flight: int = Field(default=8, ge=1, le=32)
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

    @field_validator("database_host", "database_port", "database_name", "database_sslmode", "admin_group_id",
                     mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value  # a template parameter left empty

    @field_validator("graph_base_url", "graph_authority_host")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _database(self) -> Self:
        if not self.database_url and not self.database_secret_arn:
            raise ValueError("DATABASE_URL or DATABASE_SECRET_ARN must be set")
        return self

    def database_source(self) -> "FixedConninfo":
        """Where connection strings come from: DATABASE_URL, or the secret (read now, so that a bad one
        is a configuration error at start-up, then again whenever its cached read is older than the max age
        or the server refused its credentials)."""
        from inventory_sync.db.credentials import CredentialsError, FixedConninfo, SecretConninfo

        if self.database_url:
            return FixedConninfo(self.database_url)
        source = SecretConninfo(self.database_secret_arn or "", host=self.database_host, port=self.database_port,
                                dbname=self.database_name, sslmode=self.database_sslmode,
                                max_age=self.database_secret_max_age_seconds)
        try:
            source.conninfo()
        except CredentialsError as exc:
            raise ConfigError(str(exc)) from None
        return source

    def database_conninfo(self) -> str:
        """The libpq connection string, from DATABASE_URL or the secret."""
        return self.database_source().conninfo()


class DispatchSettings(Settings):
    """dispatch sends every run it records to the RunQueue."""

    run_queue_url: str


class RunSyncSettings(Settings):
    """run_sync hands every finished attempt to finalize."""

    finalize_queue_url: str


S = TypeVar("S", bound=Settings)


@overload
def load_settings(**values: Any) -> Settings: ...


@overload
def load_settings(kind: type[S], **values: Any) -> S: ...


def load_settings(kind: type[Settings] = Settings, **values: Any) -> Settings:
    """Read the environment into a function's settings (`values`, by field name, win over it); raise
    ConfigError naming every missing or bad variable (a function's required ones included)."""
    unknown = set(values) - set(kind.model_fields)
    if unknown:
        raise ConfigError(f"not settings of {kind.__name__}: {sorted(unknown)}")
    try:
        settings = kind(**values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "DATABASE_URL/DATABASE_SECRET_ARN"
            problems.append(f"{field.upper()}: {error['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
    return settings
