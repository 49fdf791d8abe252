"""Load the real Lambda handlers and build real-shaped events for them."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

from invsync_dev.local import lambda_runtime
from invsync_dev.local.lambda_runtime import LambdaContext

ROOT = Path(__file__).resolve().parents[2]


# one loader and one context for the local stack and the tests
FakeContext = LambdaContext

# every function module a test loaded: its execution environment ends with the test (tests/conftest.py)
LOADED: list[ModuleType] = []


def load_function(name: str) -> ModuleType:
    """A fresh module of the function, like a new execution environment (its container unbuilt)."""
    module = lambda_runtime.load_function(name)
    LOADED.append(module)
    return module


def end_environments() -> None:
    """Close the pools of the functions loaded so far (each module owns its container)."""
    while LOADED:
        container = getattr(LOADED.pop(), "container", None)
        if container is not None:
            container.close()


def new_environment(module: ModuleType, **settings: Any) -> None:
    """Give a loaded function a new execution environment: a container that reads the environment variables
    again, with `settings` (by field name) injected over them. The old one's pool is closed."""
    from inventory_sync.bootstrap import FunctionContainer
    from inventory_sync.settings import load_settings

    old: FunctionContainer = module.container
    old.close()
    injected = {"settings": load_settings(old.kind, **settings)} if settings else {}
    setattr(module, "container", FunctionContainer(old.name, old.kind, **injected))  # noqa: B010 - a module's global


def claims_for(subject: str, email: str | None = None, name: str | None = None) -> dict[str, str]:
    claims = {"sub": subject, "iss": "https://login.example/v2.0", "aud": "api://inventory-sync"}
    if email:
        claims["email"] = email
    if name:
        claims["name"] = name
    return claims


def http_event(method: str, path: str, *, body: Any = None, claims: dict[str, str] | None = None,
               headers: dict[str, str] | None = None, query: dict[str, str] | None = None,
               raw_body: str | None = None, base64_body: bool = False) -> dict[str, Any]:
    """An API Gateway HTTP API payload 2.0 event as the JWT authorizer passes it on."""
    if raw_body is None and body is not None:
        raw_body = json.dumps(body)
    all_headers = {"content-type": "application/json", "host": "api.example"}
    all_headers.update({k.lower(): v for k, v in (headers or {}).items()})
    if base64_body and raw_body is not None:
        raw_body = base64.b64encode(raw_body.encode()).decode()
    request_context: dict[str, Any] = {
        "accountId": "123456789012", "apiId": "api", "domainName": "api.example", "domainPrefix": "api",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                 "userAgent": "pytest"},
        "requestId": f"req-{uuid.uuid4()}", "routeKey": "ANY /{proxy+}", "stage": "$default",
        "time": "27/Nov/2026:00:00:00 +0000", "timeEpoch": 1795737600000,
    }
    if claims is not None:
        request_context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return {
        "version": "2.0", "routeKey": "ANY /{proxy+}", "rawPath": path,
        "rawQueryString": urlencode(query or {}), "headers": all_headers,
        "queryStringParameters": query or None, "requestContext": request_context,
        "pathParameters": {"proxy": path.lstrip("/")}, "body": raw_body, "isBase64Encoded": base64_body,
    }


def sqs_event(bodies: list[Any], queue_arn: str = "arn:aws:sqs:us-east-1:123456789012:RunQueue",
              receive_count: int = 1) -> dict[str, Any]:
    return {"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": "rh", "body": b if isinstance(b, str) else json.dumps(b),
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1795737600000",
                       "SenderId": "x", "ApproximateFirstReceiveTimestamp": "1795737600000"},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1"} for b in bodies]}


def scheduled_envelope() -> dict[str, Any]:
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-27T02:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/sync"], "detail": {}}


def response_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None
