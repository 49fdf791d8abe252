"""App-only tokens (OAuth2 client credentials), cached until shortly before expiry.

A token is cached under the credential that earned it (directory, client id and a fingerprint of the secret
material, never the material): a caller holding a wrong secret for a directory and client id another tenant
uses gets its own token request refused, not the other tenant's token; and a changed credential stops the old
token at once, wherever the new one is read.

Not msal: msal insists on an https authority with instance discovery, which rules out the
plain-http loopback Graph stand-in the design requires for local runs and tests. The client
credentials grant is one form POST, so a small, tested client is the smaller dependency.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import quote

import urllib3

from inventory_sync.adapters.graph import http
from inventory_sync.adapters.graph.credentials import CertificateCredential, Credential
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
        self._cache: dict[tuple[str, str, str], _Cached] = {}
        self._lock = threading.Lock()
        self._key = secrets.token_bytes(32)  # fingerprints mean nothing outside this process
        self.requests = 0

    def token(self, graph_tenant_id: str, client_id: str, credential: Credential, *,
              force_refresh: bool = False) -> str:
        key = (graph_tenant_id.lower(), client_id.lower(), self._fingerprint(credential))
        with self._lock:
            cached = self._cache.get(key)
            if cached and not force_refresh and cached.expires_at - REFRESH_MARGIN_SECONDS > time.time():
                return cached.token
            fresh = self._request(graph_tenant_id, client_id, credential)
            # one token per directory and client: another credential's token goes (it was changed)
            for other in [k for k in self._cache if k[:2] == key[:2]]:
                del self._cache[other]
            self._cache[key] = fresh
            return fresh.token

    def forget(self, graph_tenant_id: str) -> None:
        """Drop the directory's tokens (its tenant's credential changed)."""
        with self._lock:
            for key in [k for k in self._cache if k[0] == graph_tenant_id.lower()]:
                del self._cache[key]

    def _fingerprint(self, credential: Credential) -> str:
        """A keyed hash of the secret material: tells credentials apart, reveals nothing of them."""
        if isinstance(credential, CertificateCredential):
            material = f"certificate\0{credential.certificate_pem}\0{credential.private_key_pem}"
        else:
            material = f"secret\0{credential.client_secret}"
        return hmac.new(self._key, material.encode(), hashlib.sha256).hexdigest()

    def _request(self, graph_tenant_id: str, client_id: str, credential: Credential) -> _Cached:
        url = f"{self.authority_host}/{quote(graph_tenant_id, safe='')}/oauth2/v2.0/token"
        self.requests += 1
        fields = {"grant_type": "client_credentials", "client_id": client_id, "scope": self.scope}
        if isinstance(credential, CertificateCredential):
            fields["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            fields["client_assertion"] = client_assertion(credential, client_id, url)
        else:
            fields["client_secret"] = credential.client_secret
        try:
            response = http.request("POST", url, fields=fields)
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


def client_assertion(credential: CertificateCredential, client_id: str, token_url: str) -> str:
    """The signed JWT (RS256, x5t = SHA-1 thumbprint of the certificate) that proves possession of the
    app certificate."""
    import base64
    import uuid

    import jwt
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(credential.certificate_pem.encode())
        key = serialization.load_pem_private_key(credential.private_key_pem.encode(), password=None)
    except ValueError:
        raise GraphError(ErrorCode.CREDENTIALS_MISSING, "the stored certificate or key is not valid PEM") from None
    thumbprint = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).digest()  # noqa: S324 - x5t is SHA-1
    now = int(time.time())
    claims = {"aud": token_url, "iss": client_id, "sub": client_id, "jti": str(uuid.uuid4()), "nbf": now,
              "iat": now, "exp": now + 600}
    x5t = base64.urlsafe_b64encode(thumbprint).rstrip(b"=").decode()
    return jwt.encode(claims, key, algorithm="RS256", headers={"x5t": x5t})  # type: ignore[arg-type]
