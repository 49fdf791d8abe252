"""Inventory syncs: dispatch, runs, and what a run changed."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from inventory_sync.api.context import (
    READ_ERRORS,
    WRITE_ERRORS,
    Cursor,
    Id,
    Limit,
    container,
    correlation_id,
    identity,
    unit_of_work,
)
from inventory_sync.api.exporting import EXPORT_RESPONSES, ExportFormat, export_response
from inventory_sync.api.models import (
    ChangePage,
    DispatchOut,
    RunOut,
    RunPage,
)
from inventory_sync.domain.selection import SelectionRequest
from inventory_sync.observability import metrics
from inventory_sync.services import exports, queries
from inventory_sync.services.dispatch import Dispatched, DispatchService

router = APIGatewayHttpRouter()


@router.post("/tenants/<tenant_id>/inventory-syncs", responses={202: {"description": "Dispatched"}, **WRITE_ERRORS})
def dispatch_sync(
    tenant_id: Id,
    body: Annotated[SelectionRequest | None, Body()] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)] = None,
) -> Response[DispatchOut]:
    """Dispatch an inventory sync of the tenant (empty body = full inventory)."""
    built = container(router)
    service = DispatchService(unit_of_work(router), built.run_queue, built.registry)
    answer = service.dispatch(identity(router), tenant_id, body or SelectionRequest(), idempotency_key=idempotency_key,
                              correlation_id=correlation_id(router), render=_render)
    metrics.add_metric(name="Dispatches", unit="Count", value=1)
    location = f"/bulk-operations/{answer['bulk_operation_run']['id']}"
    # a replay answers what was stored: timestamps parse back to the instants they were written from
    return Response(202, content_types.APPLICATION_JSON, DispatchOut.model_validate(answer),
                    headers={"Location": location})


def _render(dispatched: Dispatched) -> dict[str, Any]:
    return DispatchOut.model_validate(dispatched).model_dump(mode="json")


@router.get("/tenants/<tenant_id>/inventory-syncs", responses=READ_ERRORS)
def list_syncs(
    tenant_id: Id,
    status: Annotated[Literal["running", "success", "partial", "failed", "skipped"] | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> RunPage:
    """The tenant's sync runs, newest first (cursor pagination)."""
    return RunPage.model_validate(queries.list_runs(unit_of_work(router), identity(router), tenant_id, status=status,
                                                    cursor=cursor, limit=limit))


@router.get("/tenants/<tenant_id>/inventory-syncs/<run_id>", responses=READ_ERRORS)
def get_sync(tenant_id: Id, run_id: Id) -> RunOut:
    """One sync run with counters, error codes and progress."""
    return RunOut.model_validate(queries.get_run(unit_of_work(router), identity(router), tenant_id, run_id))


@router.get("/tenants/<tenant_id>/inventory-syncs/<run_id>/changes", responses=READ_ERRORS)
def list_sync_changes(
    tenant_id: Id,
    run_id: Id,
    change: Annotated[Literal["added", "changed", "deleted", "restored"] | None, Query()] = None,
    policy_type: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> ChangePage:
    """What the run changed: each item added, changed (with its JSON Patch), deleted or restored."""
    return ChangePage.model_validate(queries.list_changes(unit_of_work(router), identity(router), tenant_id, run_id,
                                                          change=change, policy_type=policy_type, cursor=cursor,
                                                          limit=limit))


@router.get("/tenants/<tenant_id>/exports/inventory-syncs/<run_id>/changes", responses=EXPORT_RESPONSES)
def export_sync_changes(
    tenant_id: Id,
    run_id: Id,
    format: ExportFormat = "csv",  # noqa: A002 - the query parameter's name
    change: Annotated[Literal["added", "changed", "deleted", "restored"] | None, Query()] = None,
    policy_type: Annotated[str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9]+$")] = None,
    cursor: Cursor = None,
) -> Response[str]:
    """The run's change set as CSV or JSON (diffs as JSON Patch text), one page of up to 5,000 rows / ~4.5 MB per
    request; `X-Next-Cursor` names the next page."""
    page = exports.change_set(unit_of_work(router), identity(router), tenant_id, run_id, format, change=change,
                              policy_type=policy_type, cursor=cursor)
    return export_response(page)
