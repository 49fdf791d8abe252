"""The web console's static files (static/, next to this module) on the HTTP API's /console routes.

These routes have no JWT authorizer (the page must load before anyone has signed in); they hold no data and
no secret: the page signs the user in with MSAL (authorization code + PKCE) at the issuer the API's authorizer
trusts, then calls the API, which checks every token. Same origin as the API, so no CORS is needed and the
Content-Security-Policy can allow the page's own origin and the sign-in authority only.

No layer imports and no network: this function answers from its own package in a few milliseconds.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

STATIC = Path(__file__).resolve().parent / "static"
PREFIX = "/console"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
         ".json": "application/json", ".txt": "text/plain; charset=utf-8", ".ico": "image/x-icon"}
BINARY = {".png", ".ico"}


def content_security_policy(authority: str | None = None) -> str:
    """Scripts, styles and API calls from the page's own origin only; the sign-in authority may be fetched
    (MSAL's token and metadata requests) and framed (its silent renewal); nothing may frame the console."""
    parts = urlsplit(authority or "")
    origin = f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""
    connect = f"'self' {origin}".strip()
    frame = origin or "'none'"
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src {connect}; frame-src {frame}; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'")


def config_from_env(env: dict[str, str] | None = None) -> dict[str, Any]:
    """What the page needs to sign in: public identifiers only (an SPA's client id is not a secret)."""
    env = dict(os.environ if env is None else env)
    client_id, authority = env.get("CONSOLE_CLIENT_ID", ""), env.get("CONSOLE_AUTHORITY", "")
    scopes = [s for s in env.get("CONSOLE_API_SCOPES", "").replace(",", " ").split() if s]
    if not (client_id and authority and scopes):
        return {"auth": {"mode": "unconfigured",
                         "message": "Sign-in is not configured: deploy with ConsoleClientId and ConsoleApiScope."}}
    return {"auth": {"mode": "msal", "clientId": client_id, "authority": authority.rstrip("/"), "scopes": scopes}}


def _headers(content_type: str, csp: str, cache: str) -> dict[str, str]:
    return {"Content-Type": content_type, "Content-Security-Policy": csp, "Cache-Control": cache,
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Cross-Origin-Opener-Policy": "same-origin", "X-Frame-Options": "DENY"}


def respond(method: str, path: str, config: dict[str, Any]) -> dict[str, Any]:
    """An HTTP API (payload 2.0) response for one console request."""
    auth = config.get("auth", {})
    csp = content_security_policy(auth.get("authority") if auth.get("mode") == "msal" else None)

    def plain(status: int, text: str, extra: dict[str, str] | None = None) -> dict[str, Any]:
        return {"statusCode": status, "headers": {**_headers("text/plain; charset=utf-8", csp, "no-store"),
                                                  **(extra or {})}, "body": text, "isBase64Encoded": False}

    if method not in ("GET", "HEAD"):
        return plain(405, "method not allowed", {"Allow": "GET, HEAD"})
    if path == PREFIX:
        return plain(308, "", {"Location": PREFIX + "/"})
    if not path.startswith(PREFIX + "/"):
        return plain(404, "not found")
    relative = path[len(PREFIX) + 1:] or "index.html"
    if relative == "config.json":
        return {"statusCode": 200, "headers": _headers(TYPES[".json"], csp, "no-store"),
                "body": json.dumps(config), "isBase64Encoded": False}
    file = _static_file(relative)
    suffix = file.suffix.lower() if file else ""
    if file is None or suffix not in TYPES:
        return plain(404, "not found")
    data = file.read_bytes()
    # the page itself is always revalidated, so a deploy takes effect at once; its assets for an hour
    cache = "no-cache" if suffix == ".html" else "public, max-age=3600"
    if suffix in BINARY:
        return {"statusCode": 200, "headers": _headers(TYPES[suffix], csp, cache),
                "body": base64.b64encode(data).decode(), "isBase64Encoded": True}
    return {"statusCode": 200, "headers": _headers(TYPES[suffix], csp, cache), "body": data.decode("utf-8"),
            "isBase64Encoded": False}


def _static_file(relative: str) -> Path | None:
    """The file under static/ that `relative` names, or None: traversal, hidden files, and names the file
    system refuses (a NUL, a name over its length limit) are simply not there."""
    if ".." in relative.split("/") or relative.startswith(".") or "\x00" in relative:
        return None
    try:
        file = (STATIC / relative).resolve()
        return file if file.is_relative_to(STATIC) and file.is_file() else None
    except (OSError, ValueError):
        return None


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Whatever goes wrong, the answer is a problem document with the console's security headers (API Gateway
    would otherwise answer a bare 500 without them)."""
    try:
        http = (event.get("requestContext") or {}).get("http") or {}
        return respond(http.get("method", "GET"), event.get("rawPath") or "/", config_from_env())
    except Exception:  # noqa: BLE001 - the catch-all: logged, answered as a problem document
        import traceback

        traceback.print_exc()  # to CloudWatch; this function carries no logger (no layer imports)
        body = {"type": "about:blank", "title": "Internal Server Error", "status": 500, "detail": "internal error"}
        return {"statusCode": 500, "headers": _headers("application/problem+json", content_security_policy(),
                                                       "no-store"),
                "body": json.dumps(body), "isBase64Encoded": False}
