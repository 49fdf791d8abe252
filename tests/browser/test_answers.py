"""The console answers an operator's questions (what changed, which tenants need me), readable at 1366 and 390 px,
checked by axe-core on every page. Runs against `invsync local up --demo-data`: the demo tenant synced twice with
one settings-catalog setting changed, Fabrikam partial (its app may not read mobile apps), Northwind failed."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from inventory_sync.domain.registry import BY_KEY
from tests.browser.conftest import SCREENSHOTS, Console, axe_violations, broken_words, csp_violations, sideways, wait

pytestmark = pytest.mark.browser

WIDE, NARROW = 1366, 390
SETTING = "device_vendor_msft_policy_config_area1_setting0_group_mode"  # the seeded change (stack.SEED_CHANGED)


def open_page(driver, console: Console, route: str) -> None:
    driver.get("about:blank")
    driver.get(console.url + route)
    wait(lambda: driver.execute_script("return document.body.dataset.ready === 'true'"), 30, f"console ready {route}")
    wait(lambda: driver.find_elements("css selector", "main h1"), 30, route)


def width(driver, pixels: int) -> None:
    driver.set_window_size(pixels, 900)
    wait(lambda: driver.execute_script("return window.innerWidth") == pixels, 10, f"window of {pixels} px")


def shoot(driver, name: str) -> None:
    """The whole page (the window grown to its height) into .artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = driver.get_window_size()
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(size["width"], min(max(height + 140, 600), 3000))
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    driver.set_window_size(size["width"], size["height"])


def tenants_by_name(console: Console) -> dict[str, dict]:
    _, page, _ = console.call("GET", "/tenants?limit=200")
    return {t["name"].split(" ")[0]: t for t in page["items"]}


def changed_run(console: Console) -> tuple[int, dict]:
    """The seeded run of the demo tenant with the changed setting, and its change record."""
    _, runs, _ = console.call("GET", f"/tenants/{console.tenant_id}/inventory-syncs?limit=50")
    for run in runs["items"]:
        if run["changes"]["changed"]:
            _, changes, _ = console.call("GET", f"/tenants/{console.tenant_id}/inventory-syncs/{run['id']}/changes"
                                                "?change=changed")
            return run["id"], changes["items"][0]
    raise AssertionError(f"no run with a changed item: {runs}")


def test_overview_shows_tenants_in_their_states_and_syncs_two_selected(driver, console: Console) -> None:
    width(driver, WIDE)
    open_page(driver, console, "#/")
    rows = wait(lambda: driver.find_elements("css selector", "main tbody tr[data-tenant]"), 30, "tenant rows")
    states = {r.find_element("css selector", "th").text.split(" ")[0]: (r.get_attribute("data-status"), r.text)
              for r in rows}
    assert {name: s for name, (s, _) in states.items()} == {
        "Contoso": "success", "Fabrikam": "partial", "Northwind": "failed"}, states
    permission = BY_KEY["mobileApp"].permission
    assert "✓ Completed" in states["Contoso"][1] and "changed" in states["Contoso"][1]
    assert "⚠ Completed with errors" in states["Fabrikam"][1] and permission in states["Fabrikam"][1]
    assert "✕ Failed" in states["Northwind"][1] and permission not in states["Northwind"][1]
    assert re.search(r"ago", states["Contoso"][1]), states["Contoso"][1]  # how long ago, beside when
    assert "2 need attention" in driver.find_element("css selector", ".lead").text
    shoot(driver, "overview-1366")

    # filter: only the ones needing attention
    driver.find_element("css selector", "#tenant-filter option[value=attention]").click()
    names = [e.text for e in driver.find_elements("css selector", "main tbody th a")]
    assert sorted(n.split(" ")[0] for n in names) == ["Fabrikam", "Northwind"], names
    driver.find_element("css selector", "#tenant-filter option[value=all]").click()

    tenants = tenants_by_name(console)
    before = {n: console.call("GET", f"/tenants/{tenants[n]['id']}/inventory-syncs?limit=50")[1]["items"]
              for n in ("Contoso", "Fabrikam")}
    for name in ("Contoso", "Fabrikam"):
        driver.find_element("css selector", f"tr[data-tenant='{tenants[name]['id']}'] input[type=checkbox]").click()
    button = driver.find_element("id", "sync-selected")
    assert button.text == "Sync selected (2)"
    button.click()
    result = wait(lambda: driver.find_element("css selector", ".actions .result").text, 30, "dispatch answer")
    assert result.startswith("Dispatched 2 syncs"), result
    ops = [int(n) for n in re.findall(r"operation (\d+)", result)]
    assert len(ops) == 2, result

    def cards():
        return driver.execute_script(
            "return [...document.querySelectorAll('#widget [data-operation]')].map((c) => "
            "[Number(c.dataset.operation), c.dataset.status, c.innerText]);")

    final = wait(lambda: (found := {op: (s, t) for op, s, t in cards() if op in ops}) and len(found) == 2
                 and all(s not in ("pending", "running") for s, _ in found.values()) and found, 120,
                 lambda: f"both operations finished: {cards()}")
    texts = " | ".join(t for _, t in final.values())
    assert "Contoso" in texts and "Fabrikam" in texts, texts
    assert sorted(s for s, _ in final.values()) == ["completed", "completed_with_errors"], final
    assert re.search(r"Run \d+ · started", texts), texts  # each card names its run and time
    for name in ("Contoso", "Fabrikam"):  # one dispatch each: one new run each
        after = console.call("GET", f"/tenants/{tenants[name]['id']}/inventory-syncs?limit=50")[1]["items"]
        assert len(after) == len(before[name]) + 1, (name, after[0])
    # the widget keeps room for itself: nothing of the page lies under it
    overlap = driver.execute_script(
        "const w = document.getElementById('widget').getBoundingClientRect();"
        "const m = document.querySelector('main').getBoundingClientRect();"
        "return w.width > 0 && m.right > w.left + 1;")
    assert not overlap
    assert not csp_violations(driver)


def test_the_changed_setting_shows_old_to_new_on_its_run_page_and_in_the_item_history(driver,
                                                                                        console: Console) -> None:
    run_id, change = changed_run(console)
    width(driver, WIDE)
    open_page(driver, console, f"#/tenants/{console.tenant_id}/runs/{run_id}")
    line = wait(lambda: driver.find_element("css selector", ".change[data-change=changed] .diff-line").text, 30,
                "the changed setting")
    assert line == f"{SETTING}: “1” → “2”", line  # where: old → new, in words
    assert driver.find_element("css selector", ".change[data-change=changed] details.raw summary").text == "JSON Patch"
    assert "Completed" in driver.find_element("css selector", ".fields").text
    shoot(driver, "run-1366")
    # the change set filtered by kind: the one changed item only
    driver.find_element("css selector", "#change-kind option[value=changed]").click()
    driver.find_element("css selector", "form.search button[type=submit]").click()
    wait(lambda: "change=changed" in (driver.find_element("tag name", "main").get_attribute("data-route") or ""), 30,
         "the filtered change set drawn")
    assert [a.get_attribute("data-change") for a in driver.find_elements("css selector", "article.change")] == [
        "changed"]
    assert driver.execute_script("return window.scrollY") == 0

    driver.find_element("css selector", "article.change h3 a").click()
    wait(lambda: f"/items/{change['inventory_item_id']}" in driver.current_url, 10, "the item page")
    entry = wait(lambda: driver.find_element("css selector", f"details.history-entry[data-run='{run_id}']"), 30,
                 lambda: f"the history entry: {driver.find_element('tag name', 'body').text[:3000]}")
    if entry.get_attribute("open") is None:  # the newest change opens by itself; an older one on a click
        entry.find_element("tag name", "summary").click()
    assert entry.find_element("css selector", ".diff-line").text == line
    assert entry.find_element("link text", f"Run {run_id}")
    shoot(driver, "item-diff-1366")

    width(driver, NARROW)
    for route, name in ((f"#/tenants/{console.tenant_id}/runs/{run_id}", "run-390"),
                        (f"#/tenants/{console.tenant_id}/items/{change['inventory_item_id']}", "item-diff-390"),
                        ("#/", "overview-390")):
        open_page(driver, console, route)
        wait(lambda: driver.find_elements("css selector", ".diff-line, tbody tr[data-tenant]"), 30, route)
        shoot(driver, name)


def test_the_partial_run_names_the_permission_and_checks_again(driver, console: Console) -> None:
    fabrikam = tenants_by_name(console)["Fabrikam"]
    run = fabrikam["last_run"] if "last_run" in fabrikam else console.call(
        "GET", f"/tenants/{fabrikam['id']}/inventory-syncs?limit=1")[1]["items"][0]
    width(driver, WIDE)
    open_page(driver, console, f"#/tenants/{fabrikam['id']}/runs/{run['id']}")
    errors = driver.find_element("css selector", "section.errors").text
    permission = BY_KEY["mobileApp"].permission
    assert f"grant the app {permission}" in errors, errors
    driver.find_element("id", "check-permissions").click()
    answer = wait(lambda: (t := driver.find_element("css selector", ".check-result").text) and "Checking" not in t
                  and t, 60, "the permission check")
    assert answer.startswith("Still missing: ") and permission in answer, answer


PAGES = ("#/", "#/tenants/{t}", "#/tenants/{t}/runs/{run}", "#/tenants/{t}/inventory",
         "#/tenants/{t}/inventory?deleted=1&category=Configuration", "#/tenants/{t}/items/{item}",
         "#/tenants/{t}/audit")


@pytest.mark.parametrize("pixels", [WIDE, NARROW])
def test_every_page_reads_without_sideways_scroll_or_broken_words_and_axe_finds_nothing_serious(
        driver, console: Console, pixels: int) -> None:
    run_id, change = changed_run(console)
    width(driver, pixels)
    problems: list[tuple[str, str, object]] = []
    for template in PAGES:
        route = template.format(t=console.tenant_id, run=run_id, item=change["inventory_item_id"])
        open_page(driver, console, route)
        wait(lambda: not driver.find_elements("css selector", "main > p:only-child"), 10, "the page drawn")
        driver.execute_script("document.querySelectorAll('main details').forEach((d) => { d.open = true; });")
        if pixels == NARROW and (size := sideways(driver))[0] > size[1]:
            problems.append((route, "scrolls sideways", size))
        if pixels == WIDE and (words := broken_words(driver, "main")):
            problems.append((route, "words broken across lines", words[:10]))
        if violations := axe_violations(driver):
            problems.append((route, "axe", violations))
    if pixels == WIDE:  # dark mode (prefers-color-scheme): the same checks of colour contrast on two pages
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme",
                                                                             "value": "dark"}]})
        try:
            for route in ("#/", f"#/tenants/{console.tenant_id}/runs/{run_id}"):
                open_page(driver, console, route)
                dark = driver.execute_script("return getComputedStyle(document.documentElement).backgroundColor")
                if dark != "rgb(22, 22, 26)":
                    problems.append((route, "not dark", dark))
                if violations := axe_violations(driver):
                    problems.append((route + " (dark)", "axe", violations))
        finally:
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    assert not problems, "\n".join(json.dumps(p, ensure_ascii=False) for p in problems)


def test_an_exported_csv_parses_and_has_as_many_rows_as_the_api_reports(driver, console: Console) -> None:
    width(driver, WIDE)
    open_page(driver, console, f"#/tenants/{console.tenant_id}/audit")
    # the console's own download: what its Export CSV button fetches, read back as the file's text
    driver.execute_script(
        "window.__saved = null; URL.createObjectURL = ((make) => (blob) => { blob.text().then((t) => "
        "{ window.__saved = t; }); return make(blob); })(URL.createObjectURL);")
    driver.find_element("css selector", "button[data-export=csv]").click()
    text = wait(lambda: driver.execute_script("return window.__saved"), 30, "the exported file")
    rows = list(csv.DictReader(io.StringIO(text)))
    total, cursor = 0, None
    while True:
        _, page, _ = console.call("GET", f"/tenants/{console.tenant_id}/audit-logs?limit=200"
                                         + (f"&cursor={cursor}" if cursor else ""))
        total += len(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(rows) == total and total > 0, (len(rows), total)
    assert "action" in rows[0], rows[0]
