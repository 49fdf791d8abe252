"""migrate function: applies the schema's pending migrations on every deploy, as a CloudFormation custom resource.

The database sits in private subnets, out of a laptop's reach; this function runs inside the VPC. On Create
and Update it migrates (idempotent, serialised by the migration runner's advisory lock, all pending
migrations in one transaction); on Delete it does nothing, because the schema holds the audit trail and
removing the stack must never drop it. Whatever happens, CloudFormation gets an answer on the request's
pre-signed ``ResponseURL`` (without one it would wait an hour): FAILED with the reason when the migration
failed, which fails the deploy and rolls the stack back while the schema stays as it was.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from inventory_sync.db import migrate as migrations
from inventory_sync.observability import logger
from inventory_sync.settings import load_settings

PHYSICAL_ID = "inventory-sync-schema"  # one schema per stack; the same id on every update (no replacement)
REASON_MAX = 1000  # CloudFormation shows the reason in the stack's events; the whole answer must stay under 4 KB
RESPONSE_MARGIN_MS = 3_000  # answer FAILED this long before Lambda would end the invocation
# the migration's lock wait and statements end this long before that, so that the answer carries their error
STATEMENT_MARGIN_MS = 1_000


class _Responder:
    """Answers CloudFormation exactly once, by a PUT of the JSON document to the pre-signed URL."""

    def __init__(self, event: dict[str, Any]) -> None:
        self._event = event
        self._lock = threading.Lock()
        self.sent = False

    def send(self, status: str, reason: str = "", data: dict[str, str] | None = None) -> None:
        with self._lock:
            if self.sent:
                return
            self.sent = True
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
        url = str(event["ResponseURL"])
        if not url.startswith(("https://", "http://")):  # CloudFormation's is https; a local stand-in's http
            raise ValueError("ResponseURL is not an http(s) URL")
        # the pre-signed S3 URL is signed for an empty content type
        request = urllib.request.Request(url, data=body, method="PUT",  # noqa: S310 - scheme checked above
                                         headers={"Content-Type": "", "Content-Length": str(len(body))})
        for attempt in range(3):
            try:
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - CloudFormation's URL
                    logger.info("answered CloudFormation", extra={"status": status, "http_status": response.status})
                    return
            except OSError as exc:  # never log the URL: its signature is a credential
                logger.warning("answer to CloudFormation not delivered", extra={"attempt": attempt + 1,
                                                                                "error": type(exc).__name__})
        raise RuntimeError("could not answer CloudFormation")


def _migrate(budget_ms: int) -> dict[str, str]:
    settings = load_settings()
    applied = migrations.migrate(settings.database_conninfo(), timeout_ms=max(budget_ms, 100))
    logger.info("schema migrated", extra={"applied": applied})
    return {"Applied": ",".join(applied) or "none"}


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    if not isinstance(event, dict) or not event.get("ResponseURL"):
        logger.error("not a CloudFormation custom resource request; ignored")
        return
    responder = _Responder(event)
    request_type = event.get("RequestType")
    # an answer before Lambda ends the invocation, even if a migration waits on a lock or a slow statement
    left_ms = context.get_remaining_time_in_millis() - RESPONSE_MARGIN_MS
    deadline = threading.Timer(max(left_ms, 0) / 1000, responder.send,
                               ("FAILED", "the migration did not finish in time"))
    deadline.daemon = True
    deadline.start()
    try:
        if request_type in ("Create", "Update"):
            data = _migrate(left_ms - STATEMENT_MARGIN_MS)
            responder.send("SUCCESS", f"applied: {data['Applied']}", data)
        elif request_type == "Delete":
            responder.send("SUCCESS", "the schema and its data are kept")
        else:
            responder.send("FAILED", f"unknown RequestType {request_type!r}")
    except Exception as exc:  # noqa: BLE001 - every failure must reach CloudFormation as FAILED
        logger.exception("migration failed")
        responder.send("FAILED", f"{type(exc).__name__}: {exc}")
    finally:
        deadline.cancel()
