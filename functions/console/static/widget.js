// The bottom-right progress widget: the signed-in user's active bulk operations
// (GET /bulk-operations?status=active), polled every 2 s while something runs and backing off to 30 s when
// idle; finished ones stay visible for a while with their outcome. It folds to its title bar, and the page keeps
// room for it (body[data-widget]) so it never covers content.
import { ago, h, replace } from "./dom.js";
import { badge, label, TERMINAL, typeErrors } from "./status.js";

const FAST_MS = 2000;
const IDLE_MAX_MS = 30000;
const LINGER_MS = 60000;

function changeWords(changes) {
  const c = changes || {};
  const parts = ["added", "changed", "deleted", "restored"].filter((k) => c[k]).map((k) => `${c[k]} ${k}`);
  return parts.length ? parts.join(" · ") : "no changes";
}

export class Widget {
  constructor(el, api, tenants, onProblem) {
    this.el = el;
    this.api = api;
    this.tenants = tenants; // () => Map of tenant id -> tenant (with role)
    this.onProblem = onProblem;
    this.ops = new Map(); // id -> detail (active or recently finished)
    this.until = new Map(); // id -> time a finished operation leaves the widget
    this.watch = new Set(); // ids dispatched from this page, followed even if they finish between two polls
    this.delay = FAST_MS;
    this.timer = null;
    this.error = null;
    this.live = h("p", { class: "sr-only", "aria-live": "polite", role: "status" });
    this.list = h("div", { class: "ops", id: "widget-ops" });
    this.count = h("span", { class: "op-count" });
    this.collapsed = sessionStorage.getItem("invsync.widget") === "collapsed";
    this.toggle = h("button", { type: "button", class: "widget-toggle", "aria-controls": "widget-ops",
      onclick: () => { this.collapsed = !this.collapsed; sessionStorage.setItem("invsync.widget", this.collapsed ? "collapsed" : "open"); this.render(); } },
      h("span", { class: "widget-title" }, "Background work"), " ", this.count);
    el.append(h("h2", { class: "widget-head" }, this.toggle), this.list, this.live);
  }

  start() { this.schedule(0); }

  kick(id) {
    if (id) this.watch.add(id);
    this.delay = FAST_MS;
    this.schedule(0);
  }

  schedule(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.poll(), ms);
  }

  async poll() {
    let active = [];
    try {
      const page = await this.api.get("/bulk-operations?status=active&limit=20");
      const ids = new Set([...page.items.map((op) => op.id), ...this.watch]);
      for (const id of this.ops.keys()) if (!TERMINAL.has(this.ops.get(id).status)) ids.add(id);
      const details = await Promise.all([...ids].map((id) => this.api.get(`/bulk-operations/${id}`)
        .catch((err) => (err.status === 404 ? null : Promise.reject(err)))));
      const now = Date.now();
      for (const op of details) {
        if (!op) continue;
        const before = this.ops.get(op.id);
        if (TERMINAL.has(op.status)) {
          this.watch.delete(op.id);
          if (!this.until.has(op.id)) this.until.set(op.id, now + LINGER_MS);
        } else {
          active.push(op);
        }
        if (!before || before.status !== op.status || before.updated_at !== op.updated_at
            || JSON.stringify(before.run && before.run.progress) !== JSON.stringify(op.run && op.run.progress)) {
          document.dispatchEvent(new CustomEvent("invsync:operation", { detail: op }));
        }
        if (before && before.status !== op.status) this.live.textContent = `${label(op)}: ${op.status.replace(/_/g, " ")}`;
        this.ops.set(op.id, op);
      }
      for (const [id, until] of this.until) {
        if (until <= now) { this.ops.delete(id); this.until.delete(id); }
      }
      this.error = null;
    } catch (err) {
      this.error = err;
      active = [];
    }
    this.render();
    if (active.length || this.watch.size) this.delay = FAST_MS;
    else this.delay = Math.min(IDLE_MAX_MS, this.delay * 2);
    const lingering = this.until.size ? Math.min(...this.until.values()) - Date.now() : Infinity;
    this.schedule(Math.max(250, Math.min(this.delay, lingering)));
  }

  async cancel(op, button) {
    button.disabled = true;
    try {
      const after = await this.api.post(`/bulk-operations/${op.id}/cancel`);
      this.ops.set(after.id, after);
      this.kick();
    } catch (err) {
      button.disabled = false;
      this.onProblem(err);
    }
  }

  dismiss(op) {
    this.ops.delete(op.id);
    this.until.delete(op.id);
    this.render();
  }

  render() {
    const tenants = this.tenants();
    const cards = [...this.ops.values()].sort((a, b) => b.id - a.id).map((op) => this.card(op, tenants.get(op.tenant_id)));
    if (this.error) {
      cards.unshift(h("p", { class: "op-error" }, `Progress unavailable: ${this.error.problem?.title || this.error.message}`));
    }
    replace(this.list, cards);
    this.el.hidden = cards.length === 0;
    this.list.hidden = this.collapsed;
    this.toggle.setAttribute("aria-expanded", String(!this.collapsed));
    const running = [...this.ops.values()].filter((op) => !TERMINAL.has(op.status)).length;
    this.count.textContent = `(${running} running, ${this.ops.size - running} finished) ${this.collapsed ? "▸ show" : "▾ hide"}`;
    document.body.dataset.widget = cards.length === 0 ? "hidden" : this.collapsed ? "collapsed" : "open";
  }

  card(op, tenant) {
    const run = op.run || {};
    const progress = run.progress || {};
    const total = progress.types_total || 0;
    const done = progress.types_done || 0;
    const items = progress.items_seen ?? run.items_observed_count ?? 0;
    const role = tenant ? tenant.role : null;
    const mayCancel = !TERMINAL.has(op.status) && (role === null || role === "owner" || role === "operator");
    const errors = typeErrors(run);
    return h("section", { class: "op", dataset: { operation: op.id, status: op.status },
                          "aria-label": `${label(op)} ${tenant ? tenant.name : ""}` },
      h("div", { class: "op-head" },
        h("strong", {}, label(op)), " · ", h("span", { class: "op-tenant" }, tenant ? tenant.name : `tenant ${op.tenant_id}`),
        h("div", { class: "op-when" }, run.id ? `Run ${run.id}` : `Operation ${op.id}`, " · ",
          h("time", { datetime: op.created_at, title: op.created_at }, `started ${new Date(run.started_at || op.created_at)
            .toLocaleTimeString(undefined, { timeStyle: "short" })} (${ago(run.started_at || op.created_at)})`))),
      h("div", { class: "op-status" }, badge(op.status)),
      h("div", { class: "op-progress" },
        h("progress", { max: total || 1, value: total ? done : (TERMINAL.has(op.status) ? 1 : 0),
                        "aria-label": "Policy types done" }),
        h("span", { class: "op-counts" }, `${done} / ${total} types · ${items} items`)),
      TERMINAL.has(op.status) && run.id ? h("p", { class: "op-result" }, changeWords(run.changes),
        (run.error_codes || []).length ? ` · errors: ${run.error_codes.join(", ")}` : "") : null,
      errors.length ? h("ul", { class: "op-errors" }, errors.map((e) => h("li", {},
        h("code", {}, e.key), `: ${e.code || "error"}`,
        e.permission ? [" — grant the app ", h("strong", { class: "permission" }, e.permission)] : ""))) : null,
      h("div", { class: "op-actions" },
        mayCancel ? h("button", { type: "button", class: "cancel", onclick: (ev) => this.cancel(op, ev.currentTarget) },
          "Cancel") : null,
        TERMINAL.has(op.status) ? h("button", { type: "button", class: "dismiss", onclick: () => this.dismiss(op) },
          "Dismiss") : null,
        run.id ? h("a", { href: `#/tenants/${op.tenant_id}/runs/${run.id}` }, `Open run ${run.id}`)
          : h("a", { href: `#/tenants/${op.tenant_id}` }, "Runs")));
  }
}
