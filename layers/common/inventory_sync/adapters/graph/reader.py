"""Reads one policy type from Graph page by page, with its dependencies and the configuration below it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from inventory_sync.adapters.graph.client import GraphClient
from inventory_sync.domain.registry import Assignments, PolicyType, SubResource

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


def _ids(objects: list[dict[str, Any]]) -> list[str]:
    return [o["id"] for o in objects if isinstance(o.get("id"), str) and o["id"]]


def _read_below(client: GraphClient, parents: list[dict[str, Any]], parent_path: str, sub: SubResource) -> None:
    """Each parent's `sub` collection (paged to its end) under `sub.key`, then the children of its elements."""
    urls = {i: sub.relative_url(f"{parent_path}/{i}") for i in _ids(parents)}
    if not urls:
        return
    got = client.batch_get(list(urls.values()))
    elements: dict[str, list[dict[str, Any]]] = {}
    for parent in parents:
        if parent.get("id") in urls:
            values = got.get(urls[parent["id"]], {}).get("value", [])
            parent[sub.key] = [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []
            elements[parent["id"]] = parent[sub.key]
    for child in sub.children:
        for parent_id, values in elements.items():
            _read_below(client, values, f"{parent_path}/{parent_id}/{sub.path}", child)


def _read_objects(client: GraphClient, ptype: PolicyType, page: list[dict[str, Any]], expand: list[str]) -> None:
    """What only a GET of each object returns: its `detail_fields` and the navigation properties in `expand`
    (`/{id}?$expand=items,assignments`)."""
    query = f"?$expand={','.join(expand)}" if expand else ""
    urls = {i: f"{ptype.collection}/{i}{query}" for i in _ids(page)}
    if not urls:
        return
    got = client.batch_get(list(urls.values()))
    for item in page:
        if item.get("id") in urls:
            full = got.get(urls[item["id"]], {})
            for name in ptype.detail_fields:
                item[name] = full.get(name)
            for name in expand:
                values = full.get(name)
                item[name] = values if isinstance(values, list) else []


def read_pages(client: GraphClient, ptype: PolicyType, include_dependencies: bool,
               page_size: int = PAGE_SIZE) -> Iterator[list[dict[str, Any]]]:
    """Pages of Graph objects, each complete: assignments (when asked for) through `$expand` or `$batch`,
    the configuration kept below each object (settings, definition values, policy set members) and what
    only the object's own GET returns (scripts' content)."""
    batch_assignments = include_dependencies and ptype.assignments is Assignments.BATCH
    for page in client.iter_pages(ptype.collection, list_params(ptype, include_dependencies, page_size)):
        expand = list(ptype.item_expand) + (["assignments"] if batch_assignments and ptype.item_expand else [])
        if expand or ptype.detail_fields:
            _read_objects(client, ptype, page, expand)
        if batch_assignments and not ptype.item_expand:
            _read_below(client, page, ptype.collection, SubResource("assignments", "assignments"))
        for sub in ptype.sub_resources:
            _read_below(client, page, ptype.collection, sub)
        yield page
