"""migrate function: applies the schema's pending migrations on every deploy, as a CloudFormation custom resource.

The database sits in private subnets, out of a laptop's reach; this function runs inside the VPC. On Create
and Update it migrates (idempotent, serialised by the migration runner's advisory lock, all pending
migrations in one transaction); on Delete it does nothing, because the schema holds the audit trail and
removing the stack must never drop it. Whatever happens, CloudFormation gets one answer on the request's
pre-signed ``ResponseURL`` (without one it would wait until the resource's ServiceTimeout): FAILED with the
reason when the migration failed, which fails the deploy and rolls the stack back while the schema stays as
it was.

Three rules keep that answer true (docs/decisions/0010):
- One answer decides: the deadline's FAILED and the migration's commit claim the same answer, so a migration
  that is answered FAILED rolls back rather than commit (and the whole migration is bounded by the time left).
- A request is answered once, whatever Lambda does: CloudFormation invokes asynchronously, and Lambda retries
  an invocation that failed or timed out. Each answer is recorded under the request's id (the SUCCESS in the
  migration's own transaction); a retried invocation finds it and answers the same, migrating nothing.
- Only CloudFormation's response hosts are answered: ``https`` on S3 under amazonaws.com or amazonaws.com.cn.
  Any other ResponseURL (a forged event) is logged and ignored - the answer is never sent there. A local AWS
  emulator (``AWS_ENDPOINT_URL`` on loopback) may answer on loopback too.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import threading
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import psycopg
from aws_lambda_powertools.utilities.typing import LambdaContext
from psycopg.types.json import Jsonb

from inventory_sync.db import migrate as migrations
from inventory_sync.observability import logger
from inventory_sync.settings import load_settings

PHYSICAL_ID = "inventory-sync-schema"  # one schema per stack; the same id on every update (no replacement)
REASON_MAX = 1000  # CloudFormation shows the reason in the stack's events; the whole answer must stay under 4 KB
RESPONSE_MARGIN_MS = 3_000  # answer FAILED this long before Lambda would end the invocation
# the whole migration (lock wait and statements) ends this long before that, so that the answer carries its error
STATEMENT_MARGIN_MS = 1_000
# S3's endpoints (virtual-hosted or path style, dotted or dashed region) in the commercial and China partitions
_RESPONSE_HOST = re.compile(r"^(?:[a-z0-9-]+\.)*s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com(?:\.cn)?$")
# answers recorded per request, for Lambda's retries of the same event (bookkeeping of this function, like the
# runner's schema_migrations; no table of the application)
_REQUESTS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migration_requests (
    request_id   text PRIMARY KEY,
    status       text NOT NULL CHECK (status IN ('SUCCESS', 'FAILED')),
    reason       text NOT NULL,
    data         jsonb NOT NULL,
    answered_at  timestamptz NOT NULL DEFAULT now()
)
"""


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def response_url_allowed(url: str) -> bool:
    """True for CloudFormation's pre-signed S3 URLs (https, S3 under amazonaws.com / amazonaws.com.cn), and for
    loopback when the function runs against a local AWS emulator."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return False
    if parts.username or parts.password:
        return False
    if parts.scheme == "https" and _RESPONSE_HOST.fullmatch(host) and port in (None, 443):
        return True
    emulator = urlsplit(os.environ.get("AWS_ENDPOINT_URL") or "").hostname or ""
    return parts.scheme in ("http", "https") and _loopback(emulator) and _loopback(host)


class AnswerNotDelivered(RuntimeError):
    """The decided answer did not reach CloudFormation; Lambda's retry of the invocation answers it again."""


class _Responder:
    """Answers CloudFormation exactly once, by a PUT of the JSON document to the pre-signed URL. Whoever claims
    the answer first (the handler or its deadline) decides it."""

    def __init__(self, event: dict[str, Any]) -> None:
        self._event = event
        self._lock = threading.Lock()
        self.owner: str | None = None

    def claim(self, who: str) -> bool:
        with self._lock:
            if self.owner is None:
                self.owner = who
            return self.owner == who

    def send(self, status: str, reason: str = "", data: dict[str, str] | None = None, *,
             who: str = "handler") -> bool:
        """Answer unless someone else claimed the answer first; True when this answer was the one sent."""
        if not self.claim(who):
            return False
        event = self._event
        body = json.dumps({
            "Status": status,
            "Reason": reason[:REASON_MAX] or status,
            "PhysicalResourceId": event.get("PhysicalResourceId") or PHYSICAL_ID,
            "StackId": event.get("StackId", ""),
            "RequestId": event.get("RequestId", ""),
            "LogicalResourceId": event.get("LogicalResourceId", ""),
            "Data": data or {},
        }).encode()
        # checked by the handler before anything ran (response_url_allowed); the S3 URL is signed for an empty
        # content type
        request = urllib.request.Request(str(event["ResponseURL"]), data=body, method="PUT",  # noqa: S310
                                         headers={"Content-Type": "", "Content-Length": str(len(body))})
        for attempt in range(3):
            try:
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - CloudFormation's URL
                    logger.info("answered CloudFormation", extra={"status": status, "http_status": response.status})
                    return True
            except OSError as exc:  # never log the URL: its signature is a credential
                logger.warning("answer to CloudFormation not delivered", extra={"attempt": attempt + 1,
                                                                                "error": type(exc).__name__})
        raise AnswerNotDelivered("could not answer CloudFormation")


def _recorded(conninfo: str, request_id: str) -> tuple[str, str, dict[str, str]] | None:
    """The answer already given to this request (a retried invocation), if any."""
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
        if not conn.execute("SELECT to_regclass('schema_migration_requests') IS NOT NULL").fetchone()[0]:  # type: ignore[index]
            return None
        row = conn.execute("SELECT status, reason, data FROM schema_migration_requests WHERE request_id = %s",
                           (request_id,)).fetchone()
    return (row[0], row[1], row[2]) if row else None


def _record(conn: psycopg.Connection, request_id: str, status: str, reason: str, data: dict[str, str]) -> None:
    conn.execute("INSERT INTO schema_migration_requests (request_id, status, reason, data) VALUES (%s, %s, %s, %s)"
                 " ON CONFLICT (request_id) DO NOTHING", (request_id, status, reason[:REASON_MAX], Jsonb(data)))


def _record_failure(conninfo: str, request_id: str, reason: str) -> None:
    """Best effort: a retry of a request answered FAILED answers FAILED again (and migrates nothing)."""
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
            conn.execute(_REQUESTS_TABLE)
            _record(conn, request_id, "FAILED", reason, {})
    except psycopg.Error as exc:
        logger.warning("FAILED answer not recorded", extra={"error": type(exc).__name__})


def configuration_hash(properties: dict[str, Any]) -> str:
    """A digest of the resource's properties but the token and the layer: the database target and what the
    functions' versions snapshot. The stack names it in its versions' description, so that a new parameter
    value publishes new versions (SAM hashes the template before parameters are resolved)."""
    kept = {k: v for k, v in properties.items() if k not in ("ServiceToken", "SchemaVersion")}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]


def _migrate(responder: _Responder, conninfo: str, request_id: str, budget_ms: int, configuration: str) -> None:
    answer: dict[str, Any] = {}

    def decide(conn: psycopg.Connection, names: list[str]) -> None:
        # inside the migration's transaction, after its last statement: the answer is SUCCESS only if the
        # deadline has not answered FAILED first; the record commits with the schema, or neither does
        if not responder.claim("handler"):
            raise migrations.MigrationError("answered FAILED at the deadline; rolled back")
        data = {"Applied": ",".join(names) or "none", "Configuration": configuration}
        answer.update(reason=f"applied: {data['Applied']}", data=data)
        _record(conn, request_id, "SUCCESS", answer["reason"], data)

    with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
        conn.execute(_REQUESTS_TABLE)
    migrations.migrate(conninfo, timeout_ms=max(budget_ms, 100), before_commit=decide)
    logger.info("schema migrated", extra={"applied": answer["data"]["Applied"]})
    responder.send("SUCCESS", answer["reason"], answer["data"])


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    if not isinstance(event, dict) or not event.get("ResponseURL"):
        logger.error("not a CloudFormation custom resource request; ignored")
        return
    if not response_url_allowed(str(event["ResponseURL"])):
        # a forged event must not make this function PUT anything anywhere (the URL itself is not logged)
        logger.error("ResponseURL is not CloudFormation's (https on S3 under amazonaws.com); request ignored",
                     extra={"request_type": str(event.get("RequestType"))[:20]})
        return
    responder = _Responder(event)
    request_type = event.get("RequestType")
    request_id = str(event.get("RequestId") or "")
    # an answer before Lambda ends the invocation, even if a migration waits on a lock or a slow statement
    left_ms = context.get_remaining_time_in_millis() - RESPONSE_MARGIN_MS
    late = "the migration did not finish in time; nothing was applied"
    deadline = threading.Timer(max(left_ms, 0) / 1000, responder.send, ("FAILED", late), {"who": "deadline"})
    deadline.daemon = True
    deadline.start()
    conninfo = ""
    try:
        if request_type in ("Create", "Update"):
            conninfo = load_settings().database_conninfo()
            recorded = _recorded(conninfo, request_id) if request_id else None
            if recorded is not None:
                logger.info("request already answered; the same answer again", extra={"status": recorded[0]})
                responder.send(*recorded)
            else:
                properties = event.get("ResourceProperties")
                _migrate(responder, conninfo, request_id, left_ms - STATEMENT_MARGIN_MS,
                         configuration_hash(properties if isinstance(properties, dict) else {}))
        elif request_type == "Delete":
            responder.send("SUCCESS", "the schema and its data are kept")
        else:
            responder.send("FAILED", f"unknown RequestType {request_type!r}")
    except AnswerNotDelivered:
        raise  # the answer is decided (and recorded): Lambda retries the invocation, which answers it again
    except Exception as exc:  # noqa: BLE001 - every failure must reach CloudFormation as FAILED
        logger.exception("migration failed")
        reason = late if responder.owner == "deadline" else f"{type(exc).__name__}: {exc}"
        if conninfo and request_id and request_type in ("Create", "Update"):
            _record_failure(conninfo, request_id, reason)  # first, so that a retry answers the same
        responder.send("FAILED", reason)
    finally:
        deadline.cancel()
