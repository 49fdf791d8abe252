"""The console as deployed: it signs in with MSAL (authorization code + PKCE) at the issuer, then calls the API
with the access token it got. Entra is played by a local HTTPS server on Entra's own host name."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.browser.conftest import csp_violations, make_driver, wait
from tests.browser.fake_entra import FakeEntra
from tests.support.lambdas import load_function

pytestmark = pytest.mark.browser
CLIENT_ID = "7c3a0b5e-1111-2222-3333-444444444444"
SCOPE = "api://inventory-sync/access_as_user"


class DeployedConsole:
    """The console function behind one origin, as API Gateway routes it, with a minimal API beside it that
    accepts only the access token the sign-in produced."""

    def __init__(self, config: dict[str, Any], access_token: str) -> None:
        console = load_function("console")
        self.bearer_seen: list[str] = []
        seen = self.bearer_seen

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?")[0]
                if path == "/console" or path.startswith("/console/"):
                    answer = console.respond("GET", path, config)
                    status, headers, body = answer["statusCode"], answer["headers"], answer["body"].encode()
                else:
                    auth = self.headers.get("Authorization", "")
                    seen.append(auth)
                    ok = auth == f"Bearer {access_token}"
                    status = 200 if ok else 401
                    headers = {"Content-Type": "application/json" if ok else "application/problem+json"}
                    body = json.dumps({"items": [], "next_cursor": None} if ok else
                                      {"title": "Unauthorized", "status": 401, "detail": "bad token"}).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/console/"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_sign_in_is_the_authorization_code_flow_with_pkce_and_the_api_gets_its_token(browser_paths) -> None:
    entra = FakeEntra(CLIENT_ID)
    console_function = load_function("console")
    config = console_function.config_from_env({"CONSOLE_CLIENT_ID": CLIENT_ID, "CONSOLE_AUTHORITY": entra.authority,
                                               "CONSOLE_API_SCOPES": SCOPE})
    site = DeployedConsole(config, entra.access_token)
    driver = make_driver(browser_paths, f"--host-resolver-rules=MAP login.microsoftonline.com 127.0.0.1:{entra.port}",
                         "--ignore-certificate-errors")
    try:
        driver.get(site.url)
        button = wait(lambda: driver.find_elements("id", "sign-in"), 30, lambda: driver.page_source[:2000])[0]
        assert not site.bearer_seen  # nothing is asked of the API before sign-in
        button.click()
        wait(lambda: driver.execute_script("return document.body.dataset.ready === 'true'"), 60,
             lambda: f"signed in: {driver.current_url} {entra.authorize_requests} {driver.get_log('browser')}")
        assert "Erin Entra" in driver.find_element("id", "who").text
        assert driver.find_element("tag name", "h1").text == "Tenants"
        logs = csp_violations(driver)
    finally:
        driver.quit()
        site.stop()
        entra.stop()
    [authorize] = entra.authorize_requests
    assert authorize["response_type"] == "code" and authorize["client_id"] == CLIENT_ID
    assert authorize["code_challenge_method"] == "S256" and len(authorize["code_challenge"]) == 43
    assert authorize["redirect_uri"] == site.url
    assert SCOPE in authorize["scope"].split() and "openid" in authorize["scope"].split()
    [token] = entra.token_requests
    assert token["grant_type"] == "authorization_code" and token["code_verifier"] and "client_secret" not in token
    assert entra.pkce_ok == [True]  # the verifier matched the challenge sent to /authorize
    assert site.bearer_seen and set(site.bearer_seen) == {f"Bearer {entra.access_token}"}
    assert not logs
