"""Where the service's PostgreSQL connection string comes from, and what happens when credentials rotate.

Locally it is ``DATABASE_URL``, fixed. On AWS it is a Secrets Manager secret: either a full JSON secret
(host, port, username, password, dbname) or the secret RDS manages for a database's master user, which
holds only ``username`` and ``password`` and is rotated every 7 days by default; host, port and database
name then come from the environment (template parameters). The secret is read through Powertools
parameters and cached for ``max_age`` seconds. A connection refused for its credentials (rotated since
they were read) makes the source read the secret once more, bypassing the cache, and connect again.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import make_conninfo

T = TypeVar("T")

# invalid_password, invalid_authorization_specification (e.g. a user the rotation has not created yet)
_AUTH_FAILED = frozenset({"28P01", "28000"})
# libpq reports a refused sign-in without an SQLSTATE (there is no result to carry one): the server's message
_AUTH_MESSAGE = re.compile(r"authentication failed for user|role \".*\" does not exist")


class CredentialsError(RuntimeError):
    """The database secret is unusable; the message never holds the secret's content."""


def is_auth_failure(exc: psycopg.OperationalError) -> bool:
    return exc.sqlstate in _AUTH_FAILED or bool(_AUTH_MESSAGE.search(str(exc)))


class FixedConninfo:
    """A connection string given once (``DATABASE_URL``): nothing to read again."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo

    def conninfo(self) -> str:
        return self._conninfo

    def refresh(self) -> bool:
        """Arrange for the next ``conninfo()`` to hold fresh credentials; False when there is no source."""
        return False

    def open(self, opener: Callable[[str], T]) -> T:
        """``opener(conninfo)``; when the server refuses the credentials, once more with fresh ones."""
        try:
            return opener(self.conninfo())
        except psycopg.OperationalError as exc:
            if not is_auth_failure(exc) or not self.refresh():
                raise
        return opener(self.conninfo())


class SecretConninfo(FixedConninfo):
    """The connection string built from a Secrets Manager secret (full or RDS-managed)."""

    def __init__(self, secret_id: str, *, host: str | None = None, port: int | None = None,
                 dbname: str | None = None, sslmode: str | None = None, max_age: int = 300) -> None:
        super().__init__("")
        self._secret_id = secret_id
        self._host, self._port, self._dbname, self._sslmode = host, port, dbname, sslmode
        self._max_age = max_age
        self._force = threading.Event()

    def conninfo(self) -> str:
        from aws_lambda_powertools.utilities import parameters  # on the AWS path only

        force = self._force.is_set()
        self._force.clear()
        raw = parameters.get_secret(self._secret_id, max_age=self._max_age, force_fetch=force)
        return self._build(raw)

    def refresh(self) -> bool:
        self._force.set()
        return True

    def _build(self, raw: str | bytes | dict[str, Any]) -> str:
        try:
            secret = raw if isinstance(raw, dict) else json.loads(raw)
            host = self._host or secret.get("host")
            if not host:
                raise KeyError("host")
            return make_conninfo(
                host=host,
                port=str(self._port or secret.get("port") or 5432),
                user=secret["username"],
                password=secret["password"],
                dbname=self._dbname or secret.get("dbname") or "postgres",
                sslmode=self._sslmode or secret.get("sslmode") or "require",
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # never echo the secret itself
            raise CredentialsError(
                "DATABASE_SECRET_ARN: the secret must be JSON with username and password (and host, port, dbname"
                " unless DATABASE_HOST, DATABASE_PORT, DATABASE_NAME are set)") from exc
