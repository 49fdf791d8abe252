"""Domain errors raised by the services. They say what went wrong, not how a protocol reports it: the HTTP
API maps each kind to its status in one place (api/problems.py, `STATUS_OF`)."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class Unauthenticated(ServiceError):
    """The caller could not be identified."""


class Forbidden(ServiceError):
    """The caller is known and may see the resource, but not do this to it."""


class NotFound(ServiceError):
    """No such resource, or not one the caller may see (the two are not told apart)."""


class Conflict(ServiceError):
    """The resource's state does not allow it (a terminal operation, the last owner)."""


class Unprocessable(ServiceError):
    """Well-formed, but not acceptable (an unknown policy type, a reused idempotency key)."""


class Unavailable(ServiceError):
    """A dependency (the queue, Secrets Manager) refused; nothing was written."""
