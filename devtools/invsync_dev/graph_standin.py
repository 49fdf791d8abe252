"""A local stand-in for Microsoft Graph and the Entra token endpoint (dev/test tooling, not shipped).

Serves the registry's collections for generated tenants with realistic shapes, server-side
paging with absolute ``@odata.nextLink``, ``$expand=assignments``, ``$batch``, ``request-id``
headers, and scriptable faults per policy type. Items are generated from their index on
demand, so a 100,000-item tenant costs no memory.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from inventory_sync.domain.registry import BY_KEY, FOUNDATIONS, POLICY_TYPES, Assignments, PolicyType

NS = uuid.UUID("6f1c1d44-4a39-4a4f-9d9a-0b7b8f7d3a11")
NO_FILTER = "00000000-0000-0000-0000-000000000000"
DEFAULT_TOP = 100
MAX_TOP = 999
SETTINGS_PAGE = 25

ODATA_TYPES = {
    "deviceConfiguration": ["windows10GeneralConfiguration", "iosGeneralDeviceConfiguration",
                            "androidWorkProfileGeneralDeviceConfiguration", "macOSCustomConfiguration"],
    "deviceCompliancePolicy": ["windows10CompliancePolicy", "iosCompliancePolicy", "androidCompliancePolicy"],
    "mobileApp": ["win32LobApp", "iosStoreApp", "androidManagedStoreApp", "macOSMicrosoftEdgeApp"],
    "deviceEnrollmentConfiguration": ["windows10EnrollmentCompletionPageConfiguration",
                                      "deviceEnrollmentLimitConfiguration"],
    "conditionalAccessPolicy": ["conditionalAccessPolicy"],
}


@dataclass
class Fault:
    status: int = 500
    times: int | None = None  # None: every request until cleared
    retry_after: str | None = None
    malformed: bool = False
    latency_ms: int = 0

    def take(self) -> bool:
        if self.times is None:
            return True
        if self.times <= 0:
            return False
        self.times -= 1
        return True


@dataclass
class StandInTenant:
    graph_tenant_id: str
    client_id: str
    client_secret: str
    counts: dict[str, int]
    certificate_pem: str | None = None  # accepts signed client assertions when set
    removed: set[tuple[str, int]] = field(default_factory=set)
    extra: dict[str, int] = field(default_factory=dict)  # items added after generation
    versions: dict[tuple[str, int], int] = field(default_factory=dict)

    def total(self, key: str) -> int:
        return self.counts.get(key, 0) + self.extra.get(key, 0)

    def exists(self, key: str, index: int) -> bool:
        return 0 <= index < self.total(key) and (key, index) not in self.removed


def demo_counts(scale: int = 1) -> dict[str, int]:
    """A few hundred objects across every type and foundation."""
    counts = {}
    for n, ptype in enumerate(POLICY_TYPES):
        counts[ptype.key] = (3 + (n * 7) % 15) * scale
    counts.update({"roleScopeTag": 4, "assignmentFilter": 5, "notificationMessageTemplate": 3, "roleDefinition": 6})
    counts["settingsCatalogPolicy"] = 24 * scale
    counts["deviceConfiguration"] = 40 * scale
    counts["mobileApp"] = 60 * scale
    return counts


def large_counts(total: int, keys: list[str] | None = None) -> dict[str, int]:
    keys = keys or ["deviceConfiguration"]
    per, rest = divmod(total, len(keys))
    return {k: per + (1 if i < rest else 0) for i, k in enumerate(keys)}


_ALL_ISSUED: list[str] = []  # every token any stand-in in this process issued (for secret scans)


def issued_tokens() -> list[str]:
    return list(_ALL_ISSUED)


class GraphStandIn:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, latency_ms: int = 0) -> None:
        self.tenants: dict[str, StandInTenant] = {}
        self.tokens: dict[str, tuple[str, float]] = {}
        self.faults: dict[str, Fault] = {}
        self.token_fault: Fault | None = None
        self.latency_ms = latency_ms
        self.token_lifetime = 3600
        self.stats: dict[str, int] = {}
        self.issued_tokens: list[str] = []  # every token ever issued (secret-scan tests look for them)
        self.seen: dict[str, str] = {}  # last Host headers and token scope, for configuration tests
        self.lock = threading.RLock()
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> GraphStandIn:
        self._thread = threading.Thread(target=self._server.serve_forever, name="graph-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- scripting -----------------------------------------------------------------------
    def add_tenant(self, graph_tenant_id: str, client_id: str, client_secret: str,
                   counts: dict[str, int] | None = None) -> StandInTenant:
        tenant = StandInTenant(graph_tenant_id, client_id, client_secret, dict(counts or demo_counts()))
        with self.lock:
            self.tenants[graph_tenant_id] = tenant
        return tenant

    def set_fault(self, key: str, fault: Fault) -> None:
        with self.lock:
            self.faults[key] = fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()
            self.token_fault = None

    def count(self, name: str) -> int:
        with self.lock:
            return self.stats.get(name, 0)

    def _bump(self, name: str) -> None:
        with self.lock:
            self.stats[name] = self.stats.get(name, 0) + 1

    def remove_item(self, graph_tenant_id: str, key: str, index: int) -> None:
        with self.lock:
            self.tenants[graph_tenant_id].removed.add((key, index))

    def add_items(self, graph_tenant_id: str, key: str, n: int) -> None:
        with self.lock:
            tenant = self.tenants[graph_tenant_id]
            tenant.extra[key] = tenant.extra.get(key, 0) + n

    def modify_item(self, graph_tenant_id: str, key: str, index: int) -> None:
        with self.lock:
            versions = self.tenants[graph_tenant_id].versions
            versions[(key, index)] = versions.get((key, index), 1) + 1

    def item_id(self, graph_tenant_id: str, key: str, index: int) -> str:
        return str(uuid.uuid5(NS, f"{graph_tenant_id}:{key}:{index}"))

    # -- generated content ---------------------------------------------------------------
    def item(self, tenant: StandInTenant, ptype: PolicyType, index: int, expand: bool) -> dict[str, Any]:
        key = ptype.key
        types = ODATA_TYPES.get(key, [key[0].lower() + key[1:]])
        version = tenant.versions.get((key, index), 1)
        item: dict[str, Any] = {
            "@odata.type": f"#microsoft.graph.{types[index % len(types)]}",
            "id": self.item_id(tenant.graph_tenant_id, key, index),
            "displayName": f"{key} {index:05d}",
            "description": f"Generated {key} number {index}",
            "createdDateTime": "2026-01-15T08:00:00Z",
            "lastModifiedDateTime": f"2026-11-{1 + version % 27:02d}T10:00:00Z",
            "version": version,
        }
        if not ptype.foundation:
            item["roleScopeTagIds"] = ["0"] if index % 3 else ["0", self.item_id(tenant.graph_tenant_id,
                                                                                   "roleScopeTag", 1)]
        if key == "settingsCatalogPolicy":
            del item["displayName"]
            item["name"] = f"Settings catalog {index:05d}"
            item["platforms"] = "windows10" if index % 4 else "macOS"
            item["technologies"] = "mdm"
            item["templateReference"] = {"templateFamily": "endpointSecurityFirewall" if index % 5 == 0 else "none"}
            item["settingCount"] = self.settings_count(index)
        if key == "roleScopeTag":
            item["isBuiltIn"] = index == 0
        if key == "assignmentFilter":
            item["platform"] = "windows10AndLater"
            item["rule"] = f'(device.deviceName -startsWith "LAB{index}")'
        if expand and ptype.assignments is not Assignments.NONE:
            item["assignments"] = self.assignments(tenant, key, index)
        return item

    def assignments(self, tenant: StandInTenant, key: str, index: int) -> list[dict[str, Any]]:
        gid = tenant.graph_tenant_id
        filter_id = self.item_id(gid, "assignmentFilter", index % 5) if index % 2 == 0 else NO_FILTER
        variants = [
            {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": str(uuid.uuid5(NS, f"g{index % 7}")),
             "deviceAndAppManagementAssignmentFilterId": filter_id,
             "deviceAndAppManagementAssignmentFilterType": "include" if filter_id != NO_FILTER else "none"},
            {"@odata.type": "#microsoft.graph.exclusionGroupAssignmentTarget",
             "groupId": str(uuid.uuid5(NS, f"g{(index + 3) % 7}"))},
            {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget",
             "deviceAndAppManagementAssignmentFilterId": NO_FILTER,
             "deviceAndAppManagementAssignmentFilterType": "none"},
            {"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget"},
        ]
        chosen = variants[: 1 + index % 4]
        return [{"id": f"{self.item_id(gid, key, index)}_{n}", "target": target} for n, target in enumerate(chosen)]

    @staticmethod
    def settings_count(index: int) -> int:
        return 3 + (index * 11) % 60  # some policies have more than one page (25) of settings

    def setting(self, policy_index: int, n: int) -> dict[str, Any]:
        return {"id": str(n), "settingInstance": {
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
            "settingDefinitionId": f"device_vendor_msft_policy_config_setting_{policy_index}_{n}",
            "choiceSettingValue": {"value": f"value_{n % 3}"}}}


def _handler_for(standin: GraphStandIn) -> type[BaseHTTPRequestHandler]:
    collections = {t.collection: t for t in POLICY_TYPES + FOUNDATIONS}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        # -- plumbing --------------------------------------------------------------------
        def _base(self) -> str:
            """Links and audiences use the address the caller used (a relay in front of this server, say)."""
            host = self.headers.get("Host")
            return f"http://{host}" if host else standin.base_url

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None,
                  raw: bytes | None = None) -> None:
            data = raw if raw is not None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("request-id", str(uuid.uuid4()))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_POST(self) -> None:  # noqa: N802
            path = urlsplit(self.path).path
            body = self._body()
            if path.endswith("/oauth2/v2.0/token"):
                return self._token(path.split("/")[1], body)
            if path.startswith("/_standin/"):
                return self._control(path, body)
            tenant = self._auth()
            if tenant is None:
                return
            if path in ("/beta/$batch", "/v1.0/$batch"):
                return self._batch(tenant, body)
            self._send(405, {"error": {"code": "MethodNotAllowed", "message": "POST not allowed"}})

        def do_GET(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            if parts.path == "/_standin/stats":
                with standin.lock:
                    return self._send(200, dict(standin.stats))
            tenant = self._auth()
            if tenant is None:
                return
            status, body, headers, raw = self._get(tenant, parts.path, parse_qs(parts.query))
            self._send(status, body, headers, raw)

        # -- endpoints -------------------------------------------------------------------
        def _token(self, graph_tenant_id: str, body: bytes) -> None:
            standin._bump("token_requests")
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            with standin.lock:
                standin.seen["token_host"] = self.headers.get("Host", "")
                standin.seen["token_scope"] = form.get("scope", "")
            fault = standin.token_fault
            if fault and fault.take():
                return self._send(fault.status, {"error": "temporarily_unavailable"})
            tenant = standin.tenants.get(graph_tenant_id)
            if tenant is None:
                return self._send(400, {"error": "invalid_request",
                                        "error_description": "AADSTS90002: Tenant not found"})
            if form.get("grant_type") != "client_credentials" or not str(form.get("scope", "")).endswith("/.default"):
                return self._send(400, {"error": "invalid_request", "error_description": "bad grant or scope"})
            if "client_assertion" in form:
                if not self._assertion_ok(tenant, form, graph_tenant_id):
                    return self._send(401, {"error": "invalid_client",
                                            "error_description": "AADSTS700027: Client assertion failed"})
            elif form.get("client_id") != tenant.client_id or form.get("client_secret") != tenant.client_secret:
                return self._send(401, {"error": "invalid_client",
                                        "error_description": "AADSTS7000215: Invalid client secret provided."})
            token = secrets.token_urlsafe(32)
            with standin.lock:
                standin.tokens[token] = (graph_tenant_id, time.time() + standin.token_lifetime)
                standin.issued_tokens.append(token)
                _ALL_ISSUED.append(token)
            self._send(200, {"token_type": "Bearer", "expires_in": standin.token_lifetime, "access_token": token})

        def _assertion_ok(self, tenant: StandInTenant, form: dict[str, str], graph_tenant_id: str) -> bool:
            import base64
            import hashlib

            import jwt
            from cryptography import x509
            from cryptography.hazmat.primitives import serialization

            if not tenant.certificate_pem or form.get("client_assertion_type") != (
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"):
                return False
            cert = x509.load_pem_x509_certificate(tenant.certificate_pem.encode())
            der = cert.public_bytes(serialization.Encoding.DER)
            thumb = base64.urlsafe_b64encode(hashlib.sha1(der).digest())  # noqa: S324 - x5t is SHA-1 by definition
            try:
                header = jwt.get_unverified_header(form["client_assertion"])
                claims = jwt.decode(form["client_assertion"], cert.public_key(), algorithms=["RS256"],
                                    audience=f"{self._base()}/{graph_tenant_id}/oauth2/v2.0/token")
            except jwt.PyJWTError:
                return False
            return (header.get("x5t") == thumb.rstrip(b"=").decode() and claims.get("iss") == tenant.client_id
                    and claims.get("sub") == tenant.client_id and form.get("client_id") == tenant.client_id)

        def _auth(self) -> StandInTenant | None:
            header = self.headers.get("Authorization", "")
            token = header[7:] if header.startswith("Bearer ") else ""
            with standin.lock:
                entry = standin.tokens.get(token)
            if entry is None or entry[1] < time.time():
                self._send(401, {"error": {"code": "InvalidAuthenticationToken", "message": "Access token is invalid"}})
                return None
            return standin.tenants[entry[0]]

        def _control(self, path: str, body: bytes) -> None:
            payload = json.loads(body or b"{}")
            if path == "/_standin/faults":
                if payload.get("clear"):
                    standin.clear_faults()
                else:
                    standin.set_fault(payload["policy_type"], Fault(
                        status=int(payload.get("status", 500)), times=payload.get("times"),
                        retry_after=payload.get("retry_after"), malformed=bool(payload.get("malformed")),
                        latency_ms=int(payload.get("latency_ms", 0))))
                return self._send(200, {"ok": True})
            if path == "/_standin/tenants":
                standin.add_tenant(payload["graph_tenant_id"], payload["client_id"], payload["client_secret"],
                                   payload.get("counts"))
                return self._send(200, {"ok": True})
            if path == "/_standin/config":
                standin.latency_ms = int(payload.get("latency_ms", standin.latency_ms))
                return self._send(200, {"ok": True})
            if path == "/_standin/mutate":
                gid = payload["graph_tenant_id"]
                for key, index in payload.get("remove", []):
                    standin.remove_item(gid, key, index)
                for key, n in payload.get("add", {}).items():
                    standin.add_items(gid, key, n)
                for key, index in payload.get("modify", []):
                    standin.modify_item(gid, key, index)
                return self._send(200, {"ok": True})
            self._send(404, {"error": "unknown control"})

        def _get(self, tenant: StandInTenant, path: str, query: dict[str, list[str]]
                 ) -> tuple[int, Any, dict[str, str], bytes | None]:
            standin._bump("graph_requests")
            with standin.lock:
                standin.seen["graph_host"] = self.headers.get("Host", "")
            if standin.latency_ms:
                time.sleep(standin.latency_ms / 1000)
            version, _, rest = path.lstrip("/").partition("/")
            if version not in ("beta", "v1.0"):
                return 404, {"error": {"code": "BadRequest", "message": "Invalid version"}}, {}, None
            rest = "/" + rest
            ptype, item_id, sub = self._route(rest)
            if ptype is None:
                return 404, {"error": {"code": "ResourceNotFound", "message": f"Resource not found: {rest}"}}, {}, None
            fault = standin.faults.get(ptype.key)
            if fault and fault.take():
                if fault.latency_ms:
                    time.sleep(fault.latency_ms / 1000)
                if fault.malformed:
                    return 200, None, {}, b'{"value": [ {"id": "broken'
                if fault.status < 400:
                    fault = None
                else:
                    standin._bump(f"fault_{fault.status}")
                    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                    error = {"error": {"code": "Fault", "message": f"scripted {fault.status}"}}
                    return fault.status, error, headers, None
            if item_id is None:
                return self._list(tenant, ptype, rest, query, version)
            index = self._index_of(tenant, ptype, item_id)
            if index is None:
                return 404, {"error": {"code": "ResourceNotFound", "message": "item not found"}}, {}, None
            if sub == "assignments":
                return 200, {"value": standin.assignments(tenant, ptype.key, index)}, {}, None
            if sub == "settings" and ptype.key == "settingsCatalogPolicy":
                total = standin.settings_count(index)
                skip = int(query.get("$skiptoken", ["0"])[0])
                top = min(int(query.get("$top", [str(SETTINGS_PAGE)])[0]), SETTINGS_PAGE)
                values = [standin.setting(index, n) for n in range(skip, min(total, skip + top))]
                body: dict[str, Any] = {"value": values}
                if skip + top < total:
                    body["@odata.nextLink"] = (f"{self._base()}/{version}{rest}?"
                                               + urlencode({"$top": top, "$skiptoken": skip + top}))
                return 200, body, {}, None
            if sub is None:
                return 200, standin.item(tenant, ptype, index, expand=False), {}, None
            return 400, {"error": {"code": "BadRequest", "message": "unsupported segment"}}, {}, None

        def _route(self, rest: str) -> tuple[PolicyType | None, str | None, str | None]:
            for collection, ptype in collections.items():
                if rest == collection:
                    return ptype, None, None
                if rest.startswith(collection + "/"):
                    tail = rest[len(collection) + 1:].split("/")
                    return ptype, tail[0], tail[1] if len(tail) > 1 else None
            return None, None, None

        def _index_of(self, tenant: StandInTenant, ptype: PolicyType, item_id: str) -> int | None:
            # ids are uuid5 of the index: search is fine for a stand-in (sub-resources of listed items)
            cache = standin.__dict__.setdefault("_id_cache", {})
            key = (tenant.graph_tenant_id, ptype.key, item_id)
            if key in cache:
                return cache[key]
            for index in range(tenant.total(ptype.key)):
                if standin.item_id(tenant.graph_tenant_id, ptype.key, index) == item_id:
                    cache[key] = index if tenant.exists(ptype.key, index) else None
                    return cache[key]
            return None

        def _list(self, tenant: StandInTenant, ptype: PolicyType, rest: str, query: dict[str, list[str]],
                  version: str) -> tuple[int, Any, dict[str, str], bytes | None]:
            expand = query.get("$expand", [""])[0]
            if expand and (expand != "assignments" or ptype.assignments is not Assignments.EXPAND):
                return 400, {"error": {"code": "BadRequest", "message": "$expand is not supported here"}}, {}, None
            top = max(1, min(int(query.get("$top", [str(DEFAULT_TOP)])[0]), MAX_TOP))
            skip = int(query.get("$skiptoken", ["0"])[0])
            builtin_filter = query.get("$filter", [""])[0] == "isBuiltIn eq false"
            total = tenant.total(ptype.key)
            page, index = [], skip
            while index < total and len(page) < top:
                if tenant.exists(ptype.key, index) and not (builtin_filter and index == 0):
                    page.append(standin.item(tenant, ptype, index, expand=bool(expand)))
                index += 1
            body: dict[str, Any] = {"@odata.context": f"{self._base()}/{version}/$metadata#{ptype.key}",
                                    "value": page}
            if index < total:
                params = {k: v[0] for k, v in query.items() if k != "$skiptoken"}
                params["$skiptoken"] = str(index)
                body["@odata.nextLink"] = f"{self._base()}/{version}{rest}?" + urlencode(params)
            return 200, body, {}, None

        def _batch(self, tenant: StandInTenant, body: bytes) -> None:
            standin._bump("batch_requests")
            try:
                requests = json.loads(body)["requests"]
            except (ValueError, KeyError, TypeError):
                return self._send(400, {"error": {"code": "BadRequest", "message": "invalid batch"}})
            if len(requests) > 20:
                return self._send(400, {"error": {"code": "BadRequest", "message": "more than 20 requests"}})
            responses = []
            for sub in requests:
                parts = urlsplit(sub["url"])
                status, sub_body, headers, raw = self._get(tenant, "/beta" + parts.path, parse_qs(parts.query))
                responses.append({"id": sub["id"], "status": status, "headers": headers,
                                  "body": sub_body if raw is None else {}})
            self._send(200, {"responses": responses})

    return Handler


def main() -> None:  # pragma: no cover - manual use and benchmarks (its own process: its own GIL)
    import argparse

    parser = argparse.ArgumentParser(description="Microsoft Graph stand-in")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args()
    standin = GraphStandIn(port=args.port, latency_ms=args.latency_ms).start()
    standin.add_tenant("contoso.onmicrosoft.com", "demo-client", "demo-secret")
    print(f"Graph stand-in on {standin.base_url}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    main()

__all__ = ["BY_KEY", "Fault", "GraphStandIn", "StandInTenant", "demo_counts", "large_counts"]
