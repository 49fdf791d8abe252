"""The console and its progress widget in headless Chromium against `invsync local up`."""

from __future__ import annotations

import json
import re
import time

import pytest

from inventory_sync.domain.registry import BY_KEY
from invsync_dev.local.dev_jwt import DevSigner
from tests.browser.conftest import QUEUE_DELAY, SCREENSHOTS, Console, csp_violations, wait

pytestmark = pytest.mark.browser

RECORDER = """
window.__seen = [];
const record = () => document.querySelectorAll('#widget [data-operation]').forEach((card) => {
  const entry = [card.dataset.operation, card.dataset.status, (card.querySelector('.op-counts') || {}).textContent];
  const last = window.__seen.filter((e) => e[0] === entry[0]).pop();
  if (!last || last[1] !== entry[1] || last[2] !== entry[2]) window.__seen.push(entry);
});
new MutationObserver(record).observe(document.getElementById('widget'),
  {subtree: true, childList: true, attributes: true, characterData: true});
record();
"""


def open_console(driver, console: Console, route: str = "") -> None:
    """A fresh page load (a changed hash alone would not reload it)."""
    driver.get("about:blank")
    driver.get(console.url + route)
    wait(lambda: driver.execute_script("return document.body.dataset.ready === 'true'"), 30, "console ready")


def card(driver, op_id: int) -> dict[str, str] | None:
    return driver.execute_script(
        "const c = document.querySelector(`#widget [data-operation='${arguments[0]}']`);"
        "return c ? {status: c.dataset.status, text: c.innerText} : null;", str(op_id))


def dispatch_from_page(driver) -> int:
    button = wait(lambda: driver.find_elements("id", "sync-now"), 30,
                  "the Sync now button: " + driver.find_element("tag name", "body").text)[0]
    button.click()
    text = wait(lambda: driver.find_element("css selector", ".sync .result").text, 30, "dispatch answer")
    assert text.startswith("Dispatched: bulk operation "), text
    return int(text.split("bulk operation ")[1].split(",")[0])


def test_sync_now_moves_the_widget_through_pending_running_completed(driver, console: Console) -> None:
    console.graph_control("config", {"latency_ms": 1500})  # a sync of ~10 s (batches in flight): counts move on screen
    try:
        open_console(driver, console, f"#/tenants/{console.tenant_id}")
        driver.execute_script(RECORDER)
        op_id = dispatch_from_page(driver)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        running = wait(lambda: (c := card(driver, op_id)) and c["status"] == "running" and " 0 items" not in c["text"]
                       and c, 120, lambda: f"the run with items seen: {driver.execute_script('return window.__seen')}")
        driver.save_screenshot(str(SCREENSHOTS / "widget-running.png"))
        final = wait(lambda: (c := card(driver, op_id)) and c["status"] not in ("pending", "running") and c, 180,
                     "a terminal status")
        driver.save_screenshot(str(SCREENSHOTS / "widget-completed.png"))
    finally:
        console.graph_control("config", {"latency_ms": 0})
    assert final["status"] == "completed", final
    assert "✓ Completed" in final["text"]
    assert re.search(r"no changes|\d+ (added|changed|deleted|restored)", final["text"]), final["text"]
    assert "Running" in running["text"] and "Cancel" in running["text"]

    seen = [(status, counts) for op, status, counts in driver.execute_script("return window.__seen")
            if op == str(op_id)]
    statuses = [s for s, _ in seen]
    assert statuses[0] == "pending", seen
    assert statuses.index("pending") < statuses.index("running") < statuses.index("completed"), seen
    live_counts = {counts for status, counts in seen if status == "running"}
    assert len(live_counts) >= 2, seen  # the counts moved while it ran, not only at the end
    _, operation, _ = console.call("GET", f"/bulk-operations/{op_id}")
    total = operation["run"]["progress"]["types_total"]
    assert f"{total} / {total} types" in final["text"]
    assert f"Run {operation['run']['id']} · started" in final["text"]  # the card names its run and time

    # the runs list refreshed by itself, and the inventory is filled
    wait(lambda: driver.find_elements("css selector", f".runs tr[data-run='{operation['run']['id']}']"
                                                      "[data-status='success']"), 30, "the run in the runs list")
    driver.find_element("link text", "Inventory").click()
    wait(lambda: driver.find_element("tag name", "h1").text.startswith("Inventory"), 30, "inventory page")
    rows = wait(lambda: driver.find_elements("css selector", ".items tbody tr th a"), 30, "inventory rows")
    first_name = next(row.text for row in rows if not row.text.startswith("Unnamed "))  # unnamed: by Graph id
    assert len(rows) == 50 and driver.find_element("css selector", "button.more").is_displayed()
    search = driver.find_element("id", "q")
    search.send_keys(first_name)
    search.submit()
    wait(lambda: "matching" in driver.find_element("id", "items-title").text, 30, "search results")
    names = [a.text for a in driver.find_elements("css selector", ".items tbody tr th a")]
    assert names and all(first_name.lower() in n.lower() for n in names), names
    driver.find_element("link text", names[0]).click()
    wait(lambda: driver.find_element("tag name", "h1").text == names[0], 30, "item detail")
    payload = json.loads(driver.find_element("css selector", "pre.payload").get_attribute("textContent"))
    assert payload.get("displayName", payload.get("name")) == names[0]
    assert not csp_violations(driver)


def test_a_type_graph_refuses_shows_completed_with_errors_and_the_permission(driver, console: Console) -> None:
    console.graph_control("faults", {"policy_type": "mobileApp", "status": 403})
    try:
        open_console(driver, console, f"#/tenants/{console.tenant_id}")
        op_id = dispatch_from_page(driver)
        final = wait(lambda: (c := card(driver, op_id)) and c["status"] not in ("pending", "running") and c, 180,
                     "a terminal status")
    finally:
        console.graph_control("faults", {"clear": True})
    assert final["status"] == "completed_with_errors", final
    assert "⚠ Completed with errors" in final["text"]
    permission = BY_KEY["mobileApp"].permission
    assert "mobileApp: " in final["text"] and f"grant the app {permission}" in final["text"], final["text"]
    run_row = wait(lambda: driver.find_elements("css selector", ".runs tr[data-status='partial']"), 30, "partial run")
    assert permission in run_row[0].text


def test_cancel_of_a_pending_operation_shows_aborted(driver, console: Console) -> None:
    open_console(driver, console, f"#/tenants/{console.tenant_id}")
    # a chosen selection this time: the Scripts category and one policy type of another
    driver.find_element("css selector", "input[name=scope][value=chosen]").click()
    driver.find_element("css selector", "input[name=category][value=Scripts]").click()
    driver.find_element("css selector", "input[name=policy_type][value=mobileApp]").click()
    op_id = dispatch_from_page(driver)
    scripts = sorted(t.key for t in BY_KEY.values() if t.category == "Scripts" and not t.foundation)
    assert f"bulk operation {op_id}, {len(scripts) + 1} policy types" in driver.find_element(
        "css selector", ".sync .result").text
    wait(lambda: (c := card(driver, op_id)) and c["status"] == "pending", 10, "the pending operation")
    driver.find_element("css selector", f"#widget [data-operation='{op_id}'] button.cancel").click()
    final = wait(lambda: (c := card(driver, op_id)) and c["status"] == "aborted" and c, 30, "aborted")
    assert "⊘ Aborted" in final["text"] and "Cancel" not in final["text"]
    time.sleep(QUEUE_DELAY + 3)  # the queued message is delivered now: the run_sync worker must not run it
    _, operation, _ = console.call("GET", f"/bulk-operations/{op_id}")
    assert operation["status"] == "aborted" and operation["run"] is None, operation
    assert card(driver, op_id)["status"] == "aborted"  # still visible with its outcome


def test_a_reader_sees_no_sync_now_and_the_api_refuses_them_anyway(driver, console: Console) -> None:
    status, body, _ = console.call("PUT", f"/tenants/{console.tenant_id}/members",
                                   {"subject": "reader-ann", "email": "ann@contoso-demo.example",
                                    "name": "Ann Reader", "role": "reader"})
    assert status in (200, 201), body
    token = DevSigner(console.data_dir / "dev-jwt-key.pem").token("reader-ann", "ann@contoso-demo.example",
                                                                   "Ann Reader")
    open_console(driver, console)
    driver.execute_script("sessionStorage.setItem('invsync.devToken', arguments[0])", token)
    open_console(driver, console, f"#/tenants/{console.tenant_id}")
    assert "Ann Reader" in driver.find_element("id", "who").text
    wait(lambda: driver.find_elements("css selector", ".runs table"), 30, "the runs list")
    assert driver.find_elements("id", "sync-now") == []
    assert "reader" in driver.find_element("css selector", "p.note").text
    # the button is absent, and the API refuses the request the button would have sent
    answer = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(`/tenants/${arguments[0]}/inventory-syncs`, {method: 'POST', body: '{}', headers: "
        "{Authorization: `Bearer ${arguments[1]}`, 'Content-Type': 'application/json'}})"
        ".then(async (r) => done([r.status, await r.json()]));", console.tenant_id, token)
    assert answer[0] == 403 and answer[1]["status"] == 403, answer
    _, ops, _ = console.call("GET", "/bulk-operations?status=active", token=token)
    assert ops["items"] == []


def test_keyboard_only_and_400_percent_zoom(driver, console: Console) -> None:
    from selenium.webdriver.common.keys import Keys

    open_console(driver, console, f"#/tenants/{console.tenant_id}")
    body = driver.find_element("tag name", "body")
    body.send_keys(Keys.TAB)
    active = driver.switch_to.active_element
    assert active.text == "Skip to content"
    active.send_keys(Keys.ENTER)
    assert driver.switch_to.active_element.get_attribute("id") == "main"
    reached = []
    for _ in range(40):
        driver.switch_to.active_element.send_keys(Keys.TAB)
        element = driver.switch_to.active_element
        reached.append(element.get_attribute("id") or element.text)
        if element.text == "Audit trail":
            break
    assert "Audit trail" in reached, reached
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    wait(lambda: driver.find_element("tag name", "h1").text.startswith("Audit trail"), 30, "audit page by keyboard")
    caption = wait(lambda: driver.find_element("css selector", "main table caption").text, 30, "the audit table")
    assert caption == "Who did what, newest first"
    # keyboard focus is visible
    outline = driver.execute_script("const a = document.querySelector('.tabs a'); a.focus();"
                                    "return getComputedStyle(a).outlineStyle")
    assert outline != "none"

    # 400% zoom of a 1280 x 900 window: the page reflows into 320 CSS pixels without sideways scrolling,
    # and the widget stops floating over the content
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 320, "height": 225, "deviceScaleFactor": 4, "mobile": False})
    try:
        for route in (f"#/tenants/{console.tenant_id}", f"#/tenants/{console.tenant_id}/inventory", "#/"):
            open_console(driver, console, route)
            wait(lambda: driver.find_elements("css selector", "main h1"), 30, route)
            width = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], (route, width)
        assert driver.execute_script(
            "return getComputedStyle(document.getElementById('widget')).position") == "static"
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
