"""The rows (db/rows.py) are named tuples (docs/decisions/0014): a row that extends another lists the other's
fields first, in order, and is built from it by appending; none can be changed once read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from inventory_sync.db import rows
from inventory_sync.services.overview import TenantOverview

NOW = datetime(2026, 12, 5, tzinfo=UTC)

EXTENDS = [(rows.TenantWithRole, rows.Tenant), (rows.ItemWithLinks, rows.InventoryItem),
           (rows.BulkOperationWithRun, rows.BulkOperation), (TenantOverview, rows.TenantWithRole)]


@pytest.mark.parametrize(("row", "base"), EXTENDS, ids=lambda t: t.__name__)
def test_a_row_that_extends_another_starts_with_its_fields_and_their_types(row: Any, base: Any) -> None:
    assert row._fields[:len(base._fields)] == base._fields
    assert {k: row.__annotations__[k] for k in base._fields} == base.__annotations__


def _item() -> rows.InventoryItem:
    return rows.InventoryItem(7, 1, "deviceConfiguration", "ext-1", "Baseline", "Configuration", "windows10",
                              {"a": 1}, "h1", None, NOW, NOW, 3, None, True, None)


def test_with_links_and_with_run_keep_every_field_of_the_row() -> None:
    item = _item()
    link = rows.StoredLink("assignment", "group", "g-1", {"intent": "required"})
    extended = rows.with_links(item, [link])
    assert extended.links == [link] and link.target_name is None
    assert {k: getattr(extended, k) for k in item._fields} == item._asdict()

    op = rows.BulkOperation(5, 1, None, "inventory", "sync", "running", 1, 0, 0, 0, 0, [], 9, "sh", "api", "c-1",
                            None, NOW, NOW, None)
    with_run = rows.with_run(op, None)
    assert with_run.run is None and with_run.id == 5 and with_run.correlation_id == "c-1"
    assert {k: getattr(with_run, k) for k in op._fields} == op._asdict()


def test_a_row_cannot_be_changed_once_read() -> None:
    item = _item()
    with pytest.raises(AttributeError):
        item.display_name = "renamed"  # type: ignore[misc]
    assert item._replace(display_name="renamed").display_name == "renamed" and item.display_name == "Baseline"
