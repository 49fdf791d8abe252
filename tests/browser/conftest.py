"""The web console in a real browser: Debian's chromium driven through chromedriver (Selenium), against
`invsync local up` started as a user starts it. Without the browser (`make browser` installs it) these tests
skip and say so; everything else runs without them."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from invsync_dev.local.embedded_pg import free_port
from invsync_dev.local.http_api import request
from tests.support.local_up import LocalUp

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".artifacts" / "screenshots"
QUEUE_DELAY = 4  # seconds a dispatched sync stays pending (RunQueue DelaySeconds): long enough to see and cancel


def _browser() -> tuple[str, str] | None:
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


@pytest.fixture(scope="session")
def browser_paths() -> tuple[str, str]:
    found = _browser()
    if found is None:
        pytest.skip("no chromium + chromedriver on this machine: `make browser` installs Debian's packages "
                    "(needs root and the Debian mirror)")
    return found


class Console:
    """`invsync local up` in a subprocess and what a test needs to know about it."""

    def __init__(self, stack: LocalUp, port: int, data_dir: Path) -> None:
        self.stack, self.data_dir = stack, data_dir
        self.api = f"http://127.0.0.1:{port}"
        self.url = f"{self.api}/console/"
        self.tenant_id, self.token = stack.tenant_id, stack.token
        found = re.search(r"Graph stand-in\s+(\S+)", stack.printed())
        assert found, stack.printed()
        self.graph = found.group(1)

    def graph_control(self, what: str, body: dict) -> None:
        status, answer, _ = request(f"{self.graph}/_standin/{what}", "POST", body=body)
        assert status == 200, answer

    def call(self, method: str, path: str, body: object = None, token: str | None = None):
        return request(self.api + path, method, token or self.token, body)


@pytest.fixture(scope="session")
def console(browser_paths, pg, template_url) -> Iterator[Console]:
    """One stack for every browser test, with the demo data (three tenants in different states). The tests of
    test_answers.py read the seeded states, so they run first (pytest takes the files in name order)."""
    name = f"invsync_console_{os.getpid()}"
    database_url = pg.create(name, template="invsync_template")
    data_dir = Path(tempfile.mkdtemp(prefix="invsync-console-"))
    port = free_port()
    stack = LocalUp(data_dir, database_url, "--api-port", str(port), "--aws-port", "0", "--graph-port", "0",
                    "--queue-delay", str(QUEUE_DELAY), "--workers", "1", "--demo-data", timeout=180)
    try:
        assert stack.token and stack.tenant_id, stack.printed()
        yield Console(stack, port, data_dir)
    finally:
        stack.stop()
        pg.drop(name)
        shutil.rmtree(data_dir, ignore_errors=True)


def make_driver(browser_paths: tuple[str, str], *arguments: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = browser_paths
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                "--disable-gpu", "--lang=en-GB", *arguments):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(chromedriver), options=options)
    browser.set_script_timeout(30)
    return browser


@pytest.fixture
def driver(browser_paths) -> Iterator[object]:
    browser = make_driver(browser_paths)
    try:
        yield browser
    finally:
        browser.quit()


def wait(what: Callable[[], Any], timeout: float = 60, message: str | Callable[[], str] = "") -> Any:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while True:
        try:
            value = what()
        except (NoSuchElementException, StaleElementReferenceException):  # the page is being redrawn
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s: {message() if callable(message) else message}")
        time.sleep(0.1)


def csp_violations(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]


AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"  # make vendor-axe


def axe_violations(driver) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now (WCAG 2.x A/AA and best practice)."""
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(AXE.read_text())  # WebDriver's script runs outside the page's CSP
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then((r) => done(r.violations.map((v) => "
        "({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' '))}))),"
        " (e) => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));")
    return [v for v in result if v["impact"] in ("serious", "critical")]


# Every word in the page's text (outside code and preformatted values, which may wrap anywhere) whose letters
# lie on more than one line: a header or a word broken across lines
BROKEN_WORDS = """
const broken = [];
const walker = document.createTreeWalker(document.querySelector(arguments[0]), NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const el = node.parentElement;
  if (!el || el.closest('code, pre, .hash, .sr-only, [hidden], details:not([open]) > :not(summary)')) continue;
  if (!el.getClientRects().length) continue;
  for (const m of node.data.matchAll(/\\S+/g)) {
    const range = document.createRange();
    range.setStart(node, m.index);
    range.setEnd(node, m.index + m[0].length);
    const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top / 4)));
    if (tops.size > 1) broken.push(m[0]);
  }
}
return broken;
"""


def broken_words(driver, selector: str = "body") -> list[str]:
    return driver.execute_script(BROKEN_WORDS, selector)


def sideways(driver) -> list[int]:
    """[scrollWidth, clientWidth] of the page: the first above the second means it scrolls sideways."""
    return driver.execute_script("return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
