"""Routes of the HTTP API (README, "HTTP API"). Each route: identify the caller, call a service, shape the answer."""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal

import psycopg
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from pydantic import ValidationError

from inventory_sync import bootstrap
from inventory_sync.api import local_auth
from inventory_sync.api.models import (
    AuditPage,
    BulkOperationDetailOut,
    BulkOperationPage,
    ChangePage,
    DispatchOut,
    InventorySummaryOut,
    ItemOut,
    ItemPage,
    MemberOut,
    MemberPage,
    PermissionCheckOut,
    PolicyTypesOut,
    Problem,
    RunOut,
    RunPage,
    TenantOut,
    TenantPage,
)
from inventory_sync.api.problems import PROBLEM, TITLES, is_json_media_type, problem, status_of, validation_errors
from inventory_sync.db.rows import User
from inventory_sync.domain.registry import CATEGORIES, FOUNDATIONS, POLICY_TYPES
from inventory_sync.domain.selection import SelectionError, SelectionRequest
from inventory_sync.domain.tenancy import CredentialIn, MemberIn, TenantCreate, TenantPatch
from inventory_sync.errors import ServiceError, Unauthenticated
from inventory_sync.observability import logger, metrics
from inventory_sync.services import queries
from inventory_sync.services.access import OWNER_ROLES, Caller, Identity, require_member, resolve_user
from inventory_sync.services.dispatch import DispatchService
from inventory_sync.services.tenant_admin import TenantAdmin
from inventory_sync.settings import ConfigError

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

MAX_BODY_BYTES = 64 * 1024
REQUIRED = ("run_queue_url",)

app = APIGatewayHttpResolver(enable_validation=True)

# ids are bigint; the API caps them at 2^53 - 1 so the bound survives JSON (a double) exactly
MAX_ID = 2**53 - 1
Id = Annotated[int, Path(gt=0, le=MAX_ID)]


def _errors(*codes: int) -> dict[int, OpenAPIResponse]:
    """Problem responses a route can give, for the OpenAPI document."""
    return {code: {"description": TITLES[code], "content": {"application/problem+json": {"model": Problem}}}
            for code in codes}


READ_ERRORS: dict[int, OpenAPIResponse] = {200: {"description": "OK"}, **_errors(400, 401, 404, 413, 422)}
WRITE_ERRORS = _errors(400, 401, 403, 404, 409, 413, 415, 422, 503)
Limit = Annotated[int, Query(ge=1, le=queries.MAX_PAGE)]
Cursor = Annotated[str | None, Query(max_length=200)]


def _container() -> bootstrap.Container:
    return bootstrap.container("dispatch", *REQUIRED)


def _identity() -> Identity:
    authorizer = app.current_event.request_context.authorizer
    claims = authorizer.jwt_claim if authorizer else None
    return Identity.from_claims(claims)


@contextlib.contextmanager
def _session() -> Iterator[tuple[psycopg.Connection, User]]:
    """One transaction per request, with the caller's users row created or refreshed."""
    identity = _identity()
    with _container().db.transaction() as conn:
        yield conn, resolve_user(conn, identity)


@contextlib.contextmanager
def _as_caller() -> Iterator[tuple[psycopg.Connection, Caller]]:
    """`_session`, knowing whether the caller administers the platform (ADMIN_GROUP_ID in groups or roles)."""
    identity = _identity()
    container = _container()
    with container.db.transaction() as conn:
        yield conn, Caller(resolve_user(conn, identity), identity.is_admin(container.settings.admin_group_id))


def _correlation_id() -> str:
    return app.current_event.request_context.request_id


def _tenant_admin() -> TenantAdmin:
    return TenantAdmin(_container().credentials)


# -- tenants, credentials and members (platform administrators; owners for credential and members) --------
@app.post("/tenants", responses={201: {"description": "Created"}, **WRITE_ERRORS})
def create_tenant(body: Annotated[TenantCreate, Body()]) -> Response[TenantOut]:
    """Platform administrators: onboard a tenant with its Graph credential (kept in Secrets Manager only)."""
    service = _tenant_admin()
    stored: list[int] = []
    try:
        with _as_caller() as (conn, caller):
            view = service.create(conn, caller, body, _correlation_id(), stored.append)
    except psycopg.Error:
        for tenant_id in stored:  # the commit failed after the credential was stored: take it back
            service.forget_credential(tenant_id)
        raise
    return Response(201, content_types.APPLICATION_JSON, TenantOut.model_validate(view),
                    headers={"Location": f"/tenants/{view['id']}"})


@app.get("/tenants", responses=READ_ERRORS)
def list_tenants(cursor: Cursor = None, limit: Limit = 50) -> TenantPage:
    """Platform administrators: every tenant; others: the tenants they belong to, with their role."""
    with _as_caller() as (conn, caller):
        rows = _tenant_admin().visible_tenants(conn, caller, queries.decode_cursor(cursor), limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return TenantPage.model_validate({"items": rows,
                                      "next_cursor": queries.encode_cursor(rows[-1]["id"]) if more else None})


@app.get("/tenants/<tenant_id>", responses=READ_ERRORS)
def get_tenant(tenant_id: Id) -> TenantOut:
    """One tenant (members and platform administrators)."""
    with _as_caller() as (conn, caller):
        return TenantOut.model_validate(_tenant_admin().get(conn, caller, tenant_id))


@app.patch("/tenants/<tenant_id>", responses={200: {"description": "OK"}, **WRITE_ERRORS})
def update_tenant(tenant_id: Id, body: Annotated[TenantPatch, Body()]) -> TenantOut:
    """Platform administrators: rename, enable/disable (`status`), include in scheduled syncs or not."""
    with _as_caller() as (conn, caller):
        return TenantOut.model_validate(_tenant_admin().update(conn, caller, tenant_id, body, _correlation_id()))


@app.put("/tenants/<tenant_id>/credential", responses={204: {"description": "Stored"}, **WRITE_ERRORS})
def set_tenant_credential(tenant_id: Id, body: Annotated[CredentialIn, Body()]) -> Response[None]:
    """Platform administrators and the tenant's owners: replace its Graph credential (never echoed)."""
    with _as_caller() as (conn, caller):
        _tenant_admin().set_credential(conn, caller, tenant_id, body, _correlation_id())
    container = _container()
    container.permission_reports.forget(tenant_id)
    return Response(204, None, None)


@app.get("/tenants/<tenant_id>/members", responses={**READ_ERRORS, **_errors(403)})
def list_members(tenant_id: Id) -> MemberPage:
    """Platform administrators and the tenant's owners: who may do what."""
    with _as_caller() as (conn, caller):
        return MemberPage.model_validate({"items": _tenant_admin().members(conn, caller, tenant_id)})


@app.put("/tenants/<tenant_id>/members",
         responses={200: {"description": "Changed"}, 201: {"description": "Added"}, **WRITE_ERRORS})
def put_member(tenant_id: Id, body: Annotated[MemberIn, Body()]) -> Response[MemberOut]:
    """Platform administrators and the tenant's owners: add a member or change their role."""
    with _as_caller() as (conn, caller):
        created, view = _tenant_admin().put_member(conn, caller, tenant_id, body, _correlation_id())
    return Response(201 if created else 200, content_types.APPLICATION_JSON, MemberOut.model_validate(view))


@app.delete("/tenants/<tenant_id>/members/<user_id>", responses={204: {"description": "Removed"}, **WRITE_ERRORS})
def remove_member(tenant_id: Id, user_id: Id) -> Response[None]:
    """Platform administrators and the tenant's owners: remove a member (a tenant keeps one owner at least)."""
    with _as_caller() as (conn, caller):
        _tenant_admin().remove_member(conn, caller, tenant_id, user_id, _correlation_id())
    return Response(204, None, None)


@app.post("/tenants/<tenant_id>/inventory-syncs", responses={202: {"description": "Dispatched"}, **WRITE_ERRORS})
def dispatch_sync(
    tenant_id: Id,
    body: Annotated[SelectionRequest | None, Body()] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)] = None,
) -> Response[DispatchOut]:
    """Dispatch an inventory sync of the tenant (empty body = full inventory)."""
    request = body or SelectionRequest()
    raw = request.model_dump(exclude_none=True)
    container = _container()
    service = DispatchService(container.db, container.run_queue, container.registry)
    with _session() as (conn, user):
        result = service.dispatch(conn, user=user, tenant_id=tenant_id, body=raw, request=request,
                                  idempotency_key=idempotency_key, correlation_id=_correlation_id())
    metrics.add_metric(name="Dispatches", unit="Count", value=1)
    location = f"/bulk-operations/{result['bulk_operation_run']['id']}"
    return Response(202, content_types.APPLICATION_JSON, DispatchOut.model_validate(result),
                    headers={"Location": location})


@app.get("/tenants/<tenant_id>/inventory-syncs", responses=READ_ERRORS)
def list_syncs(
    tenant_id: Id,
    status: Annotated[Literal["running", "success", "partial", "failed", "skipped"] | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> RunPage:
    """The tenant's sync runs, newest first (cursor pagination)."""
    with _session() as (conn, user):
        return RunPage.model_validate(queries.list_runs(conn, user, tenant_id, status=status, cursor=cursor,
                                                        limit=limit))


@app.get("/tenants/<tenant_id>/inventory-syncs/<run_id>", responses=READ_ERRORS)
def get_sync(tenant_id: Id, run_id: Id) -> RunOut:
    """One sync run with counters, error codes and progress."""
    with _session() as (conn, user):
        return RunOut.model_validate(queries.get_run(conn, user, tenant_id, run_id))


@app.get("/tenants/<tenant_id>/inventory-syncs/<run_id>/changes", responses=READ_ERRORS)
def list_sync_changes(
    tenant_id: Id,
    run_id: Id,
    change: Annotated[Literal["added", "changed", "deleted", "restored"] | None, Query()] = None,
    policy_type: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> ChangePage:
    """What the run changed: each item added, changed (with its JSON Patch), deleted or restored."""
    with _session() as (conn, user):
        return ChangePage.model_validate(queries.list_changes(conn, user, tenant_id, run_id, change=change,
                                                              policy_type=policy_type, cursor=cursor, limit=limit))


@app.get("/tenants/<tenant_id>/inventory-items/<item_id>/history", responses=READ_ERRORS)
def item_history(tenant_id: Id, item_id: Id, cursor: Cursor = None, limit: Limit = 50) -> ChangePage:
    """Every recorded change of one inventory item, newest first."""
    with _session() as (conn, user):
        return ChangePage.model_validate(queries.item_history(conn, user, tenant_id, item_id, cursor=cursor,
                                                              limit=limit))


@app.get("/bulk-operations", responses=READ_ERRORS)
def list_bulk_operations(
    status: Annotated[Literal["active"] | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> BulkOperationPage:
    """The caller's bulk operations (status=active for the progress widget)."""
    with _session() as (conn, user):
        return BulkOperationPage.model_validate(queries.list_bulk_operations(conn, user, status=status,
                                                                             cursor=cursor, limit=limit))


@app.get("/bulk-operations/<bulk_id>", responses=READ_ERRORS)
def get_bulk_operation(bulk_id: Id) -> BulkOperationDetailOut:
    """A bulk operation with the live progress of its run."""
    with _session() as (conn, user):
        return BulkOperationDetailOut.model_validate(queries.get_bulk_operation(conn, user, bulk_id))


@app.post("/bulk-operations/<bulk_id>/cancel",
          responses={200: {"description": "Aborted"}, 202: {"description": "Stop requested"}, **WRITE_ERRORS})
def cancel_bulk_operation(bulk_id: Id) -> Response[BulkOperationDetailOut]:
    """Cancel: pending → aborted (200); running → stops between pages (202); terminal → 409."""
    with _session() as (conn, user):
        code, view = queries.cancel(conn, user, bulk_id, _correlation_id())
    return Response(code, content_types.APPLICATION_JSON, BulkOperationDetailOut.model_validate(view))


@app.get("/tenants/<tenant_id>/inventory-items", responses=READ_ERRORS)
def list_items(
    tenant_id: Id,
    policy_type: Annotated[str | None, Query(max_length=100)] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=200, description="part of the display name or Graph id")] = None,
    include_deleted: Annotated[bool, Query()] = False,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> ItemPage:
    """The tenant's inventory items (deleted ones only when asked), by policy type or category, searchable."""
    with _session() as (conn, user):
        return ItemPage.model_validate(queries.list_items(conn, user, tenant_id, policy_type=policy_type,
                                                          include_deleted=include_deleted, cursor=cursor,
                                                          limit=limit, category=category, search=q))


@app.get("/tenants/<tenant_id>/inventory-items/<item_id>", responses=READ_ERRORS)
def get_item(tenant_id: Id, item_id: Id) -> ItemOut:
    """One inventory item: its payload and dependency links."""
    with _session() as (conn, user):
        return ItemOut.model_validate(queries.get_item(conn, user, tenant_id, item_id))


@app.get("/tenants/<tenant_id>/inventory-summary", responses=READ_ERRORS)
def inventory_summary(tenant_id: Id) -> InventorySummaryOut:
    """How many items the tenant's inventory holds per policy type (live and deleted)."""
    with _session() as (conn, user):
        return InventorySummaryOut.model_validate(queries.inventory_summary(conn, user, tenant_id))


@app.get("/tenants/<tenant_id>/audit-logs", responses=READ_ERRORS)
def list_audit_logs(
    tenant_id: Id,
    action: Annotated[str | None, Query(max_length=200)] = None,
    resource_type: Annotated[str | None, Query(max_length=100)] = None,
    resource_id: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> AuditPage:
    """The tenant's audit trail, newest first."""
    with _session() as (conn, user):
        return AuditPage.model_validate(queries.list_audit(conn, user, tenant_id, action=action,
                                                           resource_type=resource_type, resource_id=resource_id,
                                                           cursor=cursor, limit=limit))


@app.get("/tenants/<tenant_id>/permission-check",
         responses={200: {"description": "OK"}, **_errors(400, 401, 403, 404, 413, 422)})
def permission_check(tenant_id: Id, refresh: Annotated[bool, Query()] = False) -> PermissionCheckOut:
    """Owners: which enabled policy types the tenant's Graph app can read (cached a few minutes)."""
    with _session() as (conn, user):
        tenant = require_member(conn, tenant_id, user, OWNER_ROLES)
    from inventory_sync.services import permissions  # the Graph client: this route only

    container = _container()
    report = None if refresh else container.permission_reports.get(tenant_id)
    if report is None:
        report = permissions.check(tenant, container.registry, container.credentials, container.tokens,
                                   container.settings.graph_base_url)
        container.permission_reports.put(report)
    return PermissionCheckOut.model_validate(report.as_dict())


@app.get("/policy-types", responses={200: {"description": "OK"}, **_errors(401)})
def list_policy_types() -> PolicyTypesOut:
    """The runtime registry for the selection form; foundations flagged."""
    _identity()
    registry = _container().registry
    return PolicyTypesOut.model_validate({
        "policy_types": [{**t.as_dict(), "enabled": registry.is_enabled(t.key)} for t in POLICY_TYPES + FOUNDATIONS],
        "categories": list(CATEGORIES),
    })


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:  # a raw Response: the document does not describe itself
    _identity()
    return Response(200, content_types.APPLICATION_JSON, openapi_json())


def openapi_json() -> str:
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
    return problem(404, TITLES[404], f"no route for {app.current_event.http_method} {app.current_event.path}")


def _body_size(event: dict[str, Any]) -> int:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        with contextlib.suppress(ValueError):
            return len(base64.b64decode(body))
    return len(body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body)


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Entry point for API Gateway HTTP API (2.0) events."""
    request_id = (event.get("requestContext") or {}).get("requestId")
    if request_id:
        logger.set_correlation_id(request_id)
    if _body_size(event) > MAX_BODY_BYTES:
        metrics.add_metric(name="Rejections", unit="Count", value=1)
        return _plain(problem(413, TITLES[413], f"the body exceeds {MAX_BODY_BYTES} bytes"))
    claims = _claims(event)
    if not claims:
        try:
            local_auth.authorize(event)  # sam local start-api only; see local_auth
        except ConfigError as exc:
            logger.error("local authentication is misconfigured", extra={"error": str(exc)})
            return _plain(problem(500, TITLES[500], "internal error"))
        claims = _claims(event)
    if not claims:
        metrics.add_metric(name="Rejections", unit="Count", value=1)
        error = Unauthenticated("missing or invalid bearer token")
        return _plain(problem(401, TITLES[401], error.detail, headers={"WWW-Authenticate": "Bearer"}))
    refused = _body_problem(event)
    if refused is not None:
        metrics.add_metric(name="Rejections", unit="Count", value=1)
        return _plain(refused)
    # Past that check the body is JSON or absent. Media types are case-insensitive and +json is JSON, but the
    # resolver knows one spelling (and refuses a stray type on an empty body): tell it that one.
    headers = {k: v for k, v in (event.get("headers") or {}).items() if str(k).lower() != "content-type"}
    event = {**event, "headers": {**headers, "content-type": "application/json"}}
    try:
        answer = app.resolve(event, context)
    except Exception:
        logger.exception("unhandled error")
        return _plain(problem(500, TITLES[500], "internal error"))
    return _as_problem(answer)


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
