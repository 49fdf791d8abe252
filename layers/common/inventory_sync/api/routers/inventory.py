"""The inventory: items by type, category, platform, assignment or recent change, sortable and searchable; one
item, its history, counts per type; the export."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

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
from inventory_sync.api.models import (
    ChangePage,
    InventorySummaryOut,
    ItemOut,
    ItemPage,
    TypeCountOut,
)
from inventory_sync.db.items import ItemFilter
from inventory_sync.services import exports, queries

router = APIGatewayHttpRouter()

PolicyTypeKey = Annotated[str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9]+$")]
Category = Annotated[str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9 ]+$")]
Search = Annotated[str | None, Query(max_length=200, description="part of the display name or Graph id")]
Platform = Annotated[str | None, Query(max_length=50, pattern=r"^[A-Za-z0-9 ._-]+$",
                                       description="e.g. windows, macOS, iOS, android, linux")]
Assigned = Annotated[bool | None, Query(description="true: items with an assignment; false: without")]
ChangedSince = Annotated[datetime | None, Query(description="items a sync recorded a change of since then"
                                                            " (ISO 8601, with its offset)")]
Sort = Annotated[Literal["id", "display_name", "policy_type", "category", "platform", "first_seen_at",
                         "last_seen_at"], Query()]
Order = Annotated[Literal["asc", "desc"], Query()]


@router.get("/tenants/<tenant_id>/inventory-items/<item_id>/history", responses=READ_ERRORS)
def item_history(tenant_id: Id, item_id: Id, cursor: Cursor = None, limit: Limit = 50) -> ChangePage:
    """Every recorded change of one inventory item, newest first."""
    return ChangePage.model_validate(queries.item_history(unit_of_work(router), identity(router), tenant_id,
                                                          item_id, cursor=cursor, limit=limit))

@router.get("/tenants/<tenant_id>/inventory-items", responses=READ_ERRORS)
def list_items(
    tenant_id: Id,
    policy_type: PolicyTypeKey = None,
    category: Category = None,
    q: Search = None,
    include_deleted: Annotated[bool, Query()] = False,
    platform: Platform = None,
    assigned: Assigned = None,
    changed_since: ChangedSince = None,
    sort: Sort = "id",
    order: Order = "asc",
    cursor: Cursor = None,
    limit: Limit = 100,
) -> ItemPage:
    """The tenant's inventory items (deleted ones only when asked), filtered, sorted, searchable; links carry
    their targets' names where the inventory holds them."""
    item_filter = ItemFilter(policy_type, category, q, include_deleted, platform, assigned, changed_since)
    return ItemPage.model_validate(queries.list_items(unit_of_work(router), identity(router), tenant_id, item_filter,
                                                      sort=sort, descending=order == "desc", cursor=cursor,
                                                      limit=limit))


@router.get("/tenants/<tenant_id>/inventory-items/<item_id>", responses=READ_ERRORS)
def get_item(tenant_id: Id, item_id: Id) -> ItemOut:
    """One inventory item: its payload and dependency links."""
    return ItemOut.model_validate(queries.get_item(unit_of_work(router), identity(router), tenant_id, item_id))


@router.get("/tenants/<tenant_id>/inventory-summary", responses=READ_ERRORS)
def inventory_summary(tenant_id: Id) -> InventorySummaryOut:
    """How many items the tenant's inventory holds per policy type and category (live and deleted): each item
    counted once, in the category the list shows it under."""
    counts = queries.inventory_summary(unit_of_work(router), identity(router), tenant_id)
    return InventorySummaryOut(tenant_id=tenant_id, policy_types=[TypeCountOut.model_validate(c) for c in counts])


@router.get("/tenants/<tenant_id>/exports/inventory-items", responses=EXPORT_RESPONSES)
def export_items(
    tenant_id: Id,
    format: ExportFormat = "csv",  # noqa: A002 - the query parameter's name
    policy_type: PolicyTypeKey = None,
    category: Category = None,
    q: Search = None,
    include_deleted: Annotated[bool, Query()] = False,
    platform: Platform = None,
    assigned: Assigned = None,
    changed_since: ChangedSince = None,
    sort: Sort = "id",
    order: Order = "asc",
    cursor: Cursor = None,
) -> Response[str]:
    """The inventory list (same filters and order) as CSV or JSON, one page of up to 5,000 rows / ~4.5 MB per
    request; `X-Next-Cursor` names the next page."""
    item_filter = ItemFilter(policy_type, category, q, include_deleted, platform, assigned, changed_since)
    page = exports.inventory(unit_of_work(router), identity(router), tenant_id, item_filter, format, sort=sort,
                             descending=order == "desc", cursor=cursor)
    return export_response(page)
