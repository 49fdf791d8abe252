// The console's tenant pages: Sync and runs, inventory, an item (with its history as diffs), the audit trail;
// and what they share (the tenant's header and tabs, the admin center's names of types, export buttons).
import { changeDetail, kindBadge } from "./diff.js";
import { cell, duration, h, replace, saveFile, table, when } from "./dom.js";
import { canSync } from "./overview.js";
import { badge, nextStep, typeErrors } from "./status.js";

const enc = encodeURIComponent;

// The Intune admin center's name of a policy type (GET /policy-types `display_name`), else its key; its hyphens
// do not break ("(user‑initiated)" stays one word on its line)
export function typeName(ctx, key) {
  const t = ctx.types && ctx.types.get(key);
  return ((t && t.display_name) || key).replace(/-/g, "\u2011");
}

function tenantNav(tenant, current) {
  const link = (href, text, key) => h("a", { href, "aria-current": current === key ? "page" : null }, text);
  return h("nav", { class: "tabs", "aria-label": `${tenant.name}` },
    link(`#/tenants/${tenant.id}`, "Sync and runs", "runs"),
    link(`#/tenants/${tenant.id}/inventory`, "Inventory", "inventory"),
    link(`#/tenants/${tenant.id}/audit`, "Audit trail", "audit"));
}

export function header(tenant, current, title) {
  return [h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Tenants"), " / ", tenant.name),
    h("h1", {}, title), tenantNav(tenant, current)];
}

// CSV and JSON downloads of an export route (the same filters as the page), every page of it in one file: the
// API answers page by page (X-Next-Cursor); CSV pages each repeat the header row, JSON pages each hold `items`
export function exportButtons(ctx, path, name, query) {
  const params = new URLSearchParams(query || "");
  for (const key of ["limit", "cursor", "sort", "order"]) params.delete(key);
  const out = h("span", { class: "muted", role: "status" });
  const whole = async (format) => {
    const parts = [];
    let cursor = null;
    do {
      const p = new URLSearchParams(params);
      p.set("format", format);
      if (cursor) p.set("cursor", cursor);
      const page = await ctx.api.exportPage(`${path}?${p}`);
      parts.push(page.text);
      cursor = page.next;
      replace(out, `${parts.length} page${parts.length === 1 ? "" : "s"} read…`);
    } while (cursor);
    if (format === "json") {
      const items = parts.flatMap((t) => JSON.parse(t).items);
      return new Blob([JSON.stringify({ items, count: items.length }, null, 2)], { type: "application/json" });
    }
    const body = parts.map((t, i) => (i === 0 ? t : t.slice(t.indexOf("\n") + 1))).join("");
    return new Blob([body], { type: "text/csv" });
  };
  const button = (format) => h("button", { type: "button", class: "secondary", dataset: { export: format },
    onclick: async (ev) => {
      const b = ev.currentTarget;
      b.disabled = true;
      try {
        saveFile(`${name}.${format}`, await whole(format));
        replace(out, "");
      } catch (err) {
        replace(out, "");
        ctx.problem(err);
      } finally {
        b.disabled = false;
      }
    } }, `Export ${format.toUpperCase()}`);
  return h("div", { class: "actions export" }, button("csv"), button("json"), out);
}

function runRow(tenant, run) {
  const p = run.progress || {};
  const c = run.changes || {};
  const errors = typeErrors(run);
  return h("tr", { dataset: { run: run.id, status: run.status } },
    cell("th", "Run", {}, h("a", { class: "nowrap", href: `#/tenants/${tenant.id}/runs/${run.id}` }, `Run ${run.id}`)),
    cell("td", "Outcome", {}, badge(run.status)), cell("td", "Trigger", {}, run.trigger || "—"),
    cell("td", "Started", {}, when(run.started_at, true)), cell("td", "Took", {}, duration(run.started_at, run.finished_at)),
    cell("td", "Types", { class: "num" }, `${p.types_done ?? "—"} / ${p.types_total ?? "—"}`),
    cell("td", "Items", { class: "num" }, String(run.items_observed_count)),
    cell("td", "Changes", { class: "num" }, `+${c.added || 0} ~${c.changed || 0} −${c.deleted || 0}`
      + (c.restored ? ` ↺${c.restored}` : "")),
    cell("td", "Errors", {}, errors.length ? h("ul", { class: "plain" }, errors.map((e) => h("li", {}, h("code", {}, e.key), ": ",
      e.permission ? ["grant ", h("strong", { class: "permission" }, e.permission)] : e.code || "error")))
      : (run.error_codes || []).length ? run.error_codes.map((code) => h("div", {}, h("code", {}, code), ": ", nextStep({ code }))) : "none"));
}

async function runsTable(ctx, tenant) {
  const page = await ctx.api.get(`/tenants/${tenant.id}/inventory-syncs?limit=20`);
  return table("Latest runs (open one for its changes)", ["Run", "Outcome", "Trigger", "Started", "Took", "Types",
    "Items", "Changes", "Errors"], page.items.map((run) => runRow(tenant, run)));
}

// A category in the picker syncs every type whose items the inventory lists under it (GET /policy-types
// `category_details`), so it syncs what the inventory shows there
/** An item's name; an object Graph gives no name (a branding profile without `profileName`) by its Graph id. */
function itemName(item) {
  return item.display_name || ["Unnamed ", h("code", {}, item.external_id)];
}

function categoryTypes(registry) {
  const byCategory = new Map(registry.categories.map((c) => [c, new Set()]));
  for (const t of registry.policy_types) byCategory.get(t.category)?.add(t.key);
  for (const c of registry.category_details || []) for (const key of c.policy_types) byCategory.get(c.key)?.add(key);
  return byCategory;
}

function categoryName(ctx, key) {
  const c = (ctx.registry?.category_details || []).find((d) => d.key === key);
  return ((c && c.display_name) || key).replace(/-/g, "\u2011");
}

async function syncForm(ctx, tenant) {
  const registry = await ctx.policyTypes();
  const enabled = new Map(registry.policy_types.filter((t) => t.enabled).map((t) => [t.key, t]));
  const byCategory = categoryTypes(registry);
  const result = h("p", { class: "result", role: "status" });
  const choose = h("fieldset", { class: "choose", hidden: true },
    h("legend", {}, "Categories and policy types"),
    registry.categories.map((category) => {
      const keys = [...byCategory.get(category)].filter((k) => enabled.has(k))
        .sort((a, b) => typeName(ctx, a).localeCompare(typeName(ctx, b)));
      if (!keys.length) return null;
      return h("div", { class: "category" },
        h("label", { class: "check" }, h("input", { type: "checkbox", name: "category", value: category }), ` ${categoryName(ctx, category)} (all)`),
        h("ul", {}, keys.map((key) => h("li", {}, h("label", { class: "check" },
          h("input", { type: "checkbox", name: "policy_type", value: key }),
          ` ${typeName(ctx, key)}`, enabled.get(key).foundation ? " (foundation)" : "")))));
    }));
  const form = h("form", { class: "sync", "aria-labelledby": "sync-title" },
    h("h2", { id: "sync-title" }, "Sync now"),
    h("fieldset", {}, h("legend", {}, "What to read from Microsoft Graph"),
      h("label", { class: "check" }, h("input", { type: "radio", name: "scope", value: "full", checked: true }),
        ` Full inventory (every enabled policy type: ${[...enabled.values()].filter((t) => !t.foundation).length}, and`
        + ` ${[...enabled.values()].filter((t) => t.foundation).length} foundations)`),
      h("label", { class: "check" }, h("input", { type: "radio", name: "scope", value: "chosen" }),
        " Chosen categories or policy types")),
    choose,
    h("button", { type: "submit", id: "sync-now" }, "Sync now"), result);
  form.addEventListener("change", () => { choose.hidden = form.elements.scope.value !== "chosen"; });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const body = {};
    if (data.get("scope") === "chosen") {
      // a ticked category means every type it shows, added to the types ticked one by one (the API's
      // `categories` would instead narrow `policy_types` down)
      const chosen = new Set(data.getAll("policy_type"));
      for (const category of data.getAll("category")) for (const key of byCategory.get(category)) if (enabled.has(key)) chosen.add(key);
      if (!chosen.size) {
        result.textContent = "Choose at least one category or policy type.";
        return;
      }
      body.policy_types = [...chosen].sort();
    }
    const button = form.querySelector("#sync-now");
    button.disabled = true;
    try {
      const answer = await ctx.api.post(`/tenants/${tenant.id}/inventory-syncs`, body);
      const op = answer.bulk_operation_run;
      // the selection lists the chosen types; the run also reads the foundations they rely on, and its progress
      // counts both
      result.textContent = `Dispatched: bulk operation ${op.id}, ${answer.selection.policy_types.length} policy types`
        + (answer.selection.include_foundations ? " plus the foundations they rely on (progress counts both)" : "")
        + (answer.ignored_policy_types.length ? ` (ignored, disabled here: ${answer.ignored_policy_types.join(", ")})` : "")
        + ". Progress is shown under Background work.";
      ctx.widget.kick(op.id);
    } catch (err) {
      ctx.problem(err);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

export async function tenantPage(ctx, tenantId) {
  const tenant = await ctx.tenant(tenantId);
  const runs = h("section", { class: "runs", "aria-labelledby": "runs-title" },
    h("h2", { id: "runs-title" }, "Runs"), await runsTable(ctx, tenant));
  let refreshing = false;
  ctx.on("invsync:operation", async (ev) => {
    if (ev.detail.tenant_id !== tenant.id || refreshing) return;
    refreshing = true;
    try { replace(runs, h("h2", { id: "runs-title" }, "Runs"), await runsTable(ctx, tenant)); }
    catch (err) { ctx.problem(err); }
    finally { refreshing = false; }
  });
  const sync = canSync(tenant) ? await syncForm(ctx, tenant)
    : h("p", { class: "note" }, `Your role here is ${tenant.role}: you can read the inventory; an owner or operator starts syncs.`);
  return [...header(tenant, "runs", tenant.name), sync, runs];
}

const ITEM_COLUMNS = [["Name", "display_name"], ["Type", "policy_type"], ["Category", "category"], ["Platform", "platform"],
  ["Assigned", null], ["Last seen", "last_seen_at"], ["State", null]];
const FILTER_KEYS = ["category", "type", "q", "deleted", "platform", "assigned", "since", "sort", "order"];

export async function inventoryPage(ctx, tenantId, params) {
  const tenant = await ctx.tenant(tenantId);
  const [, summary] = await Promise.all([ctx.policyTypes(), ctx.api.get(`/tenants/${tenant.id}/inventory-summary`)]);
  const state = Object.fromEntries(FILTER_KEYS.map((k) => [k, params.get(k) || ""]));
  const { category, type, q } = state;
  const deleted = state.deleted === "1";
  const link = (p) => `#/tenants/${tenant.id}/inventory?${new URLSearchParams(Object.entries(p).filter(([, v]) => v))}`;
  const keep = { deleted: state.deleted, platform: state.platform, assigned: state.assigned, since: state.since };
  // counted where the items are listed: each item in one category, so a category lists what its count says
  const perCategory = new Map();
  for (const row of summary.policy_types) {
    const c = row.category || "Other";
    const types = perCategory.get(c) || new Map();
    types.set(row.policy_type, (types.get(row.policy_type) || 0) + row.items + (deleted ? row.deleted : 0));
    perCategory.set(c, types);
  }
  const categories = [...ctx.registry.categories, ...[...perCategory.keys()].filter((c) => !ctx.registry.categories.includes(c))];
  const facets = categories.map((c) => {
    const types = perCategory.get(c) || new Map();
    const total = [...types.values()].reduce((n, v) => n + v, 0);
    return h("li", {}, h("a", { href: link({ ...keep, category: c }), "aria-current": category === c && !type ? "page" : null },
      `${categoryName(ctx, c)} (${total})`),
      category === c ? h("ul", {}, [...types.keys()].sort((a, b) => typeName(ctx, a).localeCompare(typeName(ctx, b)))
        .map((key) => h("li", {}, h("a", { href: link({ ...keep, category: c, type: key }), "aria-current": type === key ? "page" : null },
          `${typeName(ctx, key)} (${types.get(key)})`)))) : null);
  });
  const platforms = ["windows", "macOS", "iOS", "android", "linux"];
  const search = h("form", { role: "search", class: "search" },
    h("label", { for: "q" }, "Name or Graph id"),
    h("input", { id: "q", name: "q", type: "search", value: q, maxlength: 200 }),
    h("label", { for: "platform" }, "Platform"),
    h("select", { id: "platform", name: "platform" }, h("option", { value: "" }, "any"),
      platforms.map((p) => h("option", { value: p, selected: state.platform === p }, p))),
    h("label", { for: "assigned" }, "Assigned"),
    h("select", { id: "assigned", name: "assigned" }, h("option", { value: "" }, "either"),
      h("option", { value: "true", selected: state.assigned === "true" }, "assigned"),
      h("option", { value: "false", selected: state.assigned === "false" }, "not assigned")),
    h("label", { for: "since" }, "Changed since"),
    h("input", { id: "since", name: "since", type: "date", value: state.since }),
    h("label", { class: "check inline" }, h("input", { type: "checkbox", name: "deleted", id: "show-deleted", checked: deleted }),
      " Show deleted"),
    h("button", { type: "submit" }, "Search"));
  const go = (extra = {}) => {
    const f = search.elements;
    location.hash = link({ category, type, q: f.q.value.trim(), platform: f.platform.value, assigned: f.assigned.value,
      since: f.since.value, deleted: f.deleted.checked ? "1" : "", sort: state.sort, order: state.order, ...extra });
  };
  search.addEventListener("submit", (ev) => { ev.preventDefault(); go(); });
  search.elements.deleted.addEventListener("change", () => go());
  const query = new URLSearchParams({ limit: "50" });
  if (type) query.set("policy_type", type); else if (category) query.set("category", category);
  if (q) query.set("q", q);
  if (deleted) query.set("include_deleted", "true");
  if (state.platform) query.set("platform", state.platform);
  if (state.assigned) query.set("assigned", state.assigned);
  if (state.since) query.set("changed_since", new Date(`${state.since}T00:00:00`).toISOString());
  const sortKey = ITEM_COLUMNS.some(([, k]) => k && k === state.sort) ? state.sort : "display_name";
  query.set("sort", sortKey);
  query.set("order", state.order === "desc" ? "desc" : "asc");
  const body = [];
  const area = h("div");
  const more = h("button", { type: "button", class: "more", hidden: true }, "Load more");
  let cursor = null;
  const sortable = { keys: ITEM_COLUMNS.map(([, k]) => k), current: { key: sortKey, desc: state.order === "desc" },
    onSort: (key) => go({ sort: key, order: sortKey === key && state.order !== "desc" ? "desc" : "asc" }) };
  const load = async () => {
    const page = await ctx.api.get(`/tenants/${tenant.id}/inventory-items?${query}${cursor ? `&cursor=${enc(cursor)}` : ""}`);
    for (const item of page.items) {
      body.push(h("tr", { dataset: { deleted: item.deleted_at ? "true" : "false" } },
        cell("th", "Name", {}, h("a", { href: `#/tenants/${tenant.id}/items/${item.id}` }, itemName(item))),
        cell("td", "Type", {}, typeName(ctx, item.policy_type)), cell("td", "Category", {}, item.category ? categoryName(ctx, item.category) : "—"),
        cell("td", "Platform", {}, item.platform || "—"), cell("td", "Assigned", {}, item.assigned ? "yes" : "no"),
        cell("td", "Last seen", {}, when(item.last_seen_at)),
        cell("td", "State", {}, item.deleted_at ? ["deleted ", when(item.deleted_at)] : "in the tenant")));
    }
    cursor = page.next_cursor;
    more.hidden = !cursor;
    replace(area, table(type ? typeName(ctx, type) : category || "All items", ITEM_COLUMNS.map(([t]) => t), body,
      { captionHidden: true, sortable }));
    if (!body.length) replace(area.querySelector("tbody"), h("tr", {}, h("td", { colspan: ITEM_COLUMNS.length }, "No items match.")));
  };
  more.addEventListener("click", () => load().catch(ctx.problem));
  await load();
  const heading = type ? typeName(ctx, type) : category ? categoryName(ctx, category) : "All items";
  return [...header(tenant, "inventory", `Inventory — ${tenant.name}`),
    h("div", { class: "split" },
      h("nav", { class: "facets", "aria-label": "Categories and policy types" },
        h("ul", {}, h("li", {}, h("a", { href: link(keep), "aria-current": !category ? "page" : null }, "All items")), facets)),
      h("section", { class: "items", "aria-labelledby": "items-title" },
        h("h2", { id: "items-title" }, heading, q ? ` matching “${q}”` : ""), search,
        exportButtons(ctx, `/tenants/${tenant.id}/exports/inventory-items`, `inventory-${tenant.id}`, query),
        area, more))];
}

function linkTarget(l) {
  const name = l.target_name || l.target_display_name;
  return name ? [h("strong", {}, name), " ", h("code", { class: "muted" }, l.target_id)] : h("code", {}, l.target_id);
}

function linkProperties(properties) {
  const entries = Object.entries(properties || {}).filter(([, v]) => v !== null && v !== "" && v !== undefined);
  if (!entries.length) return "—";
  return h("ul", { class: "plain" }, entries.map(([k, v]) => h("li", {}, `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`)));
}

export async function itemPage(ctx, tenantId, itemId) {
  const tenant = await ctx.tenant(tenantId);
  await ctx.policyTypes();
  const [item, history] = await Promise.all([ctx.api.get(`/tenants/${tenant.id}/inventory-items/${itemId}`),
    ctx.api.get(`/tenants/${tenant.id}/inventory-items/${itemId}/history?limit=20`)]);
  const field = (k, v) => [h("dt", {}, k), h("dd", {}, v ?? "—")];
  const newest = history.items.find((c) => c.change === "changed");
  const entries = history.items.map((c) => h("details", { class: "history-entry", open: c === newest,
    dataset: { change: c.change, run: c.inventory_sync_run_id } },
    h("summary", {}, kindBadge(c.change), " · ", when(c.recorded_at, true), ` · run ${c.inventory_sync_run_id}`),
    h("p", { class: "in-run" }, h("a", { href: `#/tenants/${tenant.id}/runs/${c.inventory_sync_run_id}` },
      `Run ${c.inventory_sync_run_id}`), " recorded it."),
    changeDetail(c, item.payload)));
  return [...header(tenant, "inventory", item.display_name || item.external_id),
    h("dl", { class: "fields" }, field("Policy type", typeName(ctx, item.policy_type)), field("Category", item.category),
      field("Platform", item.platform), field("Graph id", h("code", {}, item.external_id)),
      field("Assigned", item.assigned ? "yes" : "no"),
      field("First seen", when(item.first_seen_at, true)), field("Last seen", when(item.last_seen_at, true)),
      field("Last changed", when(item.last_changed_at, true)),
      field("Deleted", item.deleted_at ? when(item.deleted_at, true) : "no"), field("Configuration hash", h("code", { class: "hash" }, item.content_hash))),
    h("h2", {}, "History"),
    entries.length ? h("div", { class: "history" }, entries) : h("p", {}, "No change recorded yet."),
    h("h2", {}, "Links"),
    table("What it is assigned to or depends on", ["Link", "Target type", "Target", "Properties"],
      item.links.map((l) => h("tr", {}, cell("td", "Link", {}, l.link_type), cell("td", "Target type", {}, l.target_type),
        cell("td", "Target", {}, linkTarget(l)), cell("td", "Properties", {}, linkProperties(l.properties))))),
    h("details", { class: "raw" }, h("summary", { id: "payload-title" }, "Payload (JSON)"),
      h("pre", { class: "payload", tabindex: 0, "aria-labelledby": "payload-title" }, JSON.stringify(item.payload, null, 2)))];
}

// A terminal sync event shows its run's own outcome in the runs' words (the API's `outcome`); other events
// say whether they succeeded
function auditOutcome(e) {
  const outcome = e.outcome || e.status;
  if (["success", "partial", "failed", "skipped", "aborted", "running"].includes(outcome) && e.action.startsWith("inventory.sync.")
      && e.action !== "inventory.sync.dispatched") return badge(outcome);
  const ok = outcome === "success";
  return h("span", { class: `badge t-${ok ? "ok" : "bad"}`, dataset: { status: outcome } },
    h("span", { "aria-hidden": "true" }, ok ? "✓ " : "✕ "), ok ? "Done" : outcome);
}

const KEY_FIELDS = ["run_id", "inventory_sync_run_id", "bulk_operation_run_id", "changes", "error_codes", "role", "policy_types"];

function auditDetails(e) {
  const m = e.metadata || {};
  const keys = KEY_FIELDS.filter((k) => m[k] !== undefined && m[k] !== null);
  const brief = keys.map((k) => {
    const v = m[k];
    let text = v;
    if (k === "changes" && typeof v === "object") text = Object.entries(v).map(([a, b]) => `${a} ${typeof b === "object" ? JSON.stringify(b) : b}`).join(", ");
    else if (Array.isArray(v)) text = v.length > 4 ? `${v.slice(0, 4).join(", ")} and ${v.length - 4} more` : v.join(", ") || "none";
    else if (typeof v === "object") text = JSON.stringify(v);
    return h("li", {}, `${k.replace(/_/g, " ")}: ${text}`);
  });
  const rest = Object.keys(m).length > keys.length || e.correlation_id;
  return [brief.length ? h("ul", { class: "plain" }, brief) : null,
    rest ? h("details", { class: "raw" }, h("summary", {}, "show details"),
      h("pre", { class: "payload", tabindex: 0 }, JSON.stringify({ ...m, correlation_id: e.correlation_id }, null, 2))) : null];
}

export async function auditPage(ctx, tenantId) {
  const tenant = await ctx.tenant(tenantId);
  const body = h("tbody");
  const more = h("button", { type: "button", class: "more", hidden: true }, "Load more");
  let cursor = null;
  const load = async () => {
    const page = await ctx.api.get(`/tenants/${tenant.id}/audit-logs?limit=50${cursor ? `&cursor=${enc(cursor)}` : ""}`);
    for (const e of page.items) {
      const m = e.metadata || {};
      const runId = m.inventory_sync_run_id || m.run_id;
      body.append(h("tr", { dataset: { action: e.action } }, cell("td", "When", {}, when(e.recorded_at, true)),
        cell("td", "Actor", {}, e.actor_name || e.actor_email || e.actor_type),
        cell("th", "Action", {}, e.action), cell("td", "Resource", {}, runId && e.action.startsWith("inventory.sync.")
          ? h("a", { href: `#/tenants/${tenant.id}/runs/${runId}` }, `Run ${runId}`) : `${e.resource_type} ${e.resource_id}`),
        cell("td", "Outcome", {}, auditOutcome(e)), cell("td", "Details", { class: "details" }, auditDetails(e))));
    }
    if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: 6 }, "Nothing recorded yet.")));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  };
  more.addEventListener("click", () => load().catch(ctx.problem));
  await load();
  return [...header(tenant, "audit", `Audit trail — ${tenant.name}`),
    exportButtons(ctx, `/tenants/${tenant.id}/exports/audit-logs`, `audit-${tenant.id}`, ""),
    h("div", { class: "scroll", tabindex: 0, role: "region", "aria-label": "Audit trail" },
      h("table", { class: "cards" }, h("caption", {}, "Who did what, newest first"),
      h("thead", {}, h("tr", {}, ["When", "Actor", "Action", "Resource", "Outcome", "Details"].map((t) => h("th", { scope: "col" }, t)))),
      body)), more];
}
