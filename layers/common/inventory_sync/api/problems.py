"""Every error answer is an RFC 9457 problem document. Domain errors map to statuses here only."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None,
            headers: dict[str, str] | None = None) -> Response:
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
        field = ".".join(loc[1:]) if len(loc) > 1 else (loc[0] if loc else "body")
        errors.append({"field": field, "in": loc[0] if loc else "body", "message": err.get("msg", "invalid")})
    return status, errors


TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
          409: "Conflict", 413: "Payload Too Large", 422: "Unprocessable Content", 500: "Internal Server Error",
          503: "Service Unavailable"}
