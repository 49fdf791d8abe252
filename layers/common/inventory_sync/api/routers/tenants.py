"""Tenants, their Graph credential and members; the owners' permission check."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from inventory_sync.api.context import (
    READ_ERRORS,
    WRITE_ERRORS,
    Cursor,
    Id,
    Limit,
    correlation_id,
    errors_for,
    identity,
    no_content,
    permission_checks,
    tenant_admin,
    unit_of_work,
)
from inventory_sync.api.models import (
    MemberOut,
    MemberPage,
    PermissionCheckOut,
    TenantOut,
    TenantOverviewOut,
    TenantPage,
)
from inventory_sync.domain.tenancy import CredentialIn, MemberIn, TenantCreate, TenantPatch
from inventory_sync.services import overview

router = APIGatewayHttpRouter()


@router.post("/tenants", responses={201: {"description": "Created"}, **WRITE_ERRORS})
def create_tenant(body: Annotated[TenantCreate, Body()]) -> Response[TenantOut]:
    """Platform administrators: onboard a tenant with its Graph credential (kept in Secrets Manager only)."""
    view = tenant_admin(router).create(identity(router), body, correlation_id(router))
    return Response(201, content_types.APPLICATION_JSON, TenantOut.model_validate(view),
                    headers={"Location": f"/tenants/{view.id}"})


@router.get("/tenants", responses=READ_ERRORS)
def list_tenants(cursor: Cursor = None, limit: Limit = 50) -> TenantPage:
    """Platform administrators: every tenant; others: the tenants they belong to, with their role; each with its
    latest run, what it changed, its item count and the Graph permissions its app lacks."""
    page = tenant_admin(router).visible_tenants(identity(router), cursor, limit)
    return TenantPage.model_validate(overview.page_of(unit_of_work(router), page))


@router.get("/tenants/<tenant_id>", responses=READ_ERRORS)
def get_tenant(tenant_id: Id) -> TenantOverviewOut:
    """One tenant (members and platform administrators), with its overview as in the list."""
    tenant = tenant_admin(router).get(identity(router), tenant_id)
    return TenantOverviewOut.model_validate(overview.one(unit_of_work(router), tenant))


@router.patch("/tenants/<tenant_id>", responses={200: {"description": "OK"}, **WRITE_ERRORS})
def update_tenant(tenant_id: Id, body: Annotated[TenantPatch, Body()]) -> TenantOut:
    """Platform administrators: rename, enable/disable (`status`), include in scheduled syncs or not."""
    view = tenant_admin(router).update(identity(router), tenant_id, body, correlation_id(router))
    return TenantOut.model_validate(view)


@router.put("/tenants/<tenant_id>/credential", responses={204: no_content("Stored"), **WRITE_ERRORS})
def set_tenant_credential(tenant_id: Id, body: Annotated[CredentialIn, Body()]) -> Response[None]:
    """Platform administrators and the tenant's owners: replace its Graph credential (never echoed)."""
    tenant_admin(router).set_credential(identity(router), tenant_id, body, correlation_id(router))
    return Response(204, None, None)


@router.get("/tenants/<tenant_id>/members", responses={**READ_ERRORS, **errors_for(403)})
def list_members(tenant_id: Id) -> MemberPage:
    """Platform administrators and the tenant's owners: who may do what."""
    members = tenant_admin(router).members(identity(router), tenant_id)
    return MemberPage(items=[MemberOut.model_validate(m) for m in members])


@router.put("/tenants/<tenant_id>/members",
            responses={200: {"description": "Changed"}, 201: {"description": "Added"}, **WRITE_ERRORS})
def put_member(tenant_id: Id, body: Annotated[MemberIn, Body()]) -> Response[MemberOut]:
    """Platform administrators and the tenant's owners: add a member or change their role."""
    created, view = tenant_admin(router).put_member(identity(router), tenant_id, body, correlation_id(router))
    return Response(201 if created else 200, content_types.APPLICATION_JSON, MemberOut.model_validate(view))


@router.delete("/tenants/<tenant_id>/members/<user_id>", responses={204: no_content("Removed"), **WRITE_ERRORS})
def remove_member(tenant_id: Id, user_id: Id) -> Response[None]:
    """Platform administrators and the tenant's owners: remove a member (a tenant keeps one owner at least)."""
    tenant_admin(router).remove_member(identity(router), tenant_id, user_id, correlation_id(router))
    return Response(204, None, None)


@router.get("/tenants/<tenant_id>/permission-check",
            responses={200: {"description": "OK"}, **errors_for(400, 401, 403, 404, 413, 422)})
def permission_check(tenant_id: Id, refresh: Annotated[bool, Query()] = False) -> PermissionCheckOut:
    """Owners: which enabled policy types the tenant's Graph app can read (cached a few minutes)."""
    checks = permission_checks(router)
    tenant = checks.tenant(unit_of_work(router), identity(router), tenant_id)
    report = checks.report(tenant, refresh=refresh)
    overview.record_permission_check(unit_of_work(router), report)
    return PermissionCheckOut.model_validate(report)
