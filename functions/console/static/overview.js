// The landing page: every tenant the caller sees, with what needs attention (last sync, its changes, missing
// permissions, item count, schedule); sortable, filterable; several selected tenants synced at once (one
// dispatch each, their progress in the widget).
import { cell, h, replace, sortBy, table, when } from "./dom.js";
import { badge, outcome } from "./status.js";

const SYNC_ROLES = new Set(["owner", "operator"]);

export function canSync(tenant) {
  return tenant.role === null || SYNC_ROLES.has(tenant.role); // null: a platform administrator
}

function changeTotal(c) {
  return c ? (c.added || 0) + (c.changed || 0) + (c.deleted || 0) + (c.restored || 0) : null;
}

function needsAttention(t) {
  const s = t.last_run && t.last_run.status;
  return !t.last_run || s === "failed" || s === "partial" || s === "skipped" || (t.missing_permissions || []).length > 0;
}

const FILTERS = {
  all: ["All tenants", () => true],
  attention: ["Needs attention", needsAttention],
  failed: ["Last sync failed", (t) => t.last_run && t.last_run.status === "failed"],
  partial: ["Completed with errors", (t) => t.last_run && t.last_run.status === "partial"],
  never: ["Never synced", (t) => !t.last_run],
};

const VALUES = {
  name: (t) => t.name.toLowerCase(),
  status: (t) => (t.last_run ? outcome(t.last_run.status).word : null),
  last: (t) => (t.last_run ? new Date(t.last_run.finished_at || t.last_run.started_at).getTime() : null),
  changes: (t) => changeTotal(t.last_changes),
  missing: (t) => (t.missing_permissions || []).length,
  items: (t) => (typeof t.item_count === "number" ? t.item_count : null),
  schedule: (t) => (t.scheduled_sync_enabled ? 1 : 0),
};

function changesCell(c) {
  if (!c) return "—";
  const parts = [["added", "+"], ["changed", "~"], ["deleted", "−"], ["restored", "↺"]]
    .filter(([k]) => c[k]).map(([k, s]) => h("span", { class: `chg k-${k}`, title: k }, `${s}${c[k]} ${k}`));
  return parts.length ? h("span", { class: "chgs" }, parts) : "no changes";
}

function row(t, selected, onSelect) {
  const run = t.last_run;
  const missing = t.missing_permissions || [];
  const selectable = canSync(t) && t.status === "active";
  return h("tr", { dataset: { tenant: t.id, status: run ? run.status : "never" } },
    cell("td", "Select", { class: "pick" }, selectable ? h("input", {
      type: "checkbox", "aria-label": `Select ${t.name}`, checked: selected.has(t.id),
      onchange: (ev) => onSelect(t.id, ev.currentTarget.checked) }) : ""),
    cell("th", "Tenant", {}, h("a", { href: `#/tenants/${t.id}` }, t.name),
      t.status !== "active" ? h("span", { class: "muted" }, " (disabled)") : null),
    cell("td", "Last sync", {}, run ? [h("a", { href: `#/tenants/${t.id}/runs/${run.id}` }, badge(run.status)),
      h("br"), when(run.finished_at || run.started_at, true)] : h("span", { class: "muted" }, "never synced")),
    cell("td", "Changes", {}, run ? h("a", { href: `#/tenants/${t.id}/runs/${run.id}` }, changesCell(t.last_changes)) : "—"),
    cell("td", "Missing permissions", { class: "missing" }, missing.length
      ? h("ul", { class: "plain" }, missing.map((p) => h("li", {}, h("strong", { class: "permission" }, p)))) : "none known"),
    cell("td", "Items", { class: "num" }, typeof t.item_count === "number" ? String(t.item_count) : "—"),
    cell("td", "Scheduled sync", {}, t.scheduled_sync_enabled ? "on" : "off"),
    cell("td", "Your role", {}, t.role || "administrator"));
}

export async function overviewPage(ctx) {
  const tenants = [...(await ctx.loadTenants()).values()];
  const state = { sort: { key: "status", desc: false }, filter: "all", q: "" };
  const selected = new Set();
  const area = h("div");
  const result = h("p", { class: "result", role: "status" });
  const syncButton = h("button", { type: "button", id: "sync-selected", disabled: true }, "Sync selected");
  const onSelect = (id, on) => {
    if (on) selected.add(id); else selected.delete(id);
    syncButton.disabled = selected.size === 0;
    syncButton.textContent = selected.size ? `Sync selected (${selected.size})` : "Sync selected";
  };
  const render = () => {
    const [, keep] = FILTERS[state.filter];
    const q = state.q.toLowerCase();
    const shown = sortBy(tenants.filter((t) => keep(t) && (!q || t.name.toLowerCase().includes(q)
      || t.graph_tenant_id.toLowerCase().includes(q))), state.sort.key, state.sort.desc, (t, k) => VALUES[k](t));
    replace(area, table(`${shown.length} of ${tenants.length} tenants`,
      ["Select", "Tenant", "Last sync", "Changes", "Missing permissions", "Items", "Scheduled sync", "Your role"],
      shown.map((t) => row(t, selected, onSelect)),
      { sortable: { keys: [null, "name", "last", "changes", "missing", "items", "schedule", null], current: state.sort,
        onSort: (key) => { state.sort = { key, desc: state.sort.key === key ? !state.sort.desc : false }; render(); } } }));
  };
  syncButton.addEventListener("click", async () => {
    syncButton.disabled = true;
    const chosen = tenants.filter((t) => selected.has(t.id));
    const answers = await Promise.all(chosen.map((t) => ctx.api.post(`/tenants/${t.id}/inventory-syncs`, {})
      .then((a) => { ctx.widget.kick(a.bulk_operation_run.id); return `${t.name}: operation ${a.bulk_operation_run.id}`; })
      .catch((err) => { ctx.problem(err); return `${t.name}: not dispatched (${err.message})`; })));
    result.textContent = `Dispatched ${chosen.length} sync${chosen.length === 1 ? "" : "s"} — ${answers.join("; ")}. `
      + "Progress is shown under Background work.";
    selected.clear();
    onSelect(0, false);
    render();
  });
  const filters = h("form", { class: "search", role: "search", "aria-label": "Filter tenants" },
    h("label", { for: "tenant-q" }, "Name or Entra tenant"),
    h("input", { id: "tenant-q", type: "search", maxlength: 200,
      oninput: (ev) => { state.q = ev.currentTarget.value.trim(); render(); } }),
    h("label", { for: "tenant-filter" }, "Show"),
    h("select", { id: "tenant-filter", onchange: (ev) => { state.filter = ev.currentTarget.value; render(); } },
      Object.entries(FILTERS).map(([value, [text]]) => h("option", { value }, text))));
  filters.addEventListener("submit", (ev) => ev.preventDefault());
  render();
  const attention = tenants.filter(needsAttention).length;
  return [h("h1", {}, "Tenants"),
    h("p", { class: "lead" }, `${tenants.length} tenant${tenants.length === 1 ? "" : "s"}; `,
      attention ? h("strong", {}, `${attention} need${attention === 1 ? "s" : ""} attention`) : "none needs attention",
      " (last sync failed, completed with errors or never ran, or a permission is missing)."),
    filters, h("div", { class: "actions" }, syncButton, result), area];
}
