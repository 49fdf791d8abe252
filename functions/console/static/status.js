// One vocabulary for outcomes everywhere (widget, runs, run page, overview, audit trail): a bulk operation's
// status and its run's status name the same outcome with the same symbol and word, never colour alone.
import { h } from "./dom.js";

const OUTCOMES = {
  pending: ["◷", "Pending", "wait"],
  running: ["↻", "Running", "wait"],
  completed: ["✓", "Completed", "ok"],
  success: ["✓", "Completed", "ok"],
  completed_with_errors: ["⚠", "Completed with errors", "warn"],
  partial: ["⚠", "Completed with errors", "warn"],
  failed: ["✕", "Failed", "bad"],
  aborted: ["⊘", "Aborted", "bad"],
  skipped: ["⤼", "Skipped", "warn"],
};

export const TERMINAL = new Set(["completed", "completed_with_errors", "failed", "aborted"]);

export function outcome(status) {
  const [symbol, word, tone] = OUTCOMES[status] || ["•", String(status || "—"), "none"];
  return { symbol, word, tone };
}

export function badge(status) {
  const { symbol, word, tone } = outcome(status);
  return h("span", { class: `badge t-${tone}`, dataset: { status } }, h("span", { "aria-hidden": "true" }, symbol, " "), word);
}

export function label(op) {
  return { "inventory/sync": "Inventory sync" }[`${op.resource}/${op.action}`] || `${op.resource} ${op.action}`;
}

// Per policy type that failed: its error code and, when Graph refused it, the permission to grant.
export function typeErrors(run) {
  const types = (run && run.error_context && run.error_context.types) || {};
  return Object.keys(types).sort().map((key) => ({ key, ...types[key] }));
}

// What an operator does next about an error code (a failed policy type, or the whole run)
const STEPS = {
  graph_forbidden: "grant the app the Graph permission this type needs, then check permissions again",
  graph_auth_failed: "the app's credential was refused: set a new client secret or certificate for this tenant",
  credentials_missing: "no credential is stored for this tenant: set its client secret or certificate",
  graph_throttled: "Graph throttled the reads: the next sync tries again",
  graph_unavailable: "Graph did not answer: the next sync tries again",
  graph_not_found: "Graph does not offer this type in the tenant (licence or region): nothing to do unless you expect it",
  graph_invalid_response: "Graph answered with something unreadable: the next sync tries again",
  tenant_inactive: "the tenant is disabled: an administrator re-enables it",
  lock_held: "another sync of this tenant was running: this one was skipped",
  deadline_exceeded: "the run ran out of time: sync fewer types at once, or try again",
  run_orphaned: "the worker stopped answering: sync again",
  run_crashed: "the worker failed repeatedly: sync again, and see the logs if it repeats",
  cancelled: "someone cancelled it",
};

export function nextStep(error) {
  if (error.permission) {
    return ["grant the app ", h("strong", { class: "permission" }, error.permission), ", then check permissions again"];
  }
  return STEPS[error.code] || "sync again; if it repeats, see the logs for this run";
}
