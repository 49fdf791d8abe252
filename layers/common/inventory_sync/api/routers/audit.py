"""The audit trail."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from inventory_sync.api.context import (
    READ_ERRORS,
    Cursor,
    Id,
    Limit,
    identity,
    unit_of_work,
)
from inventory_sync.api.exporting import EXPORT_RESPONSES, ExportFormat, export_response
from inventory_sync.api.models import AuditPage
from inventory_sync.services import exports, queries

router = APIGatewayHttpRouter()

Action = Annotated[str | None, Query(max_length=200)]
ResourceType = Annotated[str | None, Query(max_length=100)]
ResourceId = Annotated[str | None, Query(max_length=100)]


@router.get("/tenants/<tenant_id>/audit-logs", responses=READ_ERRORS)
def list_audit_logs(
    tenant_id: Id,
    action: Action = None,
    resource_type: ResourceType = None,
    resource_id: ResourceId = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> AuditPage:
    """The tenant's audit trail, newest first."""
    return AuditPage.model_validate(queries.list_audit(unit_of_work(router), identity(router), tenant_id,
                                                       action=action, resource_type=resource_type,
                                                       resource_id=resource_id, cursor=cursor, limit=limit))


@router.get("/tenants/<tenant_id>/exports/audit-logs", responses=EXPORT_RESPONSES)
def export_audit_logs(
    tenant_id: Id,
    format: ExportFormat = "csv",  # noqa: A002 - the query parameter's name
    action: Action = None,
    resource_type: ResourceType = None,
    resource_id: ResourceId = None,
    cursor: Cursor = None,
) -> Response[str]:
    """The audit trail (same filters, newest first) as CSV or JSON, with each event's `outcome`; one page of up to
    5,000 rows / ~4.5 MB per request; `X-Next-Cursor` names the next page."""
    page = exports.audit_trail(unit_of_work(router), identity(router), tenant_id, format, action=action,
                               resource_type=resource_type, resource_id=resource_id, cursor=cursor)
    return export_response(page)
