"""What the export routes share: the format parameter, the response (body, file name, the next page's cursor)
and its OpenAPI description."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from inventory_sync.api.context import errors_for

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

    from inventory_sync.services.exports import ExportPage

ExportFormat = Annotated[Literal["csv", "json"], Query(description="csv (a header row on every page) or json")]

_PAGE_HEADERS = {
    "X-Next-Cursor": {"description": "the next page's cursor (absent on the last page)",
                      "schema": {"type": "string"}},
    "X-Total-Count": {"description": "rows the whole export holds", "schema": {"type": "integer"}},
    "X-Row-Count": {"description": "rows on this page", "schema": {"type": "integer"}},
}

EXPORT_RESPONSES: dict[int, OpenAPIResponse] = {
    200: {"description": "One page of the export; repeat the request with `cursor` = `X-Next-Cursor` until"
                         " there is none",
          "content": {"text/csv": {"schema": {"type": "string"}},
                      "application/json": {"schema": {"type": "object"}}}},
    **errors_for(400, 401, 404, 413, 422),
}


def export_response(page: ExportPage) -> Response[str]:
    headers = {"Content-Disposition": f'attachment; filename="{page.filename}"',
               "X-Total-Count": str(page.total), "X-Row-Count": str(page.rows), "Cache-Control": "no-store"}
    if page.next_cursor:
        headers["X-Next-Cursor"] = page.next_cursor
    return Response(200, page.media_type, page.body, headers=headers)
