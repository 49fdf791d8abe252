"""Bulk operations: the progress widget's list, one operation with its run, cancel."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from inventory_sync.api.context import (
    READ_ERRORS,
    WRITE_ERRORS,
    Cursor,
    Id,
    Limit,
    correlation_id,
    identity,
    unit_of_work,
)
from inventory_sync.api.models import (
    BulkOperationDetailOut,
    BulkOperationPage,
)
from inventory_sync.services import cancel, queries

router = APIGatewayHttpRouter()


@router.get("/bulk-operations", responses=READ_ERRORS)
def list_bulk_operations(
    status: Annotated[Literal["active"] | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> BulkOperationPage:
    """The caller's bulk operations (status=active for the progress widget)."""
    return BulkOperationPage.model_validate(queries.list_bulk_operations(unit_of_work(router), identity(router),
                                                                         status=status, cursor=cursor, limit=limit))


@router.get("/bulk-operations/<bulk_id>", responses=READ_ERRORS)
def get_bulk_operation(bulk_id: Id) -> BulkOperationDetailOut:
    """A bulk operation with the live progress of its run."""
    return BulkOperationDetailOut.model_validate(queries.get_bulk_operation(unit_of_work(router), identity(router),
                                                                            bulk_id))


@router.post("/bulk-operations/<bulk_id>/cancel",
             responses={200: {"description": "Aborted"}, 202: {"description": "Stop requested"}, **WRITE_ERRORS})
def cancel_bulk_operation(bulk_id: Id) -> Response[BulkOperationDetailOut]:
    """Cancel: pending → aborted (200); running → stops between pages (202); terminal → 409."""
    done = cancel.cancel(unit_of_work(router), identity(router), bulk_id, correlation_id(router))
    return Response(200 if done.aborted else 202, content_types.APPLICATION_JSON,
                    BulkOperationDetailOut.model_validate(done.operation))
