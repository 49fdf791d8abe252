"""The unit of work's ports (services/unit_of_work.py) against what fills them: each store method is its table
module's function without the connection (db/unit_of_work.py binds it), and the in-memory fake the service tests
use has the same methods (a table function may go on with optional parameters no use case passes). A renamed
parameter or a new store method breaks here, not in production."""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any

import pytest

from inventory_sync.db import audit, bulk_operations, changes, idempotency, items, locks, runs, tenants
from inventory_sync.db.unit_of_work import BoundTable
from inventory_sync.services import unit_of_work as ports
from tests.support import fake_unit_of_work as fake

PORTS: list[tuple[Any, ModuleType, type]] = [
    (ports.TenantStore, tenants, fake.FakeTenants),
    (ports.BulkOperationStore, bulk_operations, fake.FakeBulkOperations),
    (ports.RunStore, runs, fake.FakeRuns),
    (ports.AuditLog, audit, fake.FakeAudit),
    (ports.IdempotencyStore, idempotency, fake.FakeIdempotency),
    (ports.ItemStore, items, fake.NoItems),
    (ports.ChangeStore, changes, fake.NoChanges),
    (ports.TransactionLocks, locks, fake.FakeLocks),
    (ports.SessionLocks, locks, fake.FakeSessionLocks),
]


def _methods(port: Any) -> list[str]:
    return [name for name, value in vars(port).items() if callable(value) and not name.startswith("_")]


def _shape(function: Any, skip: int) -> list[tuple[str, Any, Any]]:
    """Names, kinds and defaults of the parameters after the first `skip` (self, or the connection)."""
    return [(p.name, p.kind, p.default) for p in list(inspect.signature(function).parameters.values())[skip:]]


@pytest.mark.parametrize(("port", "module", "double"), PORTS, ids=lambda p: getattr(p, "__name__", ""))
def test_each_store_method_is_its_table_function_without_the_connection(port, module, double) -> None:
    assert _methods(port), port
    for name in _methods(port):
        expected = _shape(getattr(port, name), 1)
        table = _shape(getattr(module, name), 1)
        rest = table[len(expected):]
        assert table[:len(expected)] == expected, f"{module.__name__}.{name}"
        assert all(default is not inspect.Parameter.empty for _, _, default in rest), f"{module.__name__}.{name}"
        assert _shape(getattr(double, name), 1) == expected, f"{double.__name__}.{name}"


def test_a_bound_table_reaches_only_the_module_s_own_public_functions() -> None:
    bound = BoundTable(items, conn=None)  # type: ignore[arg-type]  # nothing is called
    assert bound.get.func is items.get and bound.get.args == (None,)
    assert hasattr(items, "_like") and hasattr(items, "class_row") and hasattr(items, "COLS")
    for name in ("_like", "class_row", "psycopg", "COLS", "missing"):
        with pytest.raises(AttributeError):
            getattr(bound, name)
