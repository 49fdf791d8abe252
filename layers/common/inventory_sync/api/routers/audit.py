"""The audit trail."""

from __future__ import annotations

from typing import Annotated

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
from inventory_sync.api.models import AuditPage
from inventory_sync.services import queries

router = APIGatewayHttpRouter()


@router.get("/tenants/<tenant_id>/audit-logs", responses=READ_ERRORS)
def list_audit_logs(
    tenant_id: Id,
    action: Annotated[str | None, Query(max_length=200)] = None,
    resource_type: Annotated[str | None, Query(max_length=100)] = None,
    resource_id: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> AuditPage:
    """The tenant's audit trail, newest first."""
    return AuditPage.model_validate(queries.list_audit(unit_of_work(router), identity(router), tenant_id,
                                                       action=action, resource_type=resource_type,
                                                       resource_id=resource_id, cursor=cursor, limit=limit))
