"""App-only tokens (OAuth2 client credentials), cached per tenant until shortly before expiry.

Not msal: msal insists on an https authority with instance discovery, which rules out the
plain-http loopback Graph stand-in the design requires for local runs and tests. The client
credentials grant is one form POST, so a small, tested client is the smaller dependency.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from urllib.parse import quote

import urllib3

from inventory_sync.adapters.graph import http
from inventory_sync.adapters.graph.credentials import ClientSecretCredential
from inventory_sync.adapters.graph.errors import GraphError
from inventory_sync.domain.error_codes import ErrorCode

REFRESH_MARGIN_SECONDS = 300


@dataclass
class _Cached:
    token: str = field(repr=False)
    expires_at: float


class TokenProvider:
    def __init__(self, authority_host: str, graph_base_url: str) -> None:
        self.authority_host = authority_host.rstrip("/")
        self.scope = graph_base_url.rstrip("/") + "/.default"
        self._cache: dict[tuple[str, str], _Cached] = {}
        self._lock = threading.Lock()
        self.requests = 0

    def token(self, graph_tenant_id: str, client_id: str, credential: ClientSecretCredential, *,
              force_refresh: bool = False) -> str:
        key = (graph_tenant_id, client_id)
        with self._lock:
            cached = self._cache.get(key)
            if cached and not force_refresh and cached.expires_at - REFRESH_MARGIN_SECONDS > time.time():
                return cached.token
            fresh = self._request(graph_tenant_id, client_id, credential)
            self._cache[key] = fresh
            return fresh.token

    def _request(self, graph_tenant_id: str, client_id: str, credential: ClientSecretCredential) -> _Cached:
        url = f"{self.authority_host}/{quote(graph_tenant_id, safe='')}/oauth2/v2.0/token"
        self.requests += 1
        try:
            response = http.request("POST", url, fields={
                "grant_type": "client_credentials", "client_id": client_id,
                "client_secret": credential.client_secret, "scope": self.scope})
        except urllib3.exceptions.HTTPError as exc:
            raise GraphError(ErrorCode.GRAPH_UNAVAILABLE, f"token endpoint unreachable: {type(exc).__name__}") from None
        request_id = response.header("request-id") or response.header("x-ms-request-id")
        if response.status != 200:
            code = ErrorCode.GRAPH_UNAVAILABLE if response.status >= 500 else ErrorCode.GRAPH_AUTH_FAILED
            raise GraphError(code, f"token request rejected ({_error_code(response)})", response.status, request_id)
        try:
            body = response.json()
            token, expires_in = body["access_token"], int(body.get("expires_in", 3599))
        except (ValueError, KeyError, TypeError):
            raise GraphError(ErrorCode.GRAPH_AUTH_FAILED, "token response is not valid", 200, request_id) from None
        return _Cached(token, time.time() + expires_in)


def _error_code(response: http.HttpResponse) -> str:
    """The AAD error code (e.g. invalid_client), never the description that may echo input."""
    try:
        return str(response.json().get("error", "unknown_error"))[:64]
    except (ValueError, AttributeError):
        return f"HTTP {response.status}"
