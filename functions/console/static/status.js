// Statuses are always shown as a symbol and a word, never by colour alone.
import { h } from "./dom.js";

export const STATUS = {
  pending: ["◷", "Pending"],
  running: ["↻", "Running"],
  completed: ["✓", "Completed"],
  completed_with_errors: ["⚠", "Completed with errors"],
  failed: ["✕", "Failed"],
  aborted: ["⊘", "Aborted"],
  success: ["✓", "Success"],
  partial: ["⚠", "Partial"],
  skipped: ["⤼", "Skipped"],
};

export const TERMINAL = new Set(["completed", "completed_with_errors", "failed", "aborted"]);

export function badge(status) {
  const [symbol, word] = STATUS[status] || ["•", status];
  return h("span", { class: `badge s-${status}`, dataset: { status } },
    h("span", { "aria-hidden": "true" }, symbol, " "), word);
}

export function label(op) {
  return { "inventory/sync": "Inventory sync" }[`${op.resource}/${op.action}`] || `${op.resource} ${op.action}`;
}

// Per policy type that failed: its error code and, when Graph refused it, the permission to grant.
export function typeErrors(run) {
  const types = (run && run.error_context && run.error_context.types) || {};
  return Object.keys(types).sort().map((key) => ({ key, ...types[key] }));
}
