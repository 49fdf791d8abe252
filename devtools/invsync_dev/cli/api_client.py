"""A small client of the HTTP API for the demo and the operator CLI (stdlib only)."""

from __future__ import annotations

from typing import Any

from invsync_dev.local.http_api import request


class ApiClient:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url.rstrip("/"), token

    def call(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,)) -> Any:
        status, payload, _ = request(self.base_url + path, method, self.token, body)
        if status not in expect:
            raise SystemExit(f"{method} {path} answered {status}: {payload}")
        return payload

    def items(self, tenant_id: int) -> list[dict[str, Any]]:
        found, cursor = [], None
        while True:
            page = self.call("GET", f"/tenants/{tenant_id}/inventory-items?limit=200"
                             + (f"&cursor={cursor}" if cursor else ""))
            found += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return found

    def trail(self, tenant_id: int, op: dict[str, Any]) -> list[dict[str, Any]]:
        events = self.call("GET", f"/tenants/{tenant_id}/audit-logs?limit=200")["items"]
        return [e for e in events if str(e["metadata"].get("bulk_operation_run_id")) == str(op["id"])
                or (e["resource_type"] == "bulk_operation_run" and e["resource_id"] == str(op["id"]))]
