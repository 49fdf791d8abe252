"""A stand-in for Microsoft Entra's sign-in endpoints as a browser reaches them (HTTPS, on the real host name
through Chromium's host-resolver rules), enough for MSAL's authorization code flow with PKCE: OpenID metadata,
instance discovery, /authorize (records the request and redirects back with a code) and /token (checks the
code verifier against the challenge, as Entra does, then answers tokens)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

HOST = "login.microsoftonline.com"
TENANT = "00000000-0000-0000-0000-0000000000aa"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_jwt(claims: dict[str, Any]) -> str:
    """MSAL reads the id token's claims; checking its signature is the API's business, not the browser's."""
    return ".".join([b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "test"}).encode()),
                     b64url(json.dumps(claims).encode()), b64url(b"not-checked-by-the-browser")])


class FakeEntra:
    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.pkce_ok: list[bool] = []
        self.access_token = "at-" + secrets.token_urlsafe(16)
        self._codes: dict[str, dict[str, str]] = {}
        entra = self
        base = f"https://{HOST}/{TENANT}"
        client_info = b64url(json.dumps({"uid": "user-oid-1", "utid": TENANT}).encode())

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                origin = self.headers.get("Origin")
                if origin:
                    self.send_header("Access-Control-Allow-Origin", origin)
                    self.send_header("Access-Control-Allow-Headers", "*")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_OPTIONS(self) -> None:  # noqa: N802
                self._send(204, headers={"Access-Control-Allow-Methods": "GET, POST"})

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path.endswith("/.well-known/openid-configuration"):
                    return self._send(200, {
                        "issuer": f"{base}/v2.0", "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                        "token_endpoint": f"{base}/oauth2/v2.0/token",
                        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                        "jwks_uri": f"https://{HOST}/{TENANT}/discovery/v2.0/keys",
                        "response_modes_supported": ["query", "fragment", "form_post"],
                        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                        "scopes_supported": ["openid", "profile", "email", "offline_access"],
                        "code_challenge_methods_supported": ["S256"], "tenant_region_scope": "EU"})
                if parts.path.endswith("/discovery/instance"):
                    discovery = f"{base}/v2.0/.well-known/openid-configuration"
                    return self._send(200, {"tenant_discovery_endpoint": discovery,
                                            "api-version": "1.1", "metadata": [{
                                                "preferred_network": HOST, "preferred_cache": "login.windows.net",
                                                "aliases": [HOST, "login.windows.net", "login.microsoft.com",
                                                            "sts.windows.net"]}]})
                if parts.path.endswith("/oauth2/v2.0/authorize"):
                    entra.authorize_requests.append(query)
                    code = secrets.token_urlsafe(16)
                    entra._codes[code] = query
                    answer = urlencode({"code": code, "state": query.get("state", ""), "client_info": client_info,
                                        "session_state": "s"})
                    mode = query.get("response_mode", "fragment")
                    separator = "#" if mode == "fragment" else "?"
                    return self._send(302, headers={"Location": query["redirect_uri"] + separator + answer})
                self._send(404, {"error": "not_found", "path": parts.path})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if not urlsplit(self.path).path.endswith("/oauth2/v2.0/token"):
                    return self._send(404, {"error": "not_found"})
                entra.token_requests.append(form)
                authorize = entra._codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "")
                ok = bool(authorize) and authorize.get("code_challenge_method") == "S256" and b64url(
                    hashlib.sha256(verifier.encode()).digest()) == authorize.get("code_challenge")
                entra.pkce_ok.append(ok)
                if not ok:
                    return self._send(400, {"error": "invalid_grant",
                                            "error_description": "AADSTS501481: The Code_Verifier does not match"})
                now = int(time.time())
                id_token = unsigned_jwt({
                    "aud": entra.client_id, "iss": f"{base}/v2.0", "iat": now, "nbf": now, "exp": now + 3600,
                    "name": "Erin Entra", "preferred_username": "erin@contoso.example", "oid": "user-oid-1",
                    "sub": "user-sub-1", "tid": TENANT, "nonce": authorize.get("nonce", ""), "ver": "2.0"})
                self._send(200, {"token_type": "Bearer", "scope": form.get("scope", ""), "expires_in": 3600,
                                 "ext_expires_in": 3600, "access_token": entra.access_token, "id_token": id_token,
                                 "refresh_token": "rt-" + secrets.token_urlsafe(8), "client_info": client_info})

        from tests.support.factories import self_signed_certificate

        cert, key, _ = self_signed_certificate(HOST)
        folder = Path(tempfile.mkdtemp(prefix="fake-entra-"))
        (folder / "cert.pem").write_text(cert)
        (folder / "key.pem").write_text(key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.authority = f"https://{HOST}/{TENANT}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
