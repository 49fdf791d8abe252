"""How the operator CLI and the demo reach the HTTP API.

* `ApiClient`: over HTTP, to a deployed stack or the local one (`--api-url`, default $INVSYNC_API_URL or the
  local stack's http://127.0.0.1:3000) with a bearer token (`--token` / $INVSYNC_TOKEN; for the local stack,
  when none is given, one signed with its development key in .data/ for its administrator).
* `DirectApi` (`--direct`, tenant and member commands only): the API's own routes in this process, over
  DATABASE_URL and Secrets Manager, for when no API answers yet (or none can). The caller is the platform
  administrator `operator:<login>`, so the same services, rules (the last owner) and audit events apply as
  over HTTP.

Both answer `call(method, path, body, expect)`; an answer outside `expect` stops the command with the problem
document's "title: detail" and its errors, one a line.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import uuid
from typing import Any
from urllib.parse import urlsplit

from invsync_dev.local.http_api import request, to_event
from invsync_dev.paths import DATA_DIR

LOCAL_API = "http://127.0.0.1:3000"


def problem_text(status: int, payload: Any) -> str:
    """What an operator reads when the API refuses: the problem's "title: detail", then each of its errors."""
    if isinstance(payload, dict) and "title" in payload:
        detail = payload.get("detail")
        lines = [f"{payload['title']}: {detail}" if detail else str(payload["title"])]
        for error in payload.get("errors") or []:
            where = error.get("field") or error.get("loc") or ""
            where = ".".join(str(p) for p in where) if isinstance(where, list) else str(where)
            lines.append(f"  {where + ': ' if where else ''}{error.get('message') or error.get('msg') or error}")
        return "invsync: " + "\n".join(lines)
    if isinstance(payload, dict) and "message" in payload:  # API Gateway's own answers (a 401 before the function)
        return f"invsync: {payload['message']} (HTTP {status})"
    return f"invsync: HTTP {status}" + (f": {payload}" if payload else "")


class ApiClient:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url.rstrip("/"), token

    def call(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,)) -> Any:
        status, payload, _ = request(self.base_url + path, method, self.token, body)
        if status not in expect:
            raise SystemExit(problem_text(status, payload))
        return payload

    def pages(self, path: str) -> list[dict[str, Any]]:
        """Every item of a paged listing."""
        found: list[dict[str, Any]] = []
        cursor = None
        separator = "&" if "?" in path else "?"
        while True:
            page = self.call("GET", f"{path}{separator}limit=200" + (f"&cursor={cursor}" if cursor else ""))
            found += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return found

    def items(self, tenant_id: int) -> list[dict[str, Any]]:
        return self.pages(f"/tenants/{tenant_id}/inventory-items")

    def trail(self, tenant_id: int, op: dict[str, Any]) -> list[dict[str, Any]]:
        events = self.call("GET", f"/tenants/{tenant_id}/audit-logs?limit=200")["items"]
        return [e for e in events if str(e["metadata"].get("bulk_operation_run_id")) == str(op["id"])
                or (e["resource_type"] == "bulk_operation_run" and e["resource_id"] == str(op["id"]))]


class DirectApi(ApiClient):
    """The dispatch function's routes called in this process, as the platform administrator `operator:<login>`
    (a group id made for this process stands for ADMIN_GROUP_ID, so no token or identity provider is needed)."""

    def __init__(self, login: str | None = None) -> None:
        super().__init__("direct:", "")
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # the command prints its own answer
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "invsync-cli")
        from inventory_sync import bootstrap
        from inventory_sync.settings import ConfigError, Settings, load_settings

        self._group = f"invsync-direct-{uuid.uuid4()}"
        login = login or getpass.getuser()
        self._claims = {"sub": f"operator:{login}", "name": f"{login} (invsync direct mode)",
                        "groups": self._group}
        try:
            settings = load_settings(Settings, admin_group_id=self._group)
        except ConfigError as exc:
            raise SystemExit(f"invsync: --direct needs DATABASE_URL (and AWS credentials for Secrets Manager): "
                             f"{exc}") from None
        self._container = bootstrap.FunctionContainer("cli-direct", Settings, settings=settings)

    def call(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,)) -> Any:
        from inventory_sync.api import routes
        from invsync_dev.local.lambda_runtime import LambdaContext

        data = json.dumps(body).encode() if body is not None else b""
        event = to_event(method, path, {"content-type": "application/json"}, data, self._claims, "127.0.0.1")
        answer = routes.handle(event, LambdaContext("invsync-cli"), self._container)
        text = answer.get("body") or ""
        payload = json.loads(text) if text else None
        if answer["statusCode"] not in expect:
            raise SystemExit(problem_text(answer["statusCode"], payload))
        return payload


def _local_token(url: str) -> str | None:
    """For the local stack (a loopback URL) and its development key: a token for its administrator, the demo
    operator."""
    if urlsplit(url).hostname not in ("127.0.0.1", "localhost") or not (DATA_DIR / "dev-jwt-key.pem").exists():
        return None
    from invsync_dev.local.dev_jwt import LOCAL_ADMIN_GROUP, DevSigner
    from invsync_dev.local.stack import DEMO_SUBJECT

    return DevSigner(DATA_DIR / "dev-jwt-key.pem").token(DEMO_SUBJECT, "operator@contoso-demo.example",
                                                         "Demo Operator", groups=[LOCAL_ADMIN_GROUP])


def add_api_arguments(parser: argparse.ArgumentParser, *, direct: bool = False) -> argparse.ArgumentParser:
    parser.add_argument("--api-url", default=os.environ.get("INVSYNC_API_URL", LOCAL_API),
                        help=f"the HTTP API (default $INVSYNC_API_URL, else the local stack's {LOCAL_API})")
    parser.add_argument("--token", default=os.environ.get("INVSYNC_TOKEN"),
                        help="bearer token (default $INVSYNC_TOKEN; the local stack's is made when none is given)")
    if direct:
        parser.add_argument("--direct", action="store_true",
                            help="no API: the same routes in this process over $DATABASE_URL and Secrets Manager, "
                                 "as the platform administrator operator:<your login>")
    return parser


def client(args: argparse.Namespace) -> ApiClient:
    if getattr(args, "direct", False):
        return DirectApi()
    token = args.token or _local_token(args.api_url)
    if not token:
        raise SystemExit(f"invsync: {args.api_url} needs a bearer token (--token or INVSYNC_TOKEN); "
                         "--api-url names another API")
    return ApiClient(args.api_url, token)
