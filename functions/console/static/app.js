// Entry point: sign in, then route on the URL's hash (#/ the tenant overview, #/tenants/1, #/tenants/1/runs/5,
// #/tenants/1/inventory?type=…, #/tenants/1/items/7, #/tenants/1/audit). The widget runs beside every page.
import { Api, ApiError } from "./api.js";
import { signIn } from "./auth.js";
import { h, replace } from "./dom.js";
import { overviewPage } from "./overview.js";
import { auditPage, inventoryPage, itemPage, tenantPage } from "./pages.js";
import { runPage } from "./run.js";
import { Widget } from "./widget.js";

const main = document.getElementById("main");
const alertBox = document.getElementById("alert");

function showProblem(err) {
  const problem = err instanceof ApiError ? err.problem : { title: "Something went wrong", detail: String(err.message || err) };
  const details = Array.isArray(problem.errors) ? problem.errors : [];
  replace(alertBox,
    h("h2", {}, problem.title || "Error", err.status ? ` (${err.status})` : ""),
    problem.detail ? h("p", {}, problem.detail) : null,
    details.length ? h("ul", {}, details.map((e) => h("li", {}, [e.field || e.loc, e.message || e.msg].filter(Boolean).join(": ")))) : null,
    h("button", { type: "button", class: "dismiss", onclick: () => { alertBox.hidden = true; } }, "Dismiss"));
  alertBox.hidden = false;
}

async function start() {
  let session;
  try {
    session = await signIn();
  } catch (err) {
    replace(main, h("h1", {}, "Sign-in failed"), h("p", {}, String(err.message || err)));
    return;
  }
  const who = document.getElementById("who");
  if (!session.signedIn) {
    replace(main, h("h1", {}, "Inventory Sync"),
      session.signIn ? [h("p", {}, "Sign in with your organisation account to see your tenants."),
        h("button", { type: "button", id: "sign-in", onclick: () => session.signIn() }, "Sign in")]
        : h("p", {}, session.message));
    return;
  }
  replace(who, h("span", {}, session.name, session.mode === "development" ? " (local development token)" : ""),
    session.signOut ? h("button", { type: "button", onclick: () => session.signOut() }, "Sign out") : null);

  const api = new Api(session.getToken);
  let tenants = new Map();
  let registry = null;
  let listeners = new AbortController();
  const ctx = {
    api,
    problem: showProblem,
    async loadTenants() {
      const found = new Map();
      let cursor = null;
      do {
        const page = await api.get(`/tenants?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
        for (const t of page.items) found.set(t.id, t);
        cursor = page.next_cursor;
      } while (cursor);
      tenants = found;
      return tenants;
    },
    async tenant(id) {
      if (!tenants.has(id)) await ctx.loadTenants();
      if (!tenants.has(id)) throw new ApiError(404, { title: "Not Found", detail: `tenant ${id} not found` });
      return tenants.get(id);
    },
    async policyTypes() {
      registry = registry || await api.get("/policy-types");
      ctx.types = new Map(registry.policy_types.map((t) => [t.key, t]));
      ctx.registry = registry;
      return registry;
    },
    on(type, handler) { document.addEventListener(type, handler, { signal: listeners.signal }); },
  };
  ctx.widget = new Widget(document.getElementById("widget"), api, () => tenants, showProblem);

  let routing = 0; // the latest navigation: a page still loading when another starts is dropped
  async function route(event) {
    if (location.hash && !location.hash.startsWith("#/")) return; // an in-page anchor, not a page
    const current = ++routing;
    listeners.abort();
    listeners = new AbortController();
    alertBox.hidden = true;
    const [path, query] = (location.hash.replace(/^#/, "") || "/").split("?");
    const params = new URLSearchParams(query || "");
    const parts = path.split("/").filter(Boolean);
    const id = (s) => (/^[0-9]+$/.test(s || "") ? Number(s) : NaN);
    let view;
    try {
      if (parts.length === 0) view = await overviewPage(ctx);
      else if (parts[0] === "tenants" && parts.length === 2 && id(parts[1])) view = await tenantPage(ctx, id(parts[1]));
      else if (parts[0] === "tenants" && parts[2] === "runs" && id(parts[3]) && parts.length === 4) view = await runPage(ctx, id(parts[1]), id(parts[3]), params);
      else if (parts[0] === "tenants" && parts[2] === "inventory" && parts.length === 3) view = await inventoryPage(ctx, id(parts[1]), params);
      else if (parts[0] === "tenants" && parts[2] === "items" && id(parts[3])) view = await itemPage(ctx, id(parts[1]), id(parts[3]));
      else if (parts[0] === "tenants" && parts[2] === "audit" && parts.length === 3) view = await auditPage(ctx, id(parts[1]));
      else view = [h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/" }, "Back to your tenants"))];
    } catch (err) {
      showProblem(err);
      view = [h("h1", {}, "This page could not be shown"), h("p", {}, h("a", { href: "#/" }, "Back to your tenants"))];
    }
    if (current !== routing) return;
    replace(main, view);
    main.dataset.route = location.hash || "#/";
    document.title = `${main.querySelector("h1")?.textContent || "Console"} — Inventory Sync`;
    if (event) {
      window.scrollTo(0, 0); // a new page opens at its top
      main.focus({ preventScroll: true }); // after a navigation (not the first load): read from the new page
    }
  }

  window.addEventListener("hashchange", route);
  document.getElementById("skip").addEventListener("click", (ev) => {
    ev.preventDefault(); // the URL's hash is the page's route: move focus without changing it
    main.focus();
  });
  await Promise.all([ctx.loadTenants(), ctx.policyTypes()]).catch(showProblem);
  ctx.widget.start();
  await route();
  document.body.dataset.ready = "true";
}

start();
