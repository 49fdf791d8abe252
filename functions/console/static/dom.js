// Builds elements from data without ever parsing it as HTML (the API's strings are shown as text).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });
const STEPS = [[60, "second"], [60, "minute"], [24, "hour"], [7, "day"], [4.35, "week"], [12, "month"], [Infinity, "year"]];

// "5 min ago" (or "in 2 min") from now
export function ago(iso) {
  let amount = (new Date(iso).getTime() - Date.now()) / 1000;
  for (const [size, unit] of STEPS) {
    if (Math.abs(amount) < size || unit === "year") return relative.format(Math.round(amount), unit);
    amount /= size;
  }
  return "";
}

// Local time with its zone; the exact ISO timestamp on hover; `withAgo` adds "· 5 min ago"
export function when(iso, withAgo = false) {
  if (!iso) return "—";
  const d = new Date(iso);
  const text = d.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
    timeZoneName: "short" });
  return h("time", { datetime: iso, title: iso }, text, withAgo ? h("span", { class: "ago" }, ` · ${ago(iso)}`) : null);
}

// How long a run took, in words ("2 min 5 s")
export function duration(startIso, endIso) {
  if (!startIso || !endIso) return "—";
  let s = Math.max(0, Math.round((new Date(endIso) - new Date(startIso)) / 1000));
  const m = Math.floor(s / 60);
  s -= m * 60;
  return m ? `${m} min ${s} s` : `${s} s`;
}

// A row's cells carry their column's name (data-label): below ~40rem the table shows each row as a card
export function cell(tag, label, attrs, ...children) {
  return h(tag, { ...(attrs || {}), "data-label": label, ...(tag === "th" ? { scope: "row" } : {}) },
    h("div", { class: "cv" }, ...children));
}

export function table(caption, headers, rows, { captionHidden = false, sortable = null } = {}) {
  const head = headers.map((t, i) => {
    const key = sortable && sortable.keys[i];
    if (!key) return h("th", { scope: "col" }, t);
    const active = sortable.current.key === key;
    return h("th", { scope: "col", "aria-sort": active ? (sortable.current.desc ? "descending" : "ascending") : null },
      h("button", { type: "button", class: "sort", onclick: () => sortable.onSort(key) }, t,
        h("span", { "aria-hidden": "true" }, active ? (sortable.current.desc ? " ↓" : " ↑") : " ↕")));
  });
  return h("div", { class: "scroll", tabindex: 0, role: "region", "aria-label": caption },
    h("table", { class: "cards" },
      h("caption", { class: captionHidden ? "sr-only" : null }, caption),
      h("thead", {}, h("tr", {}, head)),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: headers.length }, "Nothing yet.")))));
}

// Rows sorted in the page by a column's value (numbers as numbers, missing values last)
export function sortBy(list, key, desc, value) {
  const sign = desc ? -1 : 1;
  return [...list].sort((a, b) => {
    const x = value(a, key);
    const y = value(b, key);
    if (x === y) return 0;
    if (x === null || x === undefined || x === "") return 1;
    if (y === null || y === undefined || y === "") return -1;
    return (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y))) * sign;
  });
}

// Saves a response body as a file (the API needs the bearer token, so a plain link cannot download it)
export function saveFile(name, blob) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
