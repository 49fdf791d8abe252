"""Every error answer is an RFC 9457 problem document. Domain errors map to statuses here only."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response

from inventory_sync.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ServiceError,
    Unauthenticated,
    Unavailable,
    Unprocessable,
)

PROBLEM = "application/problem+json"

# the one place a domain error becomes an HTTP status
STATUS_OF: dict[type[ServiceError], int] = {Unauthenticated: 401, Forbidden: 403, NotFound: 404, Conflict: 409,
                                            Unprocessable: 422, Unavailable: 503}


def status_of(exc: ServiceError) -> int:
    return next((status for kind, status in STATUS_OF.items() if isinstance(exc, kind)), 500)


def problem(status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None,
            headers: dict[str, str] | None = None) -> Response[str]:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return Response(status, PROBLEM, json.dumps(body, default=str), headers=headers)


def validation_errors(raw: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
    """Powertools/pydantic errors → (status, field errors). Malformed JSON is a 400, the rest 422.
    The offending input is never echoed back."""
    status = 422
    errors = []
    for err in raw:
        loc = [str(p) for p in err.get("loc", ())]
        if err.get("type") == "json_invalid":
            status = 400
            errors.append({"field": "body", "message": "malformed JSON"})
            continue
        if err.get("type") == "extra_forbidden" and len(loc) > 1:
            loc[-1] = "(unknown field)"  # the key is the caller's input: say where, not what
        field = ".".join(loc[1:]) if len(loc) > 1 else (loc[0] if loc else "body")
        errors.append({"field": field, "in": loc[0] if loc else "body", "message": err.get("msg", "invalid")})
    return status, errors


TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
          409: "Conflict", 413: "Payload Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content",
          500: "Internal Server Error", 503: "Service Unavailable"}


def is_json_media_type(content_type: str | None) -> bool:
    """`application/json` or a `+json` type, whatever the parameters; an absent type counts as JSON."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media in ("", "application/json") or (media.startswith("application/") and media.endswith("+json"))
