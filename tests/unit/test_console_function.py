"""The console function (functions/console/app.py): what it serves, with which headers, and what it refuses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.lambdas import load_function

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "functions" / "console" / "static"
MSAL_ENV = {"CONSOLE_CLIENT_ID": "7c3a0b5e-1111-2222-3333-444444444444",
            "CONSOLE_AUTHORITY": "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000",
            "CONSOLE_API_SCOPES": "api://inventory-sync/access_as_user"}


@pytest.fixture(scope="module")
def console():
    return load_function("console")


def _get(console, path: str, method: str = "GET", monkeypatch: pytest.MonkeyPatch | None = None) -> dict:
    event = {"version": "2.0", "rawPath": path, "requestContext": {"http": {"method": method, "path": path}}}
    return console.lambda_handler(event, None)


def test_the_page_and_its_modules_are_served_with_a_strict_policy(console, monkeypatch) -> None:
    for name in ("CONSOLE_CLIENT_ID", "CONSOLE_AUTHORITY", "CONSOLE_API_SCOPES"):
        monkeypatch.delenv(name, raising=False)
    page = _get(console, "/console/")
    assert page["statusCode"] == 200 and page["headers"]["Content-Type"].startswith("text/html")
    assert page["body"] == (STATIC / "index.html").read_text()
    csp = page["headers"]["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert page["headers"]["X-Content-Type-Options"] == "nosniff" and page["headers"]["Cache-Control"] == "no-cache"
    module = _get(console, "/console/widget.js")
    assert module["statusCode"] == 200 and module["headers"]["Content-Type"].startswith("text/javascript")
    assert _get(console, "/console")["statusCode"] == 308
    assert _get(console, "/console")["headers"]["Location"] == "/console/"


@pytest.mark.parametrize("path", ["/console/../app.py", "/console/vendor/../../app.py", "/console/%2e%2e/app.py",
                                  "/console/nope.js", "/console/.hidden", "/console/vendor", "/other",
                                  "/console/static/index.html"])
def test_nothing_outside_the_static_folder_or_missing_is_served(console, path) -> None:
    answer = _get(console, path)
    assert answer["statusCode"] == 404, path
    assert "lambda_handler" not in answer["body"]


def test_only_reads_are_answered(console) -> None:
    answer = _get(console, "/console/", method="POST")
    assert answer["statusCode"] == 405 and answer["headers"]["Allow"] == "GET, HEAD"


def test_config_names_the_sign_in_settings_and_nothing_else(console, monkeypatch) -> None:
    for name in MSAL_ENV:
        monkeypatch.delenv(name, raising=False)
    unconfigured = json.loads(_get(console, "/console/config.json")["body"])
    assert unconfigured["auth"]["mode"] == "unconfigured" and "ConsoleClientId" in unconfigured["auth"]["message"]
    for name, value in {**MSAL_ENV, "DATABASE_SECRET_ARN": "arn:aws:secretsmanager:x:1:secret:db"}.items():
        monkeypatch.setenv(name, value)
    answer = _get(console, "/console/config.json")
    assert answer["headers"]["Cache-Control"] == "no-store"
    assert json.loads(answer["body"]) == {"auth": {
        "mode": "msal", "clientId": MSAL_ENV["CONSOLE_CLIENT_ID"], "authority": MSAL_ENV["CONSOLE_AUTHORITY"],
        "scopes": ["api://inventory-sync/access_as_user"]}}
    csp = answer["headers"]["Content-Security-Policy"]
    # MSAL fetches the authority's metadata and tokens, and renews in a hidden frame there: that origin only
    assert "connect-src 'self' https://login.microsoftonline.com;" in csp
    assert "frame-src https://login.microsoftonline.com;" in csp


def test_the_static_files_need_nothing_the_policy_forbids() -> None:
    html = (STATIC / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert not re.search(r"\sstyle=|\son[a-z]+=", html), "inline style or handler"
    for script in STATIC.glob("*.js"):
        text = script.read_text()
        assert "innerHTML" not in text and "eval(" not in text and "new Function" not in text, script.name
        for target in re.findall(r'from "\./([^"]+)"', text):  # every module import resolves to a served file
            assert (STATIC / target).is_file(), (script.name, target)
    for ref in re.findall(r'(?:src|href)="([^"#:]+)"', html):
        assert (STATIC / ref).is_file(), ref


def test_msal_is_vendored_from_its_registry_package_with_its_licence() -> None:
    bundle = (STATIC / "vendor" / "msal-browser.min.js").read_text()
    assert re.match(r"/\*! @azure/msal-browser v\d+\.\d+\.\d+ ", bundle)
    assert "MIT License" in (STATIC / "vendor" / "msal-browser.LICENSE.txt").read_text()
    assert "@azure/msal-browser@" in (ROOT / "Makefile").read_text()  # how to refresh it


@pytest.mark.parametrize("path", ["/console/" + "a" * 300 + ".js", "/console/" + "b/" * 40 + "c" * 260,
                                  "/console/%00", "/console/\x00.js", "/console/index.html\x00.png",
                                  "/console/\ud800.js"])
def test_names_the_file_system_refuses_are_404_with_the_headers(console, path) -> None:
    """A name over the file system's limit or with a NUL raised (OSError, ValueError): API Gateway then answered
    a bare 500 without the console's headers, to anyone."""
    answer = _get(console, path)
    assert answer["statusCode"] == 404, answer
    assert answer["headers"]["X-Content-Type-Options"] == "nosniff" and answer["headers"]["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in answer["headers"]["Content-Security-Policy"]


def test_an_unexpected_error_is_a_problem_document_with_the_headers(console, monkeypatch, capsys) -> None:
    def broken(method: str, path: str, config: dict) -> dict:
        raise RuntimeError("boom")

    monkeypatch.setattr(console, "respond", broken)
    answer = _get(console, "/console/")
    assert answer["statusCode"] == 500
    assert answer["headers"]["Content-Type"] == "application/problem+json"
    assert answer["headers"]["X-Content-Type-Options"] == "nosniff" and answer["headers"]["Cache-Control"] == "no-store"
    assert json.loads(answer["body"]) == {"type": "about:blank", "title": "Internal Server Error", "status": 500,
                                          "detail": "internal error"}
    assert "boom" not in answer["body"] and "RuntimeError" in capsys.readouterr().err  # logged, not answered


def test_axe_core_is_vendored_from_its_registry_package_with_its_licence_for_the_tests_only() -> None:
    vendor = ROOT / "tests" / "browser" / "vendor"
    assert re.match(r"/\*! axe v\d+\.\d+\.\d+", (vendor / "axe.min.js").read_text())
    assert "Mozilla Public License" in (vendor / "axe-core.LICENSE.txt").read_text()
    assert "axe-core@" in (ROOT / "Makefile").read_text()  # how to refresh it
    assert not list(STATIC.rglob("axe*"))  # the tests inject it; the console never serves it
