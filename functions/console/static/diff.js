// A change record in words: each JSON Patch operation as "where: old → new". The earlier value comes from the
// RFC 6902 `test` operation recorded before a replace or remove; records made before old values were kept say
// so. A path inside a named setting is named by it: the operation's `setting` (the name the payload gave it when
// the change was recorded), else the setting definition found along the path in the current payload.
import { h } from "./dom.js";

const KIND = {
  added: ["+", "Added"], changed: ["~", "Changed"], deleted: ["−", "Deleted"], restored: ["↺", "Restored"],
};

export function kindBadge(kind) {
  const [symbol, word] = KIND[kind] || ["•", kind];
  return h("span", { class: `kind k-${kind}`, dataset: { kind } }, h("span", { "aria-hidden": "true" }, symbol, " "), word);
}

function tokens(path) {
  return String(path || "").split("/").slice(1).map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

// Names the payload carries for setting definition ids (Graph's `settingDefinitions`, when expanded)
function definitionNames(payload) {
  const names = new Map();
  const visit = (value, depth) => {
    if (!value || typeof value !== "object" || depth > 12) return;
    if (Array.isArray(value)) { value.forEach((v) => visit(v, depth + 1)); return; }
    if (Array.isArray(value.settingDefinitions)) {
      for (const d of value.settingDefinitions) if (d && d.id && d.displayName) names.set(d.id, d.displayName);
    }
    for (const v of Object.values(value)) visit(v, depth + 1);
  };
  visit(payload, 0);
  return names;
}

const STRUCTURAL = /^(settingInstance|children|groupSettingCollectionValue|choiceSettingValue|simpleSettingValue|simpleSettingCollectionValue|choiceSettingCollectionValue|groupSettingValue|value|valueJson|settingValueTemplateReference)$/;

// Where a path points, in words: the setting it lies in (by name where the payload has one) and the field
function where(path, payload, names, hint) {
  const parts = tokens(path);
  let node = payload;
  let setting = null;
  let settingDepth = -1;
  parts.forEach((part, i) => {
    if (node && typeof node === "object") {
      if (typeof node.settingDefinitionId === "string") { setting = node.settingDefinitionId; settingDepth = i; }
      else if (typeof node.definitionId === "string") { setting = node.definitionId; settingDepth = i; }
      node = node[Array.isArray(node) ? Number(part) : part];
    } else {
      node = undefined;
    }
  });
  if (node && typeof node === "object" && typeof node.settingDefinitionId === "string") {
    setting = node.settingDefinitionId; settingDepth = parts.length;
  }
  if (hint && hint !== setting) { // the record names the setting (`setting` of the operation): the payload may have moved on
    setting = hint; settingDepth = parts.length;
  }
  if (setting) {
    const rest = parts.slice(settingDepth).filter((p) => !/^[0-9]+$/.test(p) && !STRUCTURAL.test(p));
    const name = names.get(setting);
    return { text: [name ? `${name} (${setting})` : setting, ...rest].join(" › "), setting };
  }
  const words = parts.map((p) => (/^[0-9]+$/.test(p) ? `#${Number(p) + 1}` : p));
  return { text: words.join(" › ") || "(the whole object)", setting: null };
}

function shown(value, setting) {
  if (value === undefined) return "";
  if (typeof value === "string") {
    const text = setting && value.startsWith(`${setting}_`) ? value.slice(setting.length + 1) : value;
    return `“${text}”`;
  }
  const text = JSON.stringify(value);
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
}

// The earlier value of each path: the `test` operation recorded before its replace or remove
function earlier(change) {
  const old = new Map();
  for (const op of change.diff || []) if (op.op === "test") old.set(op.path, op.value);
  return old;
}

// [{where, op, old, new, oldKnown}] for a changed record
export function describe(change, payload) {
  const names = definitionNames(payload);
  const old = earlier(change);
  return (change.diff || []).filter((op) => op.op !== "test").map((op) => {
    const place = where(op.path, payload, names, op.setting);
    const known = old.has(op.path);
    return { where: place.text, op: op.op, oldKnown: known, old: known ? shown(old.get(op.path), place.setting) : "",
             new: shown(op.value, place.setting), from: op.from };
  });
}

function linkWords(linksDiff) {
  if (!linksDiff) return [];
  const out = [];
  const name = (l) => l.target_name || l.name || `${l.target_type || ""} ${l.target_id || ""}`.trim();
  for (const l of linksDiff.added || []) out.push(h("li", {}, `${l.link_type || "link"} added: `, h("strong", {}, name(l))));
  for (const l of linksDiff.removed || []) out.push(h("li", {}, `${l.link_type || "link"} removed: `, h("strong", {}, name(l))));
  return out;
}

// The change in words (a list), and the raw JSON Patch on demand
export function changeDetail(change, payload) {
  const lines = describe(change, payload).map((d) => {
    const id = { class: "where" };
    if (d.op === "replace") {
      return h("li", { class: "diff-line" }, h("span", id, d.where), ": ",
        d.oldKnown ? h("del", {}, d.old) : h("span", { class: "unknown" }, "earlier value not recorded"),
        h("span", { class: "arrow" }, " → "), h("ins", {}, d.new));
    }
    if (d.op === "add") return h("li", { class: "diff-line" }, h("span", id, d.where), ": added ", h("ins", {}, d.new));
    if (d.op === "remove") {
      return h("li", { class: "diff-line" }, h("span", id, d.where), ": removed",
        d.oldKnown ? [" (was ", h("del", {}, d.old), ")"] : h("span", { class: "unknown" }, " (earlier value not recorded)"));
    }
    return h("li", { class: "diff-line" }, h("span", id, d.where), `: ${d.op}`, d.from ? ` from ${d.from}` : "");
  });
  const links = linkWords(change.links_diff);
  const parts = [];
  if (lines.length) parts.push(h("ul", { class: "diff" }, lines));
  if (links.length) parts.push(h("ul", { class: "diff" }, links));
  if (!parts.length) {
    parts.push(h("p", { class: "muted" }, {
      added: "First seen in this run.", deleted: "No longer in the tenant.", restored: "Back in the tenant.",
    }[change.change] || "No configuration difference recorded."));
  }
  if (change.diff && change.diff.length) {
    parts.push(h("details", { class: "raw" }, h("summary", {}, "JSON Patch"),
      h("pre", { class: "payload", tabindex: 0 }, JSON.stringify(change.diff, null, 2))));
  }
  return parts;
}
