"""run_sync: one RunQueue message → one inventory sync under the advisory lock (docs/architecture.md §4, §6, §7).

Locks, both on one dedicated autocommit session that is closed on every exit path:
* the *attempt* lock (per bulk operation): only one live attempt per dispatch; a concurrent
  duplicate delivery finds it held and is dropped; the sweep treats a run whose attempt lock
  is free as orphaned;
* the *sync* lock (tenant, selection_hash): one sync per tenant and selection; held by another
  dispatch → this run is `skipped` with `lock_held`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import psycopg

from inventory_sync.adapters.graph.client import GraphClient, RequestPacer, RetryPolicy, RunPacing
from inventory_sync.adapters.graph.credentials import CredentialStore
from inventory_sync.adapters.graph.errors import GraphError
from inventory_sync.adapters.graph.token import TokenProvider
from inventory_sync.adapters.queues import MessageQueue
from inventory_sync.db import bulk_operations, locks, runs, tenants
from inventory_sync.db.connection import Database
from inventory_sync.db.rows import Run
from inventory_sync.domain.error_codes import ErrorCode
from inventory_sync.domain.messages import FinalizeMessage, RunMessage
from inventory_sync.domain.outcomes import EngineResult, RunProgress, Totals, summarise, units_of
from inventory_sync.domain.registry import RuntimeRegistry
from inventory_sync.domain.status import BULK_TERMINAL, RUN_TERMINAL, BulkStatus, RunStatus
from inventory_sync.observability import logger, metrics
from inventory_sync.services.engine import EngineConfig, ReadMode, SyncEngine
from inventory_sync.settings import Settings

HEARTBEAT_SECONDS = 2.0


class LockLost(RuntimeError):
    """The lock session died during the sync (database restart, network cut): exclusivity is gone, so this
    attempt ends without finishing the run, and the redelivery resumes it under fresh locks."""


class Outcome(StrEnum):
    FINISHED = "finished"            # a run reached a terminal status now
    FINALIZE_RESENT = "finalize_resent"  # redelivery of a finished dispatch
    DUPLICATE_DROPPED = "duplicate_dropped"
    UNKNOWN_DROPPED = "unknown_dropped"  # no such dispatch (its transaction rolled back)


@dataclass
class SyncDeps:
    settings: Settings
    db: Database
    registry: RuntimeRegistry
    finalize_queue: MessageQueue
    credentials: CredentialStore
    tokens: TokenProvider
    engine_config: EngineConfig


class _Heartbeat:
    """Keeps the lock session from looking idle (idle_session_timeout) while the sync runs — a frozen or
    cut-off holder stops beating and the server ends its session, freeing the locks — and notices when
    the session is gone: then it stops the sync (`on_lost`)."""

    def __init__(self, conn: psycopg.Connection, every: float, on_lost: threading.Event) -> None:
        self._conn, self._every, self._on_lost = conn, every, on_lost
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="lock-heartbeat", daemon=True)

    def alive(self) -> bool:
        try:
            self._conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def _beat(self) -> None:
        while not self._stop.wait(self._every):
            if not self.alive():
                self.lost.set()
                self._on_lost.set()  # stops the engine between pages
                return

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class SyncService:
    def __init__(self, deps: SyncDeps) -> None:
        self.d = deps

    def _finalize(self, run_id: int | None, bulk_id: int) -> None:
        self.d.finalize_queue.send(FinalizeMessage(version=1, inventory_sync_run_id=run_id,
                                                   bulk_operation_run_id=bulk_id).model_dump())

    def process(self, message: RunMessage, remaining_seconds: Callable[[], float]) -> Outcome:
        bulk_id = message.bulk_operation_run_id
        with self.d.db.transaction() as conn:
            locks.wait_dispatch_gate(conn, bulk_id)
            bulk = bulk_operations.get(conn, bulk_id)
            run = runs.get_by_bulk_operation(conn, bulk_id)
        if bulk is None or bulk.tenant_id != message.tenant_id or bulk.selection_hash != message.selection_hash:
            logger.warning("no dispatch matches the message; dropped", extra={"bulk_operation_run_id": bulk_id})
            return Outcome.UNKNOWN_DROPPED
        if (run and run.status in RUN_TERMINAL) or bulk.status in BULK_TERMINAL:
            self._finalize(run.id if run else None, bulk_id)
            return Outcome.FINALIZE_RESENT

        with self.d.db.lock_session(idle_session_timeout_ms=self.d.settings.lock_idle_session_timeout_ms) as lock:
            if not locks.try_lock(lock, locks.attempt_key(bulk_id)):
                logger.info("another attempt of this dispatch is live; dropped",
                            extra={"bulk_operation_run_id": bulk_id})
                return Outcome.DUPLICATE_DROPPED
            holds_sync_lock = locks.try_lock(lock, locks.sync_key(message.tenant_id, message.selection_hash))
            run = self._start(message, holds_sync_lock)
            if run is None:  # finished or aborted meanwhile
                with self.d.db.transaction() as conn:
                    existing = runs.get_by_bulk_operation(conn, bulk_id)
                self._finalize(existing.id if existing else None, bulk_id)
                return Outcome.FINALIZE_RESENT
            if not holds_sync_lock:
                self._finish(run.id, RunStatus.SKIPPED, [ErrorCode.LOCK_HELD],
                             {"lock_held": {"message": "another sync of this tenant and selection is running"}})
            else:
                stop = threading.Event()
                with _Heartbeat(lock, HEARTBEAT_SECONDS, stop) as heartbeat:
                    self._sync(run, message, remaining_seconds, stop, heartbeat)
        self._finalize(run.id, bulk_id)
        return Outcome.FINISHED

    def _start(self, message: RunMessage, holds_sync_lock: bool) -> Run | None:
        """Create the run (or take over the one a dead attempt left); pending → running."""
        bulk_id = message.bulk_operation_run_id
        with self.d.db.transaction() as conn:
            bulk = bulk_operations.get(conn, bulk_id, for_update=True)
            if bulk is None or bulk.status in BULK_TERMINAL:
                return None
            run = runs.get_by_bulk_operation(conn, bulk_id, for_update=True)
            if run is None:
                run = runs.create_running(
                    conn, tenant_id=message.tenant_id, user_id=message.user_id, bulk_operation_run_id=bulk_id,
                    selection_hash=message.selection_hash, selection_payload=message.selection.model_dump(),
                    trigger=message.trigger, correlation_id=message.correlation_id,
                    read_mode=self._read_mode(conn, message))
                assert run is not None  # the attempt lock and the row lock rule out a racing insert
            elif run.status in RUN_TERMINAL:
                return None
            elif holds_sync_lock:
                attempts = runs.start_attempt(conn, run.id)
                logger.info("resuming the run a dead attempt left", extra={"run_id": run.id, "attempts": attempts})
            if bulk.status == BulkStatus.PENDING:
                bulk_operations.mark_running(conn, bulk_id, run.id)
            return run

    def _read_mode(self, conn: psycopg.Connection, message: RunMessage) -> ReadMode:
        """Full when asked for, or when this tenant and selection were not read in full within
        FULL_READ_INTERVAL_HOURS (a sub-resource change no marker shows is caught then); else incremental."""
        if message.read_mode == "full":
            return ReadMode.FULL
        last = runs.last_full_read(conn, message.tenant_id, message.selection_hash)
        interval = timedelta(hours=self.d.settings.full_read_interval_hours)
        if last is None or datetime.now(UTC) - last >= interval:
            return ReadMode.FULL
        return ReadMode.INCREMENTAL

    def _finish(self, run_id: int, status: RunStatus, codes: list[ErrorCode], context: dict[str, Any],
                totals: Totals | None = None, progress: RunProgress | None = None) -> None:
        with self.d.db.transaction() as conn:
            runs.finish(conn, run_id, status=status, error_codes=[c.value for c in codes], error_context=context,
                        observed=totals.observed if totals else None, upserted=totals.upserted if totals else None,
                        deleted=totals.deleted if totals else None, errors=totals.errors if totals else None,
                        progress=progress.as_json() if progress else None)
        logger.info("run finished", extra={"run_id": run_id, "status": status.value,
                                           "error_codes": [c.value for c in codes]})
        if status is RunStatus.FAILED:
            metrics.add_metric(name="RunsFailed", unit="Count", value=1)  # FailedRunsAlarm in the template

    def _sync(self, run: Run, message: RunMessage, remaining_seconds: Callable[[], float], stop: threading.Event,
              heartbeat: _Heartbeat) -> None:
        settings = self.d.settings
        with self.d.db.transaction() as conn:
            tenant = tenants.get(conn, message.tenant_id)
        if tenant is None or tenant.status != "active":
            self._finish(run.id, RunStatus.FAILED, [ErrorCode.TENANT_INACTIVE],
                         {"tenant_inactive": {"message": "the tenant is inactive or gone"}})
            return
        units = units_of(message, self.d.registry)
        try:
            credential = self.d.credentials.get(tenant.id)
            self.d.tokens.token(tenant.graph_tenant_id, tenant.graph_client_id, credential)
        except GraphError as exc:
            self._finish(run.id, RunStatus.FAILED, [exc.code], {exc.code.value: exc.context()})
            return

        def get_token(force: bool) -> str:
            return self.d.tokens.token(tenant.graph_tenant_id, tenant.graph_client_id, credential,
                                       force_refresh=force)

        def deadline() -> float:
            return remaining_seconds() - settings.deadline_margin_seconds

        policy = RetryPolicy(max_attempts=settings.graph_max_attempts, base_delay=settings.graph_retry_base_seconds)
        pacing = RunPacing(RequestPacer(settings.graph_requests_per_20s),
                           batches_in_flight=settings.graph_batches_in_flight)
        client = GraphClient(settings.graph_base_url, get_token, policy=policy, pacing=pacing, deadline=deadline,
                             stop=stop, max_pages=settings.graph_max_pages)
        started = time.monotonic()

        def on_progress(result: EngineResult, progress: RunProgress) -> None:
            totals = result.totals()
            with self.d.db.transaction() as conn:
                runs.update_progress(conn, run.id, observed=totals.observed, upserted=totals.upserted,
                                     deleted=totals.deleted, errors=totals.errors, progress=progress.as_json())

        def is_cancelled() -> bool:
            with self.d.db.transaction() as conn:
                return bulk_operations.cancel_requested(conn, run.bulk_operation_run_id)

        engine = SyncEngine(self.d.db, client, self.d.engine_config, on_progress, is_cancelled, deadline, stop)
        read_mode = ReadMode(run.read_mode)
        result = engine.run(run.id, tenant.id, units, message.selection.include_dependencies, read_mode)
        if heartbeat.lost.is_set() or not heartbeat.alive():
            raise LockLost(f"run {run.id}: the lock session ended during the sync; the redelivery resumes it")
        status, codes, context = summarise(result)
        totals = result.totals()
        stats = client.stats
        progress = replace(
            RunProgress(types_total=len(units), read_mode=read_mode.value).counted(totals),
            types_done=sum(1 for u in result.units.values() if u.complete or u.error is not None),
            types_failed=sum(1 for u in result.units.values() if u.error is not None),
            duration_seconds=round(time.monotonic() - started, 3), graph_requests=stats.requests,
            graph_round_trips=stats.round_trips, graph_throttled=stats.throttled,
            graph_paced=stats.paced)
        self._finish(run.id, status, codes, context, totals, progress)
