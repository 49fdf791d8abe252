"""State machines and the run → bulk operation → audit mapping (docs/architecture.md §4). One place owns them."""

from collections.abc import Iterable
from enum import StrEnum
from typing import NamedTuple

from inventory_sync.domain.error_codes import FATAL_CODES, ErrorCode


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCESS = "success"
    PARTIAL = "partial"
    FAILED = "failed"
    SKIPPED = "skipped"


class BulkStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    COMPLETED_WITH_ERRORS = "completed_with_errors"
    FAILED = "failed"
    ABORTED = "aborted"


RUN_TERMINAL = frozenset(RunStatus) - {RunStatus.RUNNING}
BULK_ACTIVE = frozenset({BulkStatus.PENDING, BulkStatus.RUNNING})
BULK_TERMINAL = frozenset(BulkStatus) - BULK_ACTIVE

_BULK_TRANSITIONS: dict[BulkStatus, frozenset[BulkStatus]] = {
    BulkStatus.PENDING: frozenset({BulkStatus.RUNNING, BulkStatus.ABORTED, BulkStatus.FAILED}),
    BulkStatus.RUNNING: BULK_TERMINAL,
}


class IllegalTransition(ValueError):
    """A status change outside the state machines (docs/architecture.md §4)."""


def check_run_transition(current: RunStatus, target: RunStatus) -> None:
    if current is not RunStatus.RUNNING or target is RunStatus.RUNNING:
        raise IllegalTransition(f"run cannot go {current} -> {target}")


def check_bulk_transition(current: BulkStatus, target: BulkStatus) -> None:
    if target not in _BULK_TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(f"bulk operation cannot go {current} -> {target}")


class AuditAction(StrEnum):
    DISPATCHED = "inventory.sync.dispatched"
    COMPLETED = "inventory.sync.completed"
    FAILED = "inventory.sync.failed"
    SKIPPED = "inventory.sync.skipped"
    ABORTED = "inventory.sync.aborted"
    CANCEL_REQUESTED = "inventory.sync.cancel_requested"


TERMINAL_AUDIT_ACTIONS = frozenset({AuditAction.COMPLETED, AuditAction.FAILED, AuditAction.SKIPPED,
                                    AuditAction.ABORTED})


class TerminalOutcome(NamedTuple):
    """What finalize writes for a finished run: bulk status, counters, terminal audit action."""

    bulk_status: BulkStatus
    processed: int
    succeeded: int
    failed: int
    skipped: int
    audit_action: AuditAction
    audit_status: str  # audit_logs.status: success | failure

    @property
    def counters(self) -> dict[str, int]:
        return {"processed_items": self.processed, "succeeded": self.succeeded, "failed": self.failed,
                "skipped": self.skipped}


_OUTCOMES = {
    RunStatus.SUCCESS: TerminalOutcome(BulkStatus.COMPLETED, 1, 1, 0, 0, AuditAction.COMPLETED, "success"),
    RunStatus.PARTIAL: TerminalOutcome(BulkStatus.COMPLETED_WITH_ERRORS, 1, 1, 0, 0, AuditAction.COMPLETED,
                                       "success"),
    RunStatus.FAILED: TerminalOutcome(BulkStatus.FAILED, 1, 0, 1, 0, AuditAction.FAILED, "failure"),
    RunStatus.SKIPPED: TerminalOutcome(BulkStatus.COMPLETED, 1, 0, 0, 1, AuditAction.SKIPPED, "success"),
}
ABORTED = TerminalOutcome(BulkStatus.ABORTED, 1, 0, 0, 1, AuditAction.ABORTED, "success")
# a dispatch that never produced a run and never will (dead-lettered, stuck pending)
FAILED_WITHOUT_RUN = _OUTCOMES[RunStatus.FAILED]


def outcome_for_run(status: RunStatus, error_codes: Iterable[str]) -> TerminalOutcome:
    """The mapping table (docs/architecture.md §4): a failed run with `cancelled` is an abort."""
    if status is RunStatus.RUNNING:
        raise IllegalTransition("a running run has no outcome yet")
    if status is RunStatus.FAILED and ErrorCode.CANCELLED in set(error_codes):
        return ABORTED
    return _OUTCOMES[status]


def run_status(succeeded_units: int, failed_units: int, error_codes: Iterable[str]) -> RunStatus:
    """Status rule: failed on a fatal error or when nothing requested succeeded; partial when some
    failed and some succeeded; success when no errors."""
    codes = set(error_codes)
    if codes & FATAL_CODES or succeeded_units == 0:
        return RunStatus.FAILED
    if failed_units or codes:
        return RunStatus.PARTIAL
    return RunStatus.SUCCESS
