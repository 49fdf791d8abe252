"""The HTTP API on 127.0.0.1 like `sam local start-api`, with the JWT authorizer done locally.

Each request becomes a real API Gateway HTTP API (payload 2.0) event for functions/dispatch.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from invsync_dev.local.dev_jwt import DevSigner

MAX_READ = 1024 * 1024


def to_event(method: str, raw_path: str, headers: dict[str, str], body: bytes, claims: dict[str, str] | None,
             source_ip: str) -> dict[str, Any]:
    parts = urlsplit(raw_path)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    try:
        text, is_b64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_b64 = base64.b64encode(body).decode(), True
    now = time.time()
    context: dict[str, Any] = {
        "accountId": "000000000000", "apiId": "local", "domainName": "127.0.0.1", "domainPrefix": "local",
        "http": {"method": method, "path": parts.path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                 "userAgent": headers.get("user-agent", "")},
        "requestId": str(uuid.uuid4()), "routeKey": f"{method} {parts.path}", "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), "timeEpoch": int(now * 1000),
    }
    if claims:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return {"version": "2.0", "routeKey": "$default", "rawPath": parts.path, "rawQueryString": parts.query,
            "headers": headers, "queryStringParameters": query or None, "requestContext": context,
            "body": text if body else None, "isBase64Encoded": is_b64}


class LocalHttpApi:
    def __init__(self, handler: Callable[[dict[str, Any], Any], dict[str, Any]], signer: DevSigner,
                 context_factory: Callable[[], Any], host: str = "127.0.0.1", port: int = 3000,
                 console: Callable[[str, str], dict[str, Any]] | None = None) -> None:
        """`console(method, path)` answers /console and below without a token, like the template's
        console routes (Authorizer: NONE); everything else goes through the JWT check to `handler`."""
        # One request at a time, as in one Lambda environment: Powertools' resolver keeps the current event and
        # route arguments on the app object, so two requests on two threads would read each other's.
        environment = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, MAX_READ)) if length else b""
                path = urlsplit(self.path).path
                if console and (path == "/console" or path.startswith("/console/")):
                    return self._send_response(console(self.command, path))
                headers = {k.lower(): v for k, v in self.headers.items()}
                auth = headers.get("authorization", "")
                claims = signer.verify(auth[7:]) if auth.lower().startswith("bearer ") else None
                if claims is None:  # API Gateway's JWT authorizer answers before the function runs
                    return self._reply(401, {"Content-Type": "application/json",
                                             "WWW-Authenticate": "Bearer"}, b'{"message":"Unauthorized"}')
                event = to_event(self.command, self.path, headers, body, claims, self.client_address[0])
                with environment:
                    response = handler(event, context_factory())
                self._send_response(response)

            def _send_response(self, response: dict[str, Any]) -> None:
                payload = response.get("body") or ""
                data = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
                self._reply(int(response.get("statusCode", 200)), response.get("headers") or {}, data)

            def _reply(self, status: int, headers: dict[str, str], data: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    if k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _serve  # noqa: N815

        # socketserver listens with a backlog of 5: a burst of clients on a loaded machine overflows it and the
        # kernel resets the rest (API Gateway queues them instead)
        server_class = type("Server", (ThreadingHTTPServer,), {"request_queue_size": 128})
        self._server = server_class((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-api", daemon=True)
        self.url = f"http://{host}:{self._server.server_address[1]}"

    def start(self) -> LocalHttpApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def request(url: str, method: str = "GET", token: str | None = None, body: Any = None,
            headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, Any, dict[str, str]]:
    """A tiny client for the demo and the operator CLI (stdlib only)."""
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310 - http(s) URLs only
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            raw, status, resp_headers = resp.read(), resp.status, dict(resp.headers)
    except urllib.error.HTTPError as err:
        raw, status, resp_headers = err.read(), err.code, dict(err.headers)
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return status, parsed, resp_headers
