"""Writes events/*.json (one ready event per function and trigger) and env.json for `sam local invoke`.

Regenerate with `python -m invsync_dev.local.sample_events`; a test checks the committed files still match.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from inventory_sync.api.local_auth import AUDIENCE, ISSUER
from inventory_sync.domain.registry import filter_runtime
from inventory_sync.domain.selection import SelectionRequest, normalise
from invsync_dev.local.container_bridge import STACK_HOST
from invsync_dev.local.dev_jwt import LOCAL_ADMIN_GROUP

ROOT = Path(__file__).resolve().parents[3]
TENANT_ID = 1
BULK_ID = 1
MOTO_ACCOUNT = "123456789012"  # the AWS emulator's default account
CLAIMS = {"sub": "demo-operator", "email": "operator@contoso-demo.example", "name": "Demo Operator",
          "iss": ISSUER, "aud": AUDIENCE}
# a platform administrator, as API Gateway's JWT authorizer passes the groups claim on (one string)
ADMIN_CLAIMS = {**CLAIMS, "groups": f"[{LOCAL_ADMIN_GROUP}]"}


def _api(method: str, path: str, body: Any = None, claims: dict[str, str] = CLAIMS) -> dict[str, Any]:
    return {
        "version": "2.0", "routeKey": "ANY /{proxy+}", "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "localhost:3000"},
        "requestContext": {
            "accountId": "000000000000", "apiId": "local", "domainName": "localhost", "domainPrefix": "localhost",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": "sam-local"},
            "requestId": "sample-request-1", "routeKey": "ANY /{proxy+}", "stage": "$default",
            "time": "27/Nov/2026:02:00:00 +0000", "timeEpoch": 1795744800000,
            "authorizer": {"jwt": {"claims": claims, "scopes": None}},
        },
        "pathParameters": {"proxy": path.lstrip("/")},
        "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False,
    }


def sqs_event(body: dict[str, Any], queue: str, *, message_id: str | None = None,
              receive_count: str = "1") -> dict[str, Any]:
    """An SQS event of one record, as Lambda's event source mapping delivers it."""
    return {"Records": [{
        "messageId": message_id or f"sample-{queue.lower()}-1", "receiptHandle": "sample", "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": receive_count, "SentTimestamp": "1795744800000",
                       "SenderId": "sample", "ApproximateFirstReceiveTimestamp": "1795744800000"},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:000000000000:{queue}", "awsRegion": "us-east-1"}]}


def run_message() -> dict[str, Any]:
    resolved = normalise(SelectionRequest(policy_types=["deviceConfiguration", "mobileApp"]), filter_runtime())
    return {"version": 1, "bulk_operation_run_id": BULK_ID, "tenant_id": TENANT_ID, "user_id": 1,
            "selection": resolved.selection.model_dump(), "selection_hash": resolved.selection_hash,
            "trigger": "api", "correlation_id": "sample-request-1", "dispatched_at": "2026-11-27T02:00:00Z"}


def events() -> dict[str, Any]:
    scheduled_envelope = {"version": "0", "id": "sample-schedule-1", "detail-type": "Scheduled Event",
                          "source": "aws.events", "account": "000000000000", "time": "2026-11-27T02:00:00Z",
                          "region": "us-east-1", "resources": [], "detail": {}}
    return {
        "dispatch_api_post_sync.json": _api("POST", f"/tenants/{TENANT_ID}/inventory-syncs",
                                            {"policy_types": ["deviceConfiguration", "mobileApp"]}),
        "dispatch_api_get_bulk_operation.json": _api("GET", f"/bulk-operations/{BULK_ID}"),
        "dispatch_api_list_runs.json": _api("GET", f"/tenants/{TENANT_ID}/inventory-syncs"),
        "dispatch_api_list_tenants.json": _api("GET", "/tenants", claims=ADMIN_CLAIMS),
        "dispatch_api_create_tenant.json": _api("POST", "/tenants", {
            "name": "Fabrikam", "graph_tenant_id": "fabrikam.onmicrosoft.com",
            "credential": {"client_id": "0b9e6a4c-1f2d-4e3a-9b8c-7d6e5f4a3b2c",
                           "client_secret": "replace-with-the-app-registration-client-secret"}}, claims=ADMIN_CLAIMS),
        "dispatch_api_put_member.json": _api("PUT", f"/tenants/{TENANT_ID}/members", {
            "subject": "00000000-0000-0000-0000-0000000000b0", "email": "bob@contoso-demo.example",
            "role": "operator"}, claims=ADMIN_CLAIMS),
        "dispatch_scheduled.json": {"kind": "scheduled_inventory_sync", "selection": {}},
        "dispatch_scheduled_envelope.json": scheduled_envelope,
        "run_sync_sqs.json": sqs_event(run_message(), "RunQueue"),
        "finalize_sqs.json": sqs_event({"version": 1, "inventory_sync_run_id": 1, "bulk_operation_run_id": BULK_ID},
                                  "FinalizeQueue"),
        "finalize_dlq.json": sqs_event(run_message(), "RunDLQ"),
        "finalize_sweep.json": {"kind": "sweep"},
    }


def env_json(database_url: str, aws_endpoint: str, graph_url: str, run_queue: str, finalize_queue: str) -> dict:
    """`--env-vars` content. sam local only overrides variables the template declares (AWS credentials
    and region come from sam's own session: export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_DEFAULT_REGION)."""
    common = {"DATABASE_URL": database_url, "DATABASE_SECRET_ARN": "", "AWS_ENDPOINT_URL": aws_endpoint,
              "RUN_QUEUE_URL": run_queue, "FINALIZE_QUEUE_URL": finalize_queue, "GRAPH_BASE_URL": graph_url,
              "GRAPH_AUTHORITY_HOST": graph_url, "TENANT_SECRET_PREFIX": "inventory-sync/tenants/",
              "ADMIN_GROUP_ID": LOCAL_ADMIN_GROUP}
    return {"DispatchFunction": common, "RunSyncFunction": common, "FinalizeFunction": common,
            "MigrateFunction": common}


def write(root: Path = ROOT) -> None:
    folder = root / "events"
    folder.mkdir(exist_ok=True)
    for name, event in events().items():
        (folder / name).write_text(json.dumps(event, indent=2) + "\n")
    (root / "env.json").write_text(json.dumps(default_env_json(), indent=2) + "\n")


def default_env_json() -> dict:
    """What `invsync local up --for-containers` writes with its default ports."""
    host = STACK_HOST
    return env_json(f"postgresql://postgres@{host}:5433/postgres", f"http://{host}:4566", f"http://{host}:8765",
                    f"http://{host}:4566/{MOTO_ACCOUNT}/RunQueue", f"http://{host}:4566/{MOTO_ACCOUNT}/FinalizeQueue")


if __name__ == "__main__":
    write()
