"""What every route shares: the caller, one transaction per request, the wiring, parameter types and the
problem responses the OpenAPI document lists."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, cast

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from inventory_sync import bootstrap
from inventory_sync.api.models import Problem
from inventory_sync.api.problems import TITLES
from inventory_sync.db.rows import Tenant
from inventory_sync.db.unit_of_work import SqlUnitOfWork
from inventory_sync.domain.limits import MAX_ID
from inventory_sync.services.access import Identity
from inventory_sync.services.paging import MAX_PAGE
from inventory_sync.services.tenant_admin import TenantAdmin

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

    from inventory_sync.services.permissions import PermissionChecks


Id = Annotated[int, Path(gt=0, le=MAX_ID)]


def errors_for(*codes: int) -> dict[int, OpenAPIResponse]:
    """Problem responses a route can give, for the OpenAPI document."""
    return {code: {"description": TITLES[code], "content": {"application/problem+json": {"model": Problem}}}
            for code in codes}


def no_content(description: str) -> OpenAPIResponse:
    """A 204 in the OpenAPI document: no body, so no media type (Powertools would document the route's
    return type as JSON otherwise, and clients would try to parse an empty body)."""
    return {"description": description, "content": {}}


READ_ERRORS: dict[int, OpenAPIResponse] = {200: {"description": "OK"}, **errors_for(400, 401, 404, 413, 422)}
WRITE_ERRORS = errors_for(400, 401, 403, 404, 409, 413, 415, 422, 503)
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Cursor = Annotated[str | None, Query(max_length=200)]


def container(router: BaseRouter) -> bootstrap.Container:
    """The dispatch function's container, handed to the resolver's context by `routes.handle`."""
    wiring: bootstrap.FunctionContainer = router.context["container"]
    return wiring()


def _event(router: BaseRouter) -> APIGatewayProxyEventV2:
    return cast("APIGatewayProxyEventV2", router.current_event)


def identity(router: BaseRouter) -> Identity:
    """The caller as the JWT authorizer saw them; a platform administrator when ADMIN_GROUP_ID is among the
    token's groups or roles."""
    authorizer = _event(router).request_context.authorizer
    claims = authorizer.jwt_claim if authorizer else None
    return Identity.from_claims(claims, container(router).settings.admin_group_id)


def unit_of_work(router: BaseRouter) -> SqlUnitOfWork:
    """The request's unit of work: the service it is handed to opens, authorises and commits in it."""
    return SqlUnitOfWork(container(router).db)


def correlation_id(router: BaseRouter) -> str:
    return _event(router).request_context.request_id


def tenant_admin(router: BaseRouter) -> TenantAdmin:
    return TenantAdmin(unit_of_work(router), container(router).credentials,
                       lambda tenant: permission_checks(router).forget(tenant))


def permission_checks(router: BaseRouter) -> PermissionChecks:
    from inventory_sync.services import permissions  # the Graph client: loaded when these routes need it

    built = container(router)

    def probe(tenant: Tenant) -> permissions.PermissionReport:
        return permissions.check(tenant, built.registry, built.credentials, built.tokens,
                                 built.settings.graph_base_url)

    return permissions.PermissionChecks(built.permission_reports, built.tokens, probe)


