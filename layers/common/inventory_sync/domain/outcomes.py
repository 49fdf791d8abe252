"""What a sync's policy types came to, and the run status, error codes and context that follow (pure).

The engine fills `EngineResult` while it reads; `summarise` turns it into the run's status (the rule in
`domain/status.py`), its distinct error codes and its `error_context` (docs/architecture.md §7).
"""

from dataclasses import asdict, dataclass, field, replace
from typing import Any, NamedTuple, Protocol, Self

from inventory_sync.domain.error_codes import FATAL_CODES, ErrorCode
from inventory_sync.domain.messages import RunMessage
from inventory_sync.domain.registry import BY_KEY, FOUNDATIONS, PolicyType, RuntimeRegistry
from inventory_sync.domain.status import RunStatus, run_status


class ClassifiedError(Protocol):
    """A failure already classified into an error code (the Graph adapter's errors are)."""

    code: ErrorCode

    def context(self) -> dict[str, Any]: ...


@dataclass
class UnitOutcome:
    complete: bool = False
    error: ClassifiedError | None = None
    interrupted_by: ErrorCode | None = None  # deadline_exceeded | cancelled
    observed: int = 0
    upserted: int = 0
    deleted: int = 0
    unchanged: int = 0  # of `observed`: kept as stored, their markers had not moved (incremental reads)
    # objects not stored, by defect (no id, duplicate id, too large): the listing is then not trusted
    # to mark anything deleted, and the type ends with graph_invalid_response
    rejected: dict[str, int] = field(default_factory=dict)


class Totals(NamedTuple):
    """A run's counters (inventory_sync_runs' items_*_count and errors_count)."""

    observed: int = 0
    upserted: int = 0
    deleted: int = 0
    errors: int = 0
    unchanged: int = 0


@dataclass
class EngineResult:
    units: dict[str, UnitOutcome]
    cancelled: bool = False
    deadline_hit: bool = False
    fatal: ClassifiedError | None = None

    def totals(self) -> Totals:
        units = self.units.values()
        return Totals(observed=sum(u.observed for u in units), upserted=sum(u.upserted for u in units),
                      deleted=sum(u.deleted for u in units),
                      errors=sum(1 for u in units if u.error is not None or u.interrupted_by is not None),
                      unchanged=sum(u.unchanged for u in units))


@dataclass
class RunProgress:
    """The run's `progress` record, the one shape the API, the console and the CLI read: live while the run
    reads, final (with its Graph figures) when it ends."""

    types_total: int
    read_mode: str = "full"
    types_done: int = 0
    current_types: set[str] = field(default_factory=set)
    items_seen: int = 0
    items_unchanged: int = 0
    # set when the run ends
    types_failed: int | None = None
    duration_seconds: float | None = None
    graph_requests: int | None = None
    graph_round_trips: int | None = None
    graph_throttled: int | None = None
    graph_paced: int | None = None  # requests that waited for room in the run's window

    def counted(self, totals: Totals) -> Self:
        """A snapshot with the counters the writer has committed."""
        return replace(self, current_types=set(self.current_types), items_seen=totals.observed,
                       items_unchanged=totals.unchanged)

    def as_json(self) -> dict[str, Any]:
        record = {k: v for k, v in asdict(self).items() if v is not None}
        record["current_types"] = sorted(self.current_types)
        return record


def units_of(message: RunMessage, registry: RuntimeRegistry) -> list[PolicyType]:
    """The selection's policy types (still enabled at run time) and, when asked, the foundations."""
    units = [BY_KEY[k] for k in message.selection.policy_types if k in BY_KEY and registry.is_enabled(k)]
    if message.selection.include_foundations:
        units += [f for f in FOUNDATIONS if registry.is_enabled(f.key)]
    return units


def summarise(result: EngineResult) -> tuple[RunStatus, list[ErrorCode], dict[str, Any]]:
    """Per-type outcomes → status, distinct codes, and context per code and per type."""
    codes: set[ErrorCode] = set()
    context: dict[str, Any] = {"types": {}}
    succeeded = failed = 0
    for key, unit in sorted(result.units.items()):
        if unit.complete:
            succeeded += 1
            continue
        failed += 1
        if unit.error is not None:
            code = unit.error.code
            detail = unit.error.context()
        else:
            code = unit.interrupted_by or ErrorCode.DEADLINE_EXCEEDED
            detail = {"code": code.value, "message": "stopped before the listing was complete",
                      "items_seen": unit.observed}
        if code is ErrorCode.GRAPH_FORBIDDEN:
            detail["permission"] = _permission(key)
        codes.add(code)
        context["types"][key] = detail
        context.setdefault(code.value, {"policy_types": []})["policy_types"].append(key)
    if result.fatal is not None:
        codes.add(result.fatal.code)
    if result.cancelled:
        codes.add(ErrorCode.CANCELLED)
    if result.deadline_hit and failed:
        codes.add(ErrorCode.DEADLINE_EXCEEDED)
    return run_status(succeeded, failed, codes), sorted(codes), context


def _permission(key: str) -> str:
    return BY_KEY[key].permission if key in BY_KEY else ""


def permission_findings(status: str, error_codes: list[str], error_context: dict[str, Any],
                        selection: dict[str, Any]) -> tuple[set[str], set[str]] | None:
    """What a finished run tells of the tenant app's Graph permissions: (refused — the permissions of the types
    Graph answered 403 for, granted — those of the types it read completely). None when it tells nothing
    (a fatal error stopped it before or while reading, or it was skipped)."""
    if status not in (RunStatus.SUCCESS, RunStatus.PARTIAL) or FATAL_CODES & set(error_codes):
        return None
    failed: dict[str, Any] = error_context.get("types") or {}
    refused = {str(d.get("permission")) for d in failed.values()
               if isinstance(d, dict) and d.get("code") == ErrorCode.GRAPH_FORBIDDEN and d.get("permission")}
    units = [k for k in selection.get("policy_types") or [] if k in BY_KEY]
    if selection.get("include_foundations"):
        units += [f.key for f in FOUNDATIONS]
    granted = {BY_KEY[k].permission for k in units if k not in failed}
    return refused, granted
