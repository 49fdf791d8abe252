"""The rows (db/rows.py) are named tuples (docs/decisions/0014): a row that extends another lists the other's
fields first, in order, and is built from it by appending; none can be changed once read."""

from __future__ import annotations

from typing import Any

import pytest

from inventory_sync.db import rows
from inventory_sync.services.overview import TenantOverview

EXTENDS = [(rows.TenantWithRole, rows.Tenant), (rows.ItemWithLinks, rows.InventoryItem),
           (rows.BulkOperationWithRun, rows.BulkOperation), (TenantOverview, rows.TenantWithRole)]


@pytest.mark.parametrize(("row", "base"), EXTENDS, ids=lambda t: t.__name__)
def test_a_row_that_extends_another_starts_with_its_fields_and_their_types(row: Any, base: Any) -> None:
    assert row._fields[:len(base._fields)] == base._fields
    assert {k: row.__annotations__[k] for k in base._fields} == base.__annotations__


def _distinct(row: Any) -> Any:
    """A row of `row`'s type whose every field holds a value no other field holds (a shifted field shows)."""
    return row._make(f"{name}-value" for name in row._fields)


def test_with_links_and_with_run_keep_every_field_of_the_row() -> None:
    item = _distinct(rows.InventoryItem)
    link = rows.StoredLink("assignment", "group", "g-1", {"intent": "required"})
    extended = rows.with_links(item, [link])
    assert extended._asdict() == item._asdict() | {"links": [link]}
    assert link.target_name is None

    op = _distinct(rows.BulkOperation)
    run = _distinct(rows.Run)
    assert rows.with_run(op, run)._asdict() == op._asdict() | {"run": run}
    assert rows.with_run(op, None).run is None


def test_a_row_cannot_be_changed_once_read() -> None:
    item = _distinct(rows.InventoryItem)._replace(display_name="Baseline")
    with pytest.raises(AttributeError):
        item.display_name = "renamed"
    assert item._replace(display_name="renamed").display_name == "renamed" and item.display_name == "Baseline"
