// The console's pages: tenants, one tenant (Sync now + runs), inventory, an item, the audit trail.
import { h, replace, table, when } from "./dom.js";
import { badge, typeErrors } from "./status.js";

const SYNC_ROLES = new Set(["owner", "operator"]);
const enc = encodeURIComponent;

export function canSync(tenant) {
  return tenant.role === null || SYNC_ROLES.has(tenant.role); // null: a platform administrator
}

function tenantNav(tenant, current) {
  const link = (href, text, key) => h("a", { href, "aria-current": current === key ? "page" : null }, text);
  return h("nav", { class: "tabs", "aria-label": `${tenant.name}` },
    link(`#/tenants/${tenant.id}`, "Sync and runs", "runs"),
    link(`#/tenants/${tenant.id}/inventory`, "Inventory", "inventory"),
    link(`#/tenants/${tenant.id}/audit`, "Audit trail", "audit"));
}

function header(tenant, current, title) {
  return [h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Tenants"), " / ", tenant.name),
    h("h1", {}, title), tenantNav(tenant, current)];
}

export async function tenantsPage(ctx) {
  const tenants = await ctx.loadTenants();
  const rows = [...tenants.values()].map((t) => h("tr", {},
    h("th", { scope: "row" }, h("a", { href: `#/tenants/${t.id}` }, t.name)),
    h("td", {}, t.graph_tenant_id), h("td", {}, t.role || "administrator"),
    h("td", {}, t.status), h("td", {}, t.scheduled_sync_enabled ? "on" : "off")));
  return [h("h1", {}, "Tenants"),
    table("Tenants you belong to", ["Name", "Microsoft Entra tenant", "Your role", "Status", "Scheduled sync"], rows)];
}

function runRow(run) {
  const p = run.progress || {};
  return h("tr", { dataset: { run: run.id, status: run.status } },
    h("th", { scope: "row" }, String(run.id)), h("td", {}, badge(run.status)), h("td", {}, run.trigger || "—"),
    h("td", {}, when(run.started_at)), h("td", {}, when(run.finished_at)),
    h("td", { class: "num" }, `${p.types_done ?? "—"} / ${p.types_total ?? "—"}`),
    h("td", { class: "num" }, String(run.items_observed_count)), h("td", { class: "num" }, String(run.items_upserted_count)),
    h("td", { class: "num" }, String(run.items_deleted_count)),
    h("td", {}, typeErrors(run).map((e) => h("div", {}, h("code", {}, e.key), `: ${e.code || "error"}`,
      e.permission ? ` — grant ${e.permission}` : "")), (run.error_codes || []).length && !typeErrors(run).length
      ? run.error_codes.join(", ") : null));
}

async function runsTable(ctx, tenant) {
  const page = await ctx.api.get(`/tenants/${tenant.id}/inventory-syncs?limit=20`);
  return table("Latest runs", ["Run", "Status", "Trigger", "Started", "Finished", "Types", "Seen", "Upserted",
    "Deleted", "Errors"], page.items.map(runRow));
}

async function syncForm(ctx, tenant) {
  const registry = await ctx.policyTypes();
  const enabled = registry.policy_types.filter((t) => t.enabled);
  const result = h("p", { class: "result", role: "status" });
  const choose = h("fieldset", { class: "choose", hidden: true },
    h("legend", {}, "Categories and policy types"),
    registry.categories.map((category) => {
      const types = enabled.filter((t) => t.category === category);
      if (!types.length) return null;
      return h("div", { class: "category" },
        h("label", { class: "check" }, h("input", { type: "checkbox", name: "category", value: category }), ` ${category} (all)`),
        h("ul", {}, types.map((t) => h("li", {}, h("label", { class: "check" },
          h("input", { type: "checkbox", name: "policy_type", value: t.key }),
          ` ${t.key}`, t.foundation ? " (foundation)" : "")))));
    }));
  const form = h("form", { class: "sync", "aria-labelledby": "sync-title" },
    h("h2", { id: "sync-title" }, "Sync now"),
    h("fieldset", {}, h("legend", {}, "What to read from Microsoft Graph"),
      h("label", { class: "check" }, h("input", { type: "radio", name: "scope", value: "full", checked: true }),
        " Full inventory (every enabled policy type)"),
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
      // a ticked category means all of its types, added to the types ticked one by one (the API's
      // `categories` would instead narrow `policy_types` down)
      const categories = new Set(data.getAll("category"));
      const chosen = new Set([...data.getAll("policy_type"),
        ...enabled.filter((t) => categories.has(t.category)).map((t) => t.key)]);
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
      result.textContent = `Dispatched: bulk operation ${op.id}, ${answer.selection.policy_types.length} policy types`
        + (answer.ignored_policy_types.length ? ` (ignored, disabled here: ${answer.ignored_policy_types.join(", ")})` : "")
        + ". Progress is shown bottom right.";
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

export async function inventoryPage(ctx, tenantId, params) {
  const tenant = await ctx.tenant(tenantId);
  const [registry, summary] = await Promise.all([ctx.policyTypes(), ctx.api.get(`/tenants/${tenant.id}/inventory-summary`)]);
  const counts = new Map(summary.policy_types.map((c) => [c.policy_type, c.items]));
  const category = params.get("category") || "";
  const type = params.get("type") || "";
  const q = params.get("q") || "";
  const link = (p) => `#/tenants/${tenant.id}/inventory?${new URLSearchParams(p)}`;
  const perCategory = registry.categories.map((c) => {
    const types = registry.policy_types.filter((t) => t.category === c);
    const total = types.reduce((n, t) => n + (counts.get(t.key) || 0), 0);
    return h("li", {}, h("a", { href: link({ category: c }), "aria-current": category === c && !type ? "page" : null },
      `${c} (${total})`),
      category === c ? h("ul", {}, types.map((t) => h("li", {}, h("a", {
        href: link({ category: c, type: t.key }), "aria-current": type === t.key ? "page" : null,
      }, `${t.key} (${counts.get(t.key) || 0})`)))) : null);
  });
  const search = h("form", { role: "search", class: "search" },
    h("label", { for: "q" }, "Search by name or Graph id"),
    h("input", { id: "q", name: "q", type: "search", value: q, maxlength: 200 }),
    h("button", { type: "submit" }, "Search"));
  search.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = { ...(category ? { category } : {}), ...(type ? { type } : {}) };
    const value = search.elements.q.value.trim();
    if (value) p.q = value;
    location.hash = link(p);
  });
  const query = new URLSearchParams({ limit: "50" });
  if (type) query.set("policy_type", type); else if (category) query.set("category", category);
  if (q) query.set("q", q);
  const body = h("tbody");
  const more = h("button", { type: "button", class: "more", hidden: true }, "Load more");
  let cursor = null;
  const load = async () => {
    const page = await ctx.api.get(`/tenants/${tenant.id}/inventory-items?${query}${cursor ? `&cursor=${enc(cursor)}` : ""}`);
    for (const item of page.items) {
      body.append(h("tr", {}, h("th", { scope: "row" }, h("a", { href: `#/tenants/${tenant.id}/items/${item.id}` },
        item.display_name || item.external_id)), h("td", {}, item.policy_type), h("td", {}, item.category || "—"),
        h("td", {}, item.platform || "—"), h("td", {}, when(item.last_seen_at))));
    }
    if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: 5 }, "No items match.")));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  };
  more.addEventListener("click", () => load().catch(ctx.problem));
  await load();
  const heading = type || category || "All items";
  return [...header(tenant, "inventory", `Inventory — ${tenant.name}`),
    h("div", { class: "split" },
      h("nav", { class: "facets", "aria-label": "Categories and policy types" },
        h("ul", {}, h("li", {}, h("a", { href: link({}), "aria-current": !category ? "page" : null }, "All items")), perCategory)),
      h("section", { class: "items", "aria-labelledby": "items-title" },
        h("h2", { id: "items-title" }, heading, q ? ` matching “${q}”` : ""), search,
        h("div", { class: "scroll" }, h("table", {}, h("caption", { class: "sr-only" }, heading),
          h("thead", {}, h("tr", {}, ["Name", "Policy type", "Category", "Platform", "Last seen"].map((t) => h("th", { scope: "col" }, t)))),
          body)), more))];
}

export async function itemPage(ctx, tenantId, itemId) {
  const tenant = await ctx.tenant(tenantId);
  const [item, history] = await Promise.all([ctx.api.get(`/tenants/${tenant.id}/inventory-items/${itemId}`),
    ctx.api.get(`/tenants/${tenant.id}/inventory-items/${itemId}/history?limit=20`)]);
  const field = (k, v) => [h("dt", {}, k), h("dd", {}, v ?? "—")];
  return [...header(tenant, "inventory", item.display_name || item.external_id),
    h("dl", { class: "fields" }, field("Policy type", item.policy_type), field("Category", item.category),
      field("Platform", item.platform), field("Graph id", h("code", {}, item.external_id)),
      field("First seen", when(item.first_seen_at)), field("Last seen", when(item.last_seen_at)),
      field("Deleted", item.deleted_at ? when(item.deleted_at) : "no"), field("Configuration hash", h("code", {}, item.content_hash))),
    h("h2", {}, "Links"),
    table("What it is assigned to or depends on", ["Link", "Target type", "Target", "Properties"],
      item.links.map((l) => h("tr", {}, h("td", {}, l.link_type), h("td", {}, l.target_type), h("td", {}, h("code", {}, l.target_id)),
        h("td", {}, h("code", {}, JSON.stringify(l.properties)))))),
    h("h2", {}, "History"),
    table("Recorded changes, newest first", ["When", "Change", "Run"], history.items.map((c) => h("tr", {},
      h("td", {}, when(c.recorded_at)), h("td", {}, c.change), h("td", {}, String(c.inventory_sync_run_id))))),
    h("h2", { id: "payload-title" }, "Payload"),
    h("pre", { class: "payload", tabindex: 0, "aria-labelledby": "payload-title" }, JSON.stringify(item.payload, null, 2))];
}

export async function auditPage(ctx, tenantId) {
  const tenant = await ctx.tenant(tenantId);
  const body = h("tbody");
  const more = h("button", { type: "button", class: "more", hidden: true }, "Load more");
  let cursor = null;
  const load = async () => {
    const page = await ctx.api.get(`/tenants/${tenant.id}/audit-logs?limit=50${cursor ? `&cursor=${enc(cursor)}` : ""}`);
    for (const e of page.items) {
      body.append(h("tr", {}, h("td", {}, when(e.recorded_at)), h("td", {}, e.actor_name || e.actor_email || e.actor_type),
        h("th", { scope: "row" }, e.action), h("td", {}, `${e.resource_type} ${e.resource_id}`), h("td", {}, e.status),
        h("td", {}, h("code", { class: "meta" }, JSON.stringify(e.metadata)))));
    }
    if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: 6 }, "Nothing recorded yet.")));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  };
  more.addEventListener("click", () => load().catch(ctx.problem));
  await load();
  return [...header(tenant, "audit", `Audit trail — ${tenant.name}`),
    h("div", { class: "scroll" }, h("table", {}, h("caption", {}, "Who did what, newest first"),
      h("thead", {}, h("tr", {}, ["When", "Actor", "Action", "Resource", "Status", "Details"].map((t) => h("th", { scope: "col" }, t)))),
      body)), more];
}
