// One run: its counters, its errors each with the next step (and a fresh permission check), and its change
// set (added, changed, deleted, restored), filterable by kind and policy type, each change in words.
import { changeDetail, kindBadge } from "./diff.js";
import { duration, h, replace, when } from "./dom.js";
import { badge, nextStep, typeErrors } from "./status.js";
import { exportButtons, header, typeName } from "./pages.js";

const enc = encodeURIComponent;
const KINDS = ["added", "changed", "deleted", "restored"];

async function permissionCheck(ctx, tenant, out, button) {
  button.disabled = true;
  replace(out, "Checking with Microsoft Graph…");
  try {
    const report = await ctx.api.get(`/tenants/${tenant.id}/permission-check?refresh=true`);
    if (report.token_error) replace(out, h("strong", {}, "The app could not sign in: "), report.token_error);
    else if (report.missing_permissions.length) {
      replace(out, "Still missing: ", report.missing_permissions.map((p, i) => [i ? ", " : "", h("strong", { class: "permission" }, p)]),
        ". Grant them (with admin consent) and check again.");
    } else replace(out, "✓ Every permission the enabled policy types need is granted: the next sync reads them.");
  } catch (err) {
    replace(out, err.status === 403 ? "Only the tenant's owners can run the permission check." : `The check failed: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

function errorsSection(ctx, tenant, run) {
  const types = typeErrors(run);
  const runLevel = (run.error_codes || []).filter((code) => !types.some((t) => t.code === code));
  if (!types.length && !runLevel.length) return null;
  const out = h("p", { class: "check-result", role: "status" });
  const button = h("button", { type: "button", id: "check-permissions" }, "Check permissions again");
  button.addEventListener("click", () => permissionCheck(ctx, tenant, out, button));
  const needsPermission = types.some((t) => t.permission) || runLevel.includes("graph_forbidden");
  return h("section", { class: "errors", "aria-labelledby": "errors-title" },
    h("h2", { id: "errors-title" }, "Errors and what to do"),
    h("ul", {}, runLevel.map((code) => h("li", {}, h("code", {}, code), ": ", nextStep({ code }))),
      types.map((e) => h("li", { dataset: { type: e.key } }, h("strong", {}, typeName(ctx, e.key)), " ",
        h("code", {}, e.code || "error"), ": ", nextStep(e)))),
    needsPermission ? h("div", { class: "actions" }, button, out) : null);
}

function counters(run) {
  const c = run.changes || {};
  const p = run.progress || {};
  const field = (k, v) => [h("dt", {}, k), h("dd", {}, v)];
  return h("dl", { class: "fields" },
    field("Status", badge(run.status)), field("Trigger", run.trigger || "—"),
    field("Started", when(run.started_at, true)), field("Finished", when(run.finished_at)),
    field("Took", duration(run.started_at, run.finished_at)),
    field("Policy types", `${p.types_done ?? "—"} / ${p.types_total ?? "—"} read`),
    field("Items seen", String(run.items_observed_count)), field("Items written", String(run.items_upserted_count)),
    field("Changes", KINDS.map((k) => `${c[k] || 0} ${k}`).join(" · ")),
    run.read_mode ? field("Read mode", run.read_mode) : null);
}

export async function runPage(ctx, tenantId, runId, params) {
  const tenant = await ctx.tenant(tenantId);
  const [run, registry] = await Promise.all([ctx.api.get(`/tenants/${tenant.id}/inventory-syncs/${runId}`), ctx.policyTypes()]);
  const kind = KINDS.includes(params.get("change")) ? params.get("change") : "";
  const type = params.get("type") || "";
  const base = `/tenants/${tenant.id}/inventory-syncs/${run.id}/changes`;
  const query = new URLSearchParams({ limit: "100" });
  if (kind) query.set("change", kind);
  if (type) query.set("policy_type", type);
  const list = h("div", { class: "changes" });
  const more = h("button", { type: "button", class: "more", hidden: true }, "Load more");
  let cursor = null;
  let shown = 0;
  const payloads = new Map(); // item id → its payload (names the settings a patch touches)
  const load = async () => {
    const page = await ctx.api.get(`${base}?${query}${cursor ? `&cursor=${enc(cursor)}` : ""}`);
    await Promise.all(page.items.filter((c) => c.change === "changed" && !payloads.has(c.inventory_item_id)).slice(0, 25)
      .map((c) => ctx.api.get(`/tenants/${tenant.id}/inventory-items/${c.inventory_item_id}`)
        .then((item) => payloads.set(c.inventory_item_id, item.payload)).catch(() => null)));
    for (const c of page.items) {
      shown += 1;
      const detailed = c.change === "changed" || (c.diff && c.diff.length) || (c.links_diff && ((c.links_diff.added || []).length
        || (c.links_diff.removed || []).length));
      list.append(h("article", { class: `change${detailed ? "" : " brief"}`, dataset: { change: c.change, item: c.inventory_item_id } },
        h("h3", {}, kindBadge(c.change), " ", h("a", { href: `#/tenants/${tenant.id}/items/${c.inventory_item_id}` },
          c.display_name || c.external_id), h("span", { class: "muted" }, ` · ${typeName(ctx, c.policy_type)}`)),
        detailed ? changeDetail(c, payloads.get(c.inventory_item_id)) : null));
    }
    if (!shown) list.append(h("p", {}, kind || type ? "No changes of this kind in this run." : "This run changed nothing."));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  };
  more.addEventListener("click", () => load().catch(ctx.problem));
  await load();
  const link = (p) => `#/tenants/${tenant.id}/runs/${run.id}?${new URLSearchParams(p)}`;
  const types = registry.policy_types.filter((t) => (run.selection_payload?.policy_types || []).includes(t.key));
  const filter = h("form", { class: "search", "aria-label": "Filter the change set" },
    h("label", { for: "change-kind" }, "Kind"),
    h("select", { id: "change-kind", name: "change" }, h("option", { value: "" }, "all kinds"),
      KINDS.map((k) => h("option", { value: k, selected: k === kind }, `${k} (${(run.changes || {})[k] || 0})`))),
    h("label", { for: "change-type" }, "Policy type"),
    h("select", { id: "change-type", name: "type" }, h("option", { value: "" }, "all types"),
      (types.length ? types : registry.policy_types).map((t) => h("option", { value: t.key, selected: t.key === type }, typeName(ctx, t.key)))),
    h("button", { type: "submit" }, "Filter"));
  filter.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = {};
    if (filter.elements.change.value) p.change = filter.elements.change.value;
    if (filter.elements.type.value) p.type = filter.elements.type.value;
    location.hash = link(p);
  });
  return [...header(tenant, "runs", `Run ${run.id} — ${tenant.name}`),
    counters(run), errorsSection(ctx, tenant, run),
    h("section", { "aria-labelledby": "changes-title" },
      h("h2", { id: "changes-title" }, "What changed"), filter,
      exportButtons(ctx, `/tenants/${tenant.id}/exports/inventory-syncs/${run.id}/changes`, `run-${run.id}-changes`, query), list, more)];
}
