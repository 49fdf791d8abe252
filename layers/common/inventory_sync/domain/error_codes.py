"""The error codes a run can record (docs/architecture.md §7). One place owns them."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    CREDENTIALS_MISSING = "credentials_missing"
    GRAPH_AUTH_FAILED = "graph_auth_failed"
    GRAPH_FORBIDDEN = "graph_forbidden"
    GRAPH_NOT_FOUND = "graph_not_found"
    GRAPH_THROTTLED = "graph_throttled"
    GRAPH_UNAVAILABLE = "graph_unavailable"
    GRAPH_INVALID_RESPONSE = "graph_invalid_response"
    TENANT_INACTIVE = "tenant_inactive"
    LOCK_HELD = "lock_held"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    RUN_ORPHANED = "run_orphaned"
    RUN_CRASHED = "run_crashed"
    CANCELLED = "cancelled"


# Errors that end the whole run as `failed`, whatever else succeeded.
FATAL_CODES = frozenset({
    ErrorCode.CREDENTIALS_MISSING,
    ErrorCode.GRAPH_AUTH_FAILED,
    ErrorCode.TENANT_INACTIVE,
    ErrorCode.RUN_ORPHANED,
    ErrorCode.RUN_CRASHED,
    ErrorCode.CANCELLED,
})
