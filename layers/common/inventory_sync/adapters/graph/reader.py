"""Reads one policy type from Graph page by page, with its dependencies and settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from inventory_sync.adapters.graph.client import GraphClient
from inventory_sync.domain.registry import Assignments, PolicyType

PAGE_SIZE = 100


def list_params(ptype: PolicyType, include_dependencies: bool, page_size: int = PAGE_SIZE) -> dict[str, str]:
    params: dict[str, str] = {}
    if ptype.supports_top:
        params["$top"] = str(page_size)
    if include_dependencies and ptype.assignments is Assignments.EXPAND:
        params["$expand"] = "assignments"
    if ptype.list_filter:
        params["$filter"] = ptype.list_filter
    return params


def read_pages(client: GraphClient, ptype: PolicyType, include_dependencies: bool,
               page_size: int = PAGE_SIZE) -> Iterator[list[dict[str, Any]]]:
    """Pages of Graph objects, each complete (assignments via $batch where $expand is not allowed;
    settings catalog settings paged to the end)."""
    for page in client.iter_pages(ptype.collection, list_params(ptype, include_dependencies, page_size)):
        ids = [item["id"] for item in page if isinstance(item.get("id"), str)]
        if include_dependencies and ptype.assignments is Assignments.BATCH and ids:
            urls = {i: f"{ptype.collection}/{i}/assignments" for i in ids}
            got = client.batch_get(list(urls.values()))
            for item in page:
                if item.get("id") in urls:
                    item["assignments"] = got.get(urls[item["id"]], {}).get("value", [])
        if ptype.settings_path and ids:
            urls = {i: f"{ptype.collection}/{i}/{ptype.settings_path}" for i in ids}
            got = client.batch_get(list(urls.values()))
            for item in page:
                if item.get("id") in urls:
                    item["settings"] = got.get(urls[item["id"]], {}).get("value", [])
        yield page
