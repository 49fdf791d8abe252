"""The sync engine: policy types read concurrently from Graph, written by one thread in batches.

Three parts, each owning its state:
* readers (a bounded pool of workers, one policy type each) stream pages into a bounded queue as typed
  messages (`Started`, `PageRead`, `Ended`), so memory holds at most a few pages whatever the tenant's size;
* the calling thread (`_Collector`) turns pages into records and hands batches to
* the writer thread (`_Writer`), which alone uses the database during a run: it upserts batches, records the
  objects an incremental read kept as stored, marks deletions for types listed completely, publishes progress
  and checks for cancellation, in the order it was handed them.
While the writer waits on PostgreSQL, the next batch is being read and built: the stages overlap instead of
adding up. Everything stops between pages on cancellation, deadline, a fatal error or a failed write.

Other syncs of the tenant may read and write the same types meanwhile: each record carries when the request
that listed it began, and deletions the moment this run's reads began, on the database's clock, so the writer
never lets an earlier read replace a later one nor deletes what an overlapping sync saw (docs/decisions/0008).
"""

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from inventory_sync.adapters.graph.client import GraphClient
from inventory_sync.adapters.graph.errors import DeadlineReached, GraphError, Stopped
from inventory_sync.adapters.graph.reader import ReadPage, TypeReader
from inventory_sync.db import item_writer
from inventory_sync.db import items as stored_items
from inventory_sync.db.connection import Database
from inventory_sync.domain.error_codes import ErrorCode
from inventory_sync.domain.items import InvalidItem, ItemRecord, change_marker, to_record
from inventory_sync.domain.outcomes import EngineResult, RunProgress, UnitOutcome
from inventory_sync.domain.registry import Assignments, PolicyType

FATAL_GRAPH_CODES = frozenset({ErrorCode.GRAPH_AUTH_FAILED})


class ReadMode(StrEnum):
    FULL = "full"
    INCREMENTAL = "incremental"


@dataclass
class EngineConfig:
    concurrency: int = 8
    batch_rows: int = 5000  # rows per write transaction (bench: 5000 ~1.4x the rows/s of 1000 at 100k)
    progress_interval: float = 2.0
    queue_pages: int = 16
    max_item_bytes: int = 4 * 2**20


# -- messages from the readers ------------------------------------------------------------------------------
class Started(NamedTuple):
    unit: PolicyType


class PageRead(NamedTuple):
    unit: PolicyType
    page: ReadPage


class Ending(StrEnum):
    DONE = "done"  # listed to its end
    FAILED = "failed"  # Graph said no (`error`)
    DEADLINE = "deadline"  # waiting longer would overrun the run's deadline
    STOPPED = "stopped"  # the run stopped it (cancel, deadline, fatal error, failed write)


class Ended(NamedTuple):
    unit: PolicyType
    how: Ending
    error: GraphError | None = None


ReaderMessage = Started | PageRead | Ended


# -- the writer ---------------------------------------------------------------------------------------------
class _Writer:
    """The thread that owns the database during a run. Jobs run one at a time, in order; the first one
    that fails sets `stop` and is raised to the caller at its next hand-over (later jobs are dropped)."""

    def __init__(self, stop: threading.Event) -> None:
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=2)  # two waiting at most
        self._stop = stop
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="sync-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if self.error is not None:
                continue
            try:
                job()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, which raises it
                self.error = exc
                self._stop.set()

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def submit(self, job: Callable[[], None] | None) -> None:
        """Hand over a job, waiting while two are pending; raises a failed job's error."""
        while True:
            self.check()
            try:
                self._jobs.put(job, timeout=0.2)
                return
            except queue.Full:
                continue

    def idle(self) -> bool:
        return self._jobs.empty()

    def offer(self, job: Callable[[], None]) -> bool:
        """Hand over a job unless two are pending already."""
        self.check()
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            return False
        return True

    def close(self) -> None:
        """Wait for every job handed over; raises the first failure."""
        self.submit(None)
        self._thread.join()
        self.check()

    def abandon(self) -> None:
        """The run is ending on an error: let the thread finish what it holds, without waiting forever."""
        try:
            self._jobs.put(None, timeout=5)
        except queue.Full:
            return
        self._thread.join(timeout=60)


@dataclass
class _Batch:
    """What the collector hands the writer at once: one write transaction."""

    records: list[ItemRecord] = field(default_factory=list)
    read_at: list[float] = field(default_factory=list)  # per record: when the request that listed it began
    unchanged: dict[str, list[str]] = field(default_factory=dict)  # per type: ids kept as stored
    listed: list[str] = field(default_factory=list)  # types listed completely: mark the rest deleted

    def __len__(self) -> int:
        return len(self.records) + sum(len(ids) for ids in self.unchanged.values())

    def empty(self) -> bool:
        return not self.records and not self.unchanged and not self.listed


class _ReadClock:
    """The database's clock, read locally: calibrated once per run (one round trip), then monotonic, so read
    times from every process are on one timeline, to within the calibration's round trip. `began`, read from
    the database itself before any Graph request, dates every listing of the run for its deletions."""

    def __init__(self, db: Database) -> None:
        before = time.monotonic()
        with db.transaction() as conn:
            self.began = item_writer.database_clock(conn)
        self._offset = self.began - (before + time.monotonic()) / 2

    def __call__(self) -> float:
        return time.monotonic() + self._offset


class RunTarget(NamedTuple):
    """Where the engine writes: the tenant's inventory, as seen by this run."""

    run_id: int
    tenant_id: int
    reads_began: float  # the database's clock before the run's first Graph request


class SyncEngine:
    def __init__(self, db: Database, client: GraphClient, config: EngineConfig,
                 on_progress: Callable[[EngineResult, RunProgress], None],
                 is_cancelled: Callable[[], bool], deadline: Callable[[], float],
                 stop: threading.Event) -> None:
        self.db = db
        self.client = client
        self.config = config
        self.on_progress = on_progress
        self.is_cancelled = is_cancelled
        self.deadline = deadline
        self.stop = stop

    def run(self, run_id: int, tenant_id: int, units: list[PolicyType], include_dependencies: bool,
            read_mode: ReadMode = ReadMode.FULL) -> EngineResult:
        clock = _ReadClock(self.db)
        target = RunTarget(run_id, tenant_id, clock.began)
        known = self._known(target, units, include_dependencies) if read_mode is ReadMode.INCREMENTAL else {}
        readers = [TypeReader(self.client, u, include_dependencies, known.get(u.key), clock=clock) for u in units]
        result = EngineResult({u.key: UnitOutcome() for u in units})
        progress = RunProgress(types_total=len(units), read_mode=read_mode.value)
        collector = _Collector(self, target, result, progress, include_dependencies)
        self.on_progress(result, progress.counted(result.totals()))  # visible at once: 0/N types
        collector.collect(readers)
        return result

    def _known(self, target: RunTarget, units: list[PolicyType], include_dependencies: bool
               ) -> dict[str, dict[str, str]]:
        """Per type that an incremental read may skip below: external id → change marker, as stored."""
        known: dict[str, dict[str, str]] = {}
        with self.db.transaction() as conn:
            for unit in units:
                if not unit.change_markers or not unit.reads_below:
                    continue
                with_assignments = include_dependencies and unit.assignments is Assignments.BATCH
                read_below = [s.key for s in unit.sub_resources] + [*unit.item_expand, *unit.detail_fields]
                rows = stored_items.stored_markers(conn, target.tenant_id, unit.key, unit.change_markers,
                                                   read_below, with_assignments)
                known[unit.key] = {ext: m for ext, fields in rows.items()
                                   if (m := change_marker(unit, fields)) is not None}
        return known

    def read(self, reader: TypeReader, out: queue.Queue[ReaderMessage]) -> None:
        """(a worker) One type's pages into `out`; always ends with an `Ended`."""
        unit = reader.ptype

        def put(message: ReaderMessage) -> bool:
            while True:
                try:
                    out.put(message, timeout=0.2)
                    return True
                except queue.Full:
                    if self.stop.is_set() and isinstance(message, PageRead):
                        return False

        if self.stop.is_set():
            put(Ended(unit, Ending.STOPPED))
            return
        put(Started(unit))
        try:
            for page in reader.pages():
                if not put(PageRead(unit, page)) or self.stop.is_set():
                    put(Ended(unit, Ending.STOPPED))
                    return
        except GraphError as exc:
            put(Ended(unit, Ending.FAILED, exc))
            return
        except DeadlineReached:
            put(Ended(unit, Ending.DEADLINE))
            return
        except Stopped:
            put(Ended(unit, Ending.STOPPED))
            return
        except Exception as exc:  # noqa: BLE001 - a worker must always report back
            put(Ended(unit, Ending.FAILED,
                      GraphError(ErrorCode.GRAPH_INVALID_RESPONSE, f"unexpected: {type(exc).__name__}")))
            return
        put(Ended(unit, Ending.DONE))


class _Collector:
    """(calling thread) Reader messages into records and batches; batches, progress and the cancellation
    check handed to the writer, in order."""

    def __init__(self, engine: SyncEngine, target: RunTarget, result: EngineResult, progress: RunProgress,
                 include_dependencies: bool) -> None:
        self.engine = engine
        self.target = target
        self.result = result
        self.progress = progress
        self.include_dependencies = include_dependencies
        self.batch = _Batch()
        self.ids: dict[str, set[str]] = {key: set() for key in result.units}  # ids seen per type in this listing
        self.writer = _Writer(engine.stop)
        self.last_tick = time.monotonic()

    def collect(self, readers: list[TypeReader]) -> None:
        try:
            self._drain(readers)
            self._flush()
            self._tick(force=True)
            self.writer.close()
        except BaseException:
            self.writer.abandon()
            raise

    def _drain(self, readers: list[TypeReader]) -> None:
        engine = self.engine
        out: queue.Queue[ReaderMessage] = queue.Queue(maxsize=engine.config.queue_pages)
        pending = {r.ptype.key for r in readers}
        with ThreadPoolExecutor(max_workers=engine.config.concurrency, thread_name_prefix="graph") as pool:
            for reader in readers:
                pool.submit(engine.read, reader, out)
            try:
                while pending:
                    if not engine.stop.is_set() and engine.deadline() <= 0:
                        self.result.deadline_hit = True
                        engine.stop.set()
                    try:
                        message = out.get(timeout=0.2)
                    except queue.Empty:
                        self._tick()
                        continue
                    if isinstance(message, Started):
                        self.progress.current_types.add(message.unit.key)
                    elif isinstance(message, PageRead):
                        self._page(message.unit, message.page)
                    else:
                        pending.discard(message.unit.key)
                        self._ended(message)
                    self._tick()
            finally:
                engine.stop.set()  # on any exit, let workers finish quickly

    def _page(self, unit: PolicyType, page: ReadPage) -> None:
        outcome = self.result.units[unit.key]
        seen = self.ids[unit.key]

        def first_sighting(external_id: str) -> bool:
            if external_id in seen:  # the same object on two pages
                reason = "duplicate ids across pages"
                outcome.rejected[reason] = outcome.rejected.get(reason, 0) + 1
                return False
            seen.add(external_id)
            return True

        for item in page.items:
            try:
                record = to_record(unit, item, self.include_dependencies, self.engine.config.max_item_bytes)
            except InvalidItem as exc:
                outcome.rejected[exc.reason] = outcome.rejected.get(exc.reason, 0) + 1
                continue
            if first_sighting(record.external_id):
                self.batch.records.append(record)
                self.batch.read_at.append(page.read_at)
        kept = [external_id for external_id in page.unchanged if first_sighting(external_id)]
        if kept:
            self.batch.unchanged.setdefault(unit.key, []).extend(kept)
        if len(self.batch) >= self.engine.config.batch_rows:
            self._flush()

    def _ended(self, message: Ended) -> None:
        unit, result = message.unit, self.result
        outcome = result.units[unit.key]
        self.progress.current_types.discard(unit.key)
        self.progress.types_done += 1
        self.ids[unit.key].clear()
        if message.how is Ending.DONE and not outcome.rejected:
            self.batch.listed.append(unit.key)  # its rows are in the batch or written: delete at flush
        elif message.how is Ending.DONE:
            what = ", ".join(f"{n} {reason}" for reason, n in sorted(outcome.rejected.items()))
            outcome.error = GraphError(ErrorCode.GRAPH_INVALID_RESPONSE,
                                       f"listing not stored whole ({what}); nothing marked deleted")
        elif message.how is Ending.FAILED:
            assert message.error is not None
            outcome.error = message.error
            if message.error.code in FATAL_GRAPH_CODES:
                result.fatal = message.error
                self.engine.stop.set()
        elif message.how is Ending.DEADLINE:
            outcome.interrupted_by = ErrorCode.DEADLINE_EXCEEDED
            result.deadline_hit = True
        else:
            outcome.interrupted_by = (ErrorCode.CANCELLED if result.cancelled
                                      else ErrorCode.DEADLINE_EXCEEDED if result.deadline_hit
                                      else ErrorCode.GRAPH_AUTH_FAILED)

    # -- hand-overs to the writer -------------------------------------------------------------------------
    def _flush(self) -> None:
        """Hand the batch (and the types listed since) to the writer."""
        if self.batch.empty():
            return
        batch, self.batch = self.batch, _Batch()
        self.writer.submit(lambda: self._write(batch))

    def _write(self, batch: _Batch) -> None:
        """(writer thread) One batch, the objects kept as stored and the deletions of completely listed types,
        in one transaction; counted once committed."""
        target, units = self.target, self.result.units
        deleted: dict[str, int] = {}
        with self.engine.db.transaction() as conn:
            written = item_writer.write(conn, target.tenant_id, target.run_id, batch.records, read_at=batch.read_at)
            kept = {key: item_writer.sight(conn, target.tenant_id, target.run_id, key, ids)
                    for key, ids in batch.unchanged.items()}
            for key in batch.listed:
                deleted[key] = item_writer.mark_deleted(conn, target.tenant_id, key, target.run_id,
                                                        listing_began=target.reads_began)
        for key, counts in written.items():
            units[key].observed += counts.observed
            units[key].upserted += counts.upserted
        for key, n in kept.items():
            units[key].observed += n
            units[key].unchanged += n
        for key, n in deleted.items():
            units[key].deleted = n
            units[key].complete = True

    def _publish(self, snapshot: RunProgress) -> None:
        """(writer thread) Cancellation check and progress, after the batches handed over before it."""
        engine, result = self.engine, self.result
        if not engine.stop.is_set() and engine.is_cancelled():
            result.cancelled = True
            engine.stop.set()
        engine.on_progress(result, snapshot.counted(result.totals()))

    def _tick(self, force: bool = False) -> None:
        """Every few seconds: progress and the cancellation check, through the writer (behind the batches
        handed over before). A partial batch goes along only when the writer has nothing else to do."""
        self.writer.check()
        if not force and time.monotonic() - self.last_tick < self.engine.config.progress_interval:
            return
        snapshot = self.progress.counted(self.result.totals())
        if force:
            self._flush()
            self.writer.submit(lambda: self._publish(snapshot))
        else:
            if self.writer.idle():
                self._flush()
            if not self.writer.offer(lambda: self._publish(snapshot)):
                return  # the writer is busy: the next page tries again
        self.last_tick = time.monotonic()
