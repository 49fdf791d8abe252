"""Reads one policy type from Graph page by page, with its dependencies and the configuration below it.

Per listed page, what lies below its objects is read through `$batch`, packed across objects: one call for
each sub-resource of all the page's objects, one for each child collection of all their elements (the
presentation values of every definition value of every template on the page), their chunks several at a
time (GraphClient.batch_get), while the next list page is fetched. An incremental read (`known` markers)
reads below only the objects whose change markers moved since the inventory last read them; the others are
handed on by id, to be kept as stored.

Each page says when the request that listed it began (`read_at`, on the caller's clock): everything on it was
read after that, which is what orders overlapping syncs' writes (docs/decisions/0008).
"""

import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from inventory_sync.adapters.graph.client import GraphClient
from inventory_sync.domain.items import change_marker
from inventory_sync.domain.registry import Assignments, PolicyType, SubResource

PAGE_SIZE = 100
ASSIGNMENTS = SubResource("assignments", "assignments")


class ReadPage(NamedTuple):
    items: list[dict[str, Any]]  # objects read whole
    unchanged: list[str]  # ids of objects whose markers had not moved: nothing read below them
    read_at: float = 0.0  # when the request that listed the page began; everything on it was read after


def list_params(ptype: PolicyType, include_dependencies: bool, page_size: int = PAGE_SIZE) -> dict[str, str]:
    params: dict[str, str] = {}
    if ptype.supports_top:
        params["$top"] = str(page_size)
    if include_dependencies and ptype.assignments is Assignments.EXPAND:
        params["$expand"] = "assignments"
    if ptype.list_filter:
        params["$filter"] = ptype.list_filter
    return params


def _id(obj: dict[str, Any]) -> str | None:
    value = obj.get("id")
    return value if isinstance(value, str) and value else None


class TypeReader:
    """One policy type's listing, each page complete (or, incrementally, its unchanged objects by id)."""

    def __init__(self, client: GraphClient, ptype: PolicyType, include_dependencies: bool,
                 known: Mapping[str, str] | None = None, page_size: int = PAGE_SIZE,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.ptype = ptype
        self.include_dependencies = include_dependencies
        self.known = known  # external id → change marker as stored; None: a full read
        self.page_size = page_size
        self.batch_assignments = include_dependencies and ptype.assignments is Assignments.BATCH
        self.clock = clock

    def pages(self) -> Iterator[ReadPage]:
        listing = self.client.iter_pages(self.ptype.collection,
                                         list_params(self.ptype, self.include_dependencies, self.page_size))

        def dated() -> tuple[list[dict[str, Any]] | None, float]:
            """The next list page, and when its request began (the listing fetches lazily)."""
            began = self.clock()
            return next(listing, None), began

        if not self.ptype.reads_below:
            while True:
                listed, began = dated()
                if listed is None:
                    return
                yield ReadPage(listed, [], began)
        # the next list page is fetched while this one's objects are read below (one page ahead at most)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="graph-list") as ahead:
            upcoming = ahead.submit(dated)
            while True:
                listed, began = upcoming.result()
                if listed is None:
                    return
                upcoming = ahead.submit(dated)
                page, unchanged = self._split(listed)
                self._complete(page)
                yield ReadPage(page, unchanged, began)

    def _split(self, listed: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
        if not self.known or not self.ptype.reads_below:
            return listed, []
        page: list[dict[str, Any]] = []
        unchanged: list[str] = []
        for obj in listed:
            item_id = _id(obj)
            marker = change_marker(self.ptype, obj)
            if item_id is not None and marker is not None and self.known.get(item_id) == marker:
                unchanged.append(item_id)
            else:
                page.append(obj)
        return page, unchanged

    def _complete(self, page: list[dict[str, Any]]) -> None:
        """What the list leaves out: detail fields and expanded members, assignments, sub-resources."""
        ptype = self.ptype
        expand = list(ptype.item_expand) + (["assignments"] if self.batch_assignments and ptype.item_expand else [])
        if expand or ptype.detail_fields:
            self._read_objects(page, expand)
        subs = ((ASSIGNMENTS,) if self.batch_assignments and not ptype.item_expand else ()) + ptype.sub_resources
        for sub in subs:
            self._read_below([(obj, f"{ptype.collection}/{_id(obj)}") for obj in page if _id(obj)], sub)

    def _read_below(self, parents: list[tuple[dict[str, Any], str]], sub: SubResource) -> None:
        """Each parent's `sub` collection (paged to its end) under `sub.key`, in one batch_get for all of them;
        then each child collection of all their elements, again in one."""
        if not parents:
            return
        urls = [sub.relative_url(path) for _, path in parents]
        got = self.client.batch_get(urls)
        elements: list[tuple[dict[str, Any], str]] = []
        for (parent, path), url in zip(parents, urls, strict=True):
            values = got.get(url, {}).get("value", [])
            parent[sub.key] = [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []
            elements += [(v, f"{path}/{sub.path}/{_id(v)}") for v in parent[sub.key] if _id(v)]
        for child in sub.children:
            self._read_below(elements, child)

    def _read_objects(self, page: list[dict[str, Any]], expand: list[str]) -> None:
        """What only a GET of each object returns: its `detail_fields` and the navigation properties in `expand`
        (`/{id}?$expand=items,assignments`)."""
        query = f"?$expand={','.join(expand)}" if expand else ""
        urls = {i: f"{self.ptype.collection}/{i}{query}" for obj in page if (i := _id(obj))}
        if not urls:
            return
        got = self.client.batch_get(list(urls.values()))
        for item in page:
            if (item_id := _id(item)) in urls:
                full = got.get(urls[item_id], {})
                for name in self.ptype.detail_fields:
                    item[name] = full.get(name)
                for name in expand:
                    values = full.get(name)
                    item[name] = values if isinstance(values, list) else []


def read_pages(client: GraphClient, ptype: PolicyType, include_dependencies: bool,
               page_size: int = PAGE_SIZE) -> Iterator[list[dict[str, Any]]]:
    """Pages of Graph objects, each read whole (a full read)."""
    for page in TypeReader(client, ptype, include_dependencies, page_size=page_size).pages():
        yield page.items
