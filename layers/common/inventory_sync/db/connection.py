"""Connections fit for Lambda.

* ``Database`` keeps one pooled connection per execution environment (psycopg_pool with
  ``max_size=1``). The pool checks it before each use, so a connection the server closed
  while the environment was frozen is replaced instead of failing the invocation.
* Credentials come from a source (``db/credentials.py``): every new connection asks it for the
  connection string, and a connection refused for its credentials is retried once with fresh ones,
  so a rotated secret costs one failed attempt, not an invocation.
* ``lock_session`` opens a *dedicated* autocommit connection for an advisory lock: the lock
  is taken and released on the same session, the session never sits idle in a transaction,
  and TCP keepalives plus ``idle_session_timeout`` bound how long a dead holder keeps it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from inventory_sync.db.credentials import FixedConninfo

# Client-side keepalives: a peer that vanishes is noticed in about idle + interval * count seconds.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}


def _with_options(conninfo: str, application_name: str, **gucs: object) -> str:
    params = conninfo_to_dict(conninfo)
    options = " ".join(f"-c {name}={value}" for name, value in gucs.items())
    params["options"] = (str(params.get("options", "")) + " " + options).strip()
    params.setdefault("application_name", application_name)
    params.setdefault("connect_timeout", 10)
    for key, value in KEEPALIVES.items():
        params.setdefault(key, value)
    return make_conninfo("", **params)


class Database:
    """The service's transactional connection (one per process), with statement timeouts."""

    def __init__(self, conninfo: str | FixedConninfo, *, statement_timeout_ms: int = 30_000,
                 application_name: str = "invsync", max_size: int = 1, connect_timeout: float = 10.0) -> None:
        self.source = conninfo if isinstance(conninfo, FixedConninfo) else FixedConninfo(conninfo)
        self._application_name = application_name
        gucs = {"statement_timeout": statement_timeout_ms,
                "idle_in_transaction_session_timeout": max(statement_timeout_ms, 60_000),
                "lock_timeout": statement_timeout_ms}
        source = self.source

        class _Connection(psycopg.Connection[Any]):  # how the pool connects: through the credentials source
            @classmethod
            def connect(cls, conninfo: str = "", **kwargs: Any) -> _Connection:
                opener = super().connect
                return source.open(lambda info: opener(_with_options(info, application_name, **gucs),
                                                       **kwargs))

        self._connection_class = _Connection
        self._max_size, self._connect_timeout = max_size, connect_timeout
        self._pool: ConnectionPool[Any] | None = None
        self._open_lock = threading.Lock()

    @property
    def conninfo(self) -> str:
        """The current connection string (tools and tests that connect on their own)."""
        return self.source.conninfo()

    def _new_pool(self) -> ConnectionPool[Any]:
        # a closed pool cannot open again: each opening gets a new one (after close(), e.g. a SnapStart restore)
        return ConnectionPool(
            connection_class=self._connection_class,
            min_size=0,
            max_size=self._max_size,
            open=False,
            check=ConnectionPool.check_connection,
            name=self._application_name,
            timeout=self._connect_timeout,
        )

    def _ensure_open(self) -> ConnectionPool[Any]:
        pool = self._pool
        if pool is None:
            with self._open_lock:
                pool = self._pool
                if pool is None:
                    pool = self._new_pool()
                    pool.open(wait=False)
                    self._pool = pool
        return pool

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """A connection inside one transaction: committed on success, rolled back on error."""
        with self._ensure_open().connection() as conn:
            yield conn

    @contextlib.contextmanager
    def lock_session(self, *, idle_session_timeout_ms: int) -> Iterator[psycopg.Connection]:
        """A dedicated autocommit session for advisory locks, closed (releasing them) on exit."""
        conn = self.source.open(lambda info: psycopg.connect(
            _with_options(info, self._application_name + "-lock", idle_session_timeout=idle_session_timeout_ms,
                          statement_timeout=10_000),
            autocommit=True))
        try:
            yield conn
        finally:
            # Unlock before closing: the server drops a closed session's locks only when its backend has
            # exited, a moment after close() returns; the next holder should not have to race that.
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock_all()")
            conn.close()

    def close(self) -> None:
        """Close the connections and the pool's threads; the next transaction opens a new pool."""
        with self._open_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
