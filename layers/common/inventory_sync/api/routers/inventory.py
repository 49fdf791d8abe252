"""The inventory: items by type, category or search, one item, its history, counts per type."""

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
from inventory_sync.api.models import (
    ChangePage,
    InventorySummaryOut,
    ItemOut,
    ItemPage,
    TypeCountOut,
)
from inventory_sync.services import queries

router = APIGatewayHttpRouter()


@router.get("/tenants/<tenant_id>/inventory-items/<item_id>/history", responses=READ_ERRORS)
def item_history(tenant_id: Id, item_id: Id, cursor: Cursor = None, limit: Limit = 50) -> ChangePage:
    """Every recorded change of one inventory item, newest first."""
    return ChangePage.model_validate(queries.item_history(unit_of_work(router), identity(router), tenant_id,
                                                          item_id, cursor=cursor, limit=limit))


@router.get("/tenants/<tenant_id>/inventory-items", responses=READ_ERRORS)
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
    which = queries.ItemFilter(policy_type=policy_type, category=category, search=q,
                               include_deleted=include_deleted)
    return ItemPage.model_validate(queries.list_items(unit_of_work(router), identity(router), tenant_id, which,
                                                      cursor=cursor, limit=limit))


@router.get("/tenants/<tenant_id>/inventory-items/<item_id>", responses=READ_ERRORS)
def get_item(tenant_id: Id, item_id: Id) -> ItemOut:
    """One inventory item: its payload and dependency links."""
    return ItemOut.model_validate(queries.get_item(unit_of_work(router), identity(router), tenant_id, item_id))


@router.get("/tenants/<tenant_id>/inventory-summary", responses=READ_ERRORS)
def inventory_summary(tenant_id: Id) -> InventorySummaryOut:
    """How many items the tenant's inventory holds per policy type (live and deleted)."""
    counts = queries.inventory_summary(unit_of_work(router), identity(router), tenant_id)
    return InventorySummaryOut(tenant_id=tenant_id, policy_types=[TypeCountOut.model_validate(c) for c in counts])
