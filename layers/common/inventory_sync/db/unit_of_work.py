"""The unit of work over PostgreSQL: one pooled connection in one transaction, the table modules bound to it
(the ports it fills are in services/unit_of_work.py; docs/architecture.md §1 "Unit of work")."""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Iterator
from types import ModuleType, TracebackType
from typing import Any

import psycopg

from inventory_sync.db import (
    audit,
    bulk_operations,
    changes,
    idempotency,
    items,
    locks,
    missing_permissions,
    runs,
    tenants,
)
from inventory_sync.db.connection import Database


class BoundTable:
    """A table module with the connection filled in: `bound.get(1)` is `module.get(conn, 1)`. Only the module's
    own public functions are reachable (not what it imports, nor its classes)."""

    def __init__(self, module: ModuleType, conn: psycopg.Connection) -> None:
        self._module, self._conn = module, conn

    def __getattr__(self, name: str) -> functools.partial[Any]:
        function = getattr(self._module, name, None)
        if name.startswith("_") or not inspect.isfunction(function) or function.__module__ != self._module.__name__:
            raise AttributeError(f"{self._module.__name__} has no function {name}")
        return functools.partial(function, self._conn)


class SqlUnitOfWork:
    """`with uow:` opens a transaction on the pool's connection; `commit()` keeps its writes, leaving without it
    rolls them back. Entered again after it ends, it opens a new transaction; it is not re-entrant."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._open: contextlib.AbstractContextManager[psycopg.Connection] | None = None
        self._conn: psycopg.Connection | None = None

    def __enter__(self) -> SqlUnitOfWork:
        if self._open is not None:
            raise RuntimeError("this unit of work is already open")
        self._open = self.db.transaction()
        conn = self._conn = self._open.__enter__()
        # typed by the ports the services declare (services/unit_of_work.py); a unit test holds the names to them
        self.tenants: Any = BoundTable(tenants, conn)
        self.bulk_operations: Any = BoundTable(bulk_operations, conn)
        self.runs: Any = BoundTable(runs, conn)
        self.audit: Any = BoundTable(audit, conn)
        self.idempotency: Any = BoundTable(idempotency, conn)
        self.items: Any = BoundTable(items, conn)
        self.changes: Any = BoundTable(changes, conn)
        self.missing_permissions: Any = BoundTable(missing_permissions, conn)
        self.locks: Any = BoundTable(locks, conn)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        opened, conn = self._open, self._conn
        self._open = self._conn = None
        assert opened is not None and conn is not None
        try:
            if exc_type is None and not conn.closed:
                conn.rollback()  # whatever was not committed
        finally:
            opened.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        if self._conn is None:
            raise RuntimeError("commit outside the unit of work")
        self._conn.commit()

    @contextlib.contextmanager
    def lock_session(self, idle_session_timeout_ms: int) -> Iterator[Any]:
        with self.db.lock_session(idle_session_timeout_ms=idle_session_timeout_ms) as conn:
            yield BoundTable(locks, conn)
