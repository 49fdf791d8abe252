"""Wires settings, the database, queues and the registry once per execution environment."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from inventory_sync.adapters.queues import SqsQueue
from inventory_sync.db.connection import Database
from inventory_sync.domain.registry import RuntimeRegistry, UnknownPolicyTypes, filter_runtime
from inventory_sync.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:  # imported where used: the Graph client and the engine load in run_sync only
    from inventory_sync.adapters.graph.credentials import CredentialStore
    from inventory_sync.adapters.graph.token import TokenProvider
    from inventory_sync.services.permissions import ReportCache
    from inventory_sync.services.sync import SyncDeps


@dataclass
class Container:
    settings: Settings
    db: Database
    registry: RuntimeRegistry

    @functools.cached_property
    def run_queue(self) -> SqsQueue:
        return SqsQueue(_needed(self.settings.run_queue_url, "RUN_QUEUE_URL"))

    @functools.cached_property
    def credentials(self) -> CredentialStore:  # lazy: only run_sync and the permission check read tenant secrets
        from inventory_sync.adapters.graph.credentials import CredentialStore

        return CredentialStore(self.settings.tenant_secret_prefix)

    @functools.cached_property
    def tokens(self) -> TokenProvider:
        from inventory_sync.adapters.graph.token import TokenProvider

        return TokenProvider(self.settings.graph_authority_host, self.settings.graph_base_url)

    @functools.cached_property
    def permission_reports(self) -> ReportCache:  # per execution environment, a few minutes each
        from inventory_sync.services.permissions import ReportCache

        return ReportCache()

    @functools.cached_property
    def sync_deps(self) -> SyncDeps:
        """What run_sync needs, built once per process (the token and secret caches live in it)."""
        from inventory_sync.services.engine import EngineConfig
        from inventory_sync.services.sync import SyncDeps

        s = self.settings
        return SyncDeps(settings=s, db=self.db, registry=self.registry, finalize_queue=self.finalize_queue,
                        credentials=self.credentials, tokens=self.tokens,
                        engine_config=EngineConfig(concurrency=s.sync_concurrency,
                                                   max_item_bytes=s.graph_max_item_bytes))

    @functools.cached_property
    def finalize_queue(self) -> SqsQueue:
        return SqsQueue(_needed(self.settings.finalize_queue_url, "FINALIZE_QUEUE_URL"))


def _needed(value: str | None, name: str) -> str:
    """A queue this function's settings do not require, asked for anyway (a function's own settings class
    requires what it sends to: DispatchSettings, RunSyncSettings)."""
    if not value:
        raise ConfigError(f"{name} is not set")
    return value


# what was read from outside and may be stale after a SnapStart restore (tenant secrets, Graph tokens, reports)
_REFRESHED = ("credentials", "tokens", "permission_reports", "sync_deps")
_PARTS = frozenset({"run_queue", "finalize_queue", *_REFRESHED})


def build(kind: type[Settings] = Settings, application_name: str = "invsync", *, settings: Settings | None = None,
          db: Database | None = None, registry: RuntimeRegistry | None = None, **parts: Any) -> Container:
    """Wire a container from the environment. Whatever is passed in is used as it is instead (tests inject a
    function's settings, database, queues or credential store this way): `settings`, `db`, `registry`, and any
    part the container otherwise builds on first use (run_queue, finalize_queue, credentials, tokens, ...)."""
    unknown = set(parts) - _PARTS
    if unknown:
        raise TypeError(f"build() cannot inject {sorted(unknown)}")
    settings = settings or load_settings(kind)
    if registry is None:
        try:
            registry = filter_runtime(settings.enabled_policy_types, settings.disabled_policy_types)
        except UnknownPolicyTypes as exc:
            raise ConfigError(f"ENABLED_POLICY_TYPES/DISABLED_POLICY_TYPES: {exc}") from None
    if db is None:
        db = Database(settings.database_source(), statement_timeout_ms=settings.db_statement_timeout_ms,
                      application_name=application_name, connect_timeout=settings.db_connect_timeout_seconds,
                      max_size=settings.db_pool_max_size)
    built = Container(settings, db, registry)
    for name, value in parts.items():
        setattr(built, name, value)  # a cached property not yet computed: the instance's own value wins
    return built


_NOT_READ = object()


class FunctionContainer:
    """One function's container for its execution environment: built on first call with the function's own
    settings class (what it requires), then reused across invocations. The function's module holds it; the
    SnapStart hooks are told about it (`register_snapstart_hooks`); a test loads a fresh module, or injects
    with `FunctionContainer(name, kind, **parts)` (see `build`)."""

    def __init__(self, name: str, kind: type[Settings] = Settings, **parts: Any) -> None:
        self.name, self.kind, self._parts = name, kind, parts
        self._built: Container | None = None
        self._local_key: Any = _NOT_READ

    def local_auth_key(self) -> Any:
        """`sam local start-api` only (api/local_auth.py): its development key, read once per execution
        environment; None in AWS (where the JWT authorizer puts claims in every event that gets this far)."""
        if self._local_key is _NOT_READ:
            from inventory_sync.api.local_auth import public_key

            self._local_key = public_key()
        return self._local_key

    def __call__(self) -> Container:
        if self._built is None:
            self._built = build(self.kind, f"invsync-{self.name}", **self._parts)
        return self._built

    def close(self) -> None:
        """Close the pool's connections and worker threads (the next transaction opens them afresh)."""
        if self._built is not None:
            self._built.db.close()

    def forget_cached(self) -> None:
        """Drop what was read from outside and may be stale: tenant credentials, Graph tokens, reports."""
        if self._built is not None:
            for cached in _REFRESHED:
                if cached not in self._parts:
                    self._built.__dict__.pop(cached, None)


def register_snapstart_hooks(container: FunctionContainer) -> bool:
    """Register the function's hooks through the runtime's `snapshot_restore_py` interface (part of Lambda's
    Python runtime; on PyPI for tests). False where it is not installed: no SnapStart there, nothing to hook.

    Before the snapshot nothing open may go into it: the pool closes its connections and worker threads; and
    the pydantic models deferred to their first use are built, so that no restored copy pays for them.
    A restored environment is a copy of the snapshot, one of many: re-seed `random` (each copy would draw the
    same numbers), and drop what was read before the snapshot and may be stale by now: cached tenant
    credentials and Graph tokens, and Powertools parameters' cache (the database secret)."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False

    def after_restore() -> None:
        import random
        import sys

        random.seed()
        container.close()  # in case a snapshot was taken without the hook above
        container.forget_cached()
        if "aws_lambda_powertools.utilities.parameters" in sys.modules:
            sys.modules["aws_lambda_powertools.utilities.parameters"].clear_caches()

    def before_snapshot() -> None:
        from inventory_sync.coldstart import build_deferred_models

        container.close()
        build_deferred_models()  # built once into the snapshot, not after every restore (docs/decisions/0013)

    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
    return True
