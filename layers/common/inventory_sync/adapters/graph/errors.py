"""Graph failures, classified into the run's error codes (docs/architecture.md §7). Messages never carry secrets."""

from __future__ import annotations

from dataclasses import dataclass

from inventory_sync.domain.error_codes import ErrorCode


@dataclass
class GraphError(Exception):
    code: ErrorCode
    message: str
    status: int | None = None
    request_id: str | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def context(self) -> dict[str, object]:
        return {"code": self.code.value, "status": self.status, "request_id": self.request_id,
                "message": self.message[:500]}


class DeadlineReached(Exception):
    """Waiting any longer (for Retry-After or backoff) would overrun the run's deadline."""


class Stopped(Exception):
    """The run was asked to stop (cancel or deadline) while this request waited."""


def classify(status: int) -> ErrorCode:
    if status == 401:
        return ErrorCode.GRAPH_AUTH_FAILED
    if status == 403:
        return ErrorCode.GRAPH_FORBIDDEN
    if status in (400, 404):
        return ErrorCode.GRAPH_NOT_FOUND
    if status == 429:
        return ErrorCode.GRAPH_THROTTLED
    if status >= 500:
        return ErrorCode.GRAPH_UNAVAILABLE
    return ErrorCode.GRAPH_INVALID_RESPONSE
