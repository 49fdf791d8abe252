"""The HTTP API: one Powertools resolver with the routers of api/routers/, the edge checks every request passes
(body size, token, media type), errors as problem documents, and the OpenAPI document (README, "HTTP API")."""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import ValidationError

from inventory_sync.api import local_auth
from inventory_sync.api.context import container, errors_for, identity
from inventory_sync.api.models import PolicyTypesOut
from inventory_sync.api.problems import PROBLEM, TITLES, is_json_media_type, problem, status_of, validation_errors
from inventory_sync.api.routers import audit, inventory, operations, syncs, tenants
from inventory_sync.domain.limits import MAX_JSON_DEPTH, all_storable, json_depth
from inventory_sync.domain.registry import CATEGORIES, CATEGORY_NAMES, FOUNDATIONS, POLICY_TYPES, types_of_category
from inventory_sync.domain.selection import SelectionError
from inventory_sync.errors import ServiceError, Unauthenticated
from inventory_sync.observability import logger, metrics
from inventory_sync.settings import ConfigError

if TYPE_CHECKING:
    from inventory_sync.bootstrap import FunctionContainer

MAX_BODY_BYTES = 64 * 1024
# on every answer, errors included: a client must not sniff a JSON body into something it would run
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff"}
UNSTORABLE = "the request holds a NUL character or a lone surrogate, which cannot be stored"

app = APIGatewayHttpResolver(enable_validation=True)
for _router in (tenants.router, syncs.router, operations.router, inventory.router, audit.router):
    app.include_router(_router)

__all__ = ["app", "handle", "openapi_json"]


@app.get("/policy-types", responses={200: {"description": "OK"}, **errors_for(401)})
def list_policy_types() -> PolicyTypesOut:
    """The runtime registry for the selection form; foundations flagged."""
    identity(app)
    registry = container(app).registry
    return PolicyTypesOut.model_validate({
        "policy_types": [{**t.as_dict(), "enabled": registry.is_enabled(t.key)} for t in POLICY_TYPES + FOUNDATIONS],
        "categories": list(CATEGORIES),
        "category_details": [{"key": c, "display_name": CATEGORY_NAMES[c], "policy_types": types_of_category(c)}
                             for c in CATEGORIES],
    })


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:  # a raw Response: the document does not describe itself
    identity(app)
    return Response(200, content_types.APPLICATION_JSON, openapi_json())


@functools.cache
def openapi_json() -> str:
    """Built once per execution environment: the routes cannot change while it lives (~75 ms a build)."""
    return app.get_openapi_json_schema(title="Inventory Sync API", version="1.0.0", openapi_version="3.1.0",
                                       description="Inventory of Microsoft Intune tenants' configuration.")


@app.exception_handler(ServiceError)
def _service_error(exc: ServiceError) -> Response[str]:
    status = status_of(exc)
    if status >= 500:
        logger.warning("service unavailable", extra={"detail": exc.detail})
    metrics.add_metric(name="Rejections", unit="Count", value=1)
    return problem(status, TITLES[status], exc.detail, exc.errors)


@app.exception_handler(SelectionError)
def _selection_error(exc: SelectionError) -> Response[str]:
    metrics.add_metric(name="Rejections", unit="Count", value=1)
    return problem(422, TITLES[422], exc.detail, exc.errors)


@app.exception_handler(RequestValidationError)
def _validation_error(exc: RequestValidationError) -> Response[str]:
    status, errors = validation_errors(list(exc.errors()))
    metrics.add_metric(name="Rejections", unit="Count", value=1)
    return problem(status, TITLES[status], "the request is not valid", errors)


@app.exception_handler(ValidationError)
def _model_error(exc: ValidationError) -> Response[str]:
    logger.exception("response did not match its model")
    return problem(500, TITLES[500], "internal error")


@app.not_found
def _not_found(exc: Exception) -> Response[str]:
    return problem(404, TITLES[404], "no route for this method and path")  # never the caller's path


def _body_size(event: dict[str, Any]) -> int:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        with contextlib.suppress(ValueError):
            return len(base64.b64decode(body))
    return len(body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body)


def handle(event: dict[str, Any], context: Any, container: FunctionContainer) -> dict[str, Any]:
    """Entry point for API Gateway HTTP API (2.0) events; routes reach `container` through the resolver's
    context (built on first use: the edge refusals above the resolver never wire anything). Whatever goes
    wrong, the answer is a problem document, and every answer carries the security headers."""
    try:
        answer = _answer(event, context, container)
    except Exception:
        logger.exception("unhandled error")
        answer = _plain(problem(500, TITLES[500], "internal error"))
    answer["headers"] = {**(answer.get("headers") or {}), **SECURITY_HEADERS}
    return answer


def _answer(event: dict[str, Any], context: Any, container: FunctionContainer) -> dict[str, Any]:
    request_id = (event.get("requestContext") or {}).get("requestId")
    if request_id:
        logger.set_correlation_id(request_id)
    if _body_size(event) > MAX_BODY_BYTES:
        metrics.add_metric(name="Rejections", unit="Count", value=1)
        return _plain(problem(413, TITLES[413], f"the body exceeds {MAX_BODY_BYTES} bytes"))
    claims = _claims(event)
    if not claims:  # in AWS the JWT authorizer refused it already; under sam local, see local_auth
        try:
            key = container.local_auth_key()
        except ConfigError as exc:
            logger.error("local authentication is misconfigured", extra={"error": str(exc)})
            return _plain(problem(500, TITLES[500], "internal error"))
        if key is not None:
            local_auth.authorize(event, key)
            claims = _claims(event)
    if not claims:
        metrics.add_metric(name="Rejections", unit="Count", value=1)
        error = Unauthenticated("missing or invalid bearer token")
        return _plain(problem(401, TITLES[401], error.detail, headers={"WWW-Authenticate": "Bearer"}))
    refused = _body_problem(event) or _input_problem(event, claims)
    if refused is not None:
        metrics.add_metric(name="Rejections", unit="Count", value=1)
        return _plain(refused)
    # Past those checks the body is JSON or absent. Media types are case-insensitive and +json is JSON, but the
    # resolver knows one spelling (and refuses a stray type on an empty body): tell it that one.
    headers = {k: v for k, v in (event.get("headers") or {}).items() if str(k).lower() != "content-type"}
    event = {**event, "headers": {**headers, "content-type": "application/json"}}
    app.append_context(container=container)  # Powertools clears the context after each request
    return _as_problem(app.resolve(event, context))


def _input_problem(event: dict[str, Any], claims: Any) -> Response[str] | None:
    """Input no route may see (domain/limits.py): text PostgreSQL cannot store anywhere in the request (query,
    path, headers, the token's claims, the body's strings), or a body nested deeper than MAX_JSON_DEPTH (the
    JSON parser recurses). 400, naming where, never what."""
    places = {"query": event.get("queryStringParameters"), "path": event.get("pathParameters"),
              "header": event.get("headers"), "token": claims}
    for where, values in places.items():
        if values and not all_storable(values):
            return problem(400, TITLES[400], UNSTORABLE, [{"in": where, "message": UNSTORABLE}])
    text = _body_text(event)
    if not text:
        return None
    if json_depth(text) > MAX_JSON_DEPTH:
        return problem(400, TITLES[400], f"the body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        decoded = json.loads(text)
    except ValueError:
        return None  # malformed: the resolver answers 400 where a route reads a body
    if not all_storable(decoded):
        return problem(400, TITLES[400], UNSTORABLE, [{"in": "body", "message": UNSTORABLE}])
    return None


def _body_text(event: dict[str, Any]) -> str | None:
    """The body as text (decoded when base64; `_body_problem` has checked that it decodes)."""
    body = event.get("body")
    if not body or not isinstance(body, str):
        return None
    return base64.b64decode(body).decode("utf-8") if event.get("isBase64Encoded") else body


def _body_problem(event: dict[str, Any]) -> Response[str] | None:
    """A body the API cannot read as JSON: 400 for bytes that are not UTF-8 (or not base64 when flagged so),
    415 for any other media type (a browser's `text/plain`, curl's form encoding). Never echoes the body."""
    body = event.get("body")
    if not body:
        return None
    if event.get("isBase64Encoded"):
        try:
            base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
            return problem(400, TITLES[400], "the body is not base64-encoded UTF-8 text")
    elif isinstance(body, str):
        try:
            body.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a JSON escape
            return problem(400, TITLES[400], "the body is not UTF-8 text")
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    if not is_json_media_type(headers.get("content-type")):
        return problem(415, TITLES[415], "the body must be application/json",
                       headers={"Accept-Post": "application/json", "Accept-Patch": "application/json"})
    return None


def _as_problem(answer: dict[str, Any]) -> dict[str, Any]:
    """Errors Powertools answers by itself (its own 415, 405, ...) become problem documents too."""
    status = int(answer.get("statusCode") or 500)
    headers = answer.get("headers") or {}
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if status < 400 or str(content_type).startswith(PROBLEM):
        return answer
    return _plain(problem(status, TITLES.get(status, "Error"), "the request was not accepted"))


def _claims(event: dict[str, Any]) -> Any:
    return (((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt") or {}).get("claims")


def _plain(response: Response[Any]) -> dict[str, Any]:
    headers = {"Content-Type": response.headers.get("Content-Type", "application/problem+json"),
               **{k: v for k, v in response.headers.items() if isinstance(v, str)}}
    return {"statusCode": response.status_code, "headers": headers, "body": response.body,
            "isBase64Encoded": False}
