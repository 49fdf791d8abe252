"""Terminal output shared by the demo and the operator CLI: progress bar, tables, audit trail."""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

TERMINAL = {"completed", "completed_with_errors", "failed", "aborted"}


def progress_line(op: dict[str, Any], width: int = 30) -> str:
    run = op.get("run") or {}
    progress = run.get("progress") or {}
    total = progress.get("types_total") or 0
    done = progress.get("types_done") or 0
    filled = int(width * done / total) if total else (width if op["status"] in TERMINAL else 0)
    bar = "#" * filled + "-" * (width - filled)
    items = progress.get("items_seen", run.get("items_observed_count", 0))
    return f"[{bar}] {done}/{total} types · {items} items · {op['status']}"


def wait_for(get_op: Callable[[], dict[str, Any]], timeout: float = 600, out=sys.stdout) -> dict[str, Any]:
    """Poll the bulk operation, drawing a live progress bar, until it is terminal."""
    deadline = time.monotonic() + timeout
    op = get_op()
    while True:
        line = progress_line(op)
        if out.isatty():
            out.write("\r" + line)
        else:
            out.write(line + "\n")
        out.flush()
        if op["status"] in TERMINAL or time.monotonic() > deadline:
            break
        time.sleep(0.5)
        op = get_op()
    if out.isatty():
        out.write("\n")
    return op


def when(timestamp: str | None) -> str:
    """An API timestamp to the second, with its offset (the API writes UTC: +00:00)."""
    if not timestamp:
        return "-"
    return datetime.fromisoformat(timestamp).isoformat(timespec="seconds")


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join([line, sep, *body])


def summary(op: dict[str, Any], items: list[dict[str, Any]]) -> str:
    run = op.get("run") or {}
    by_type: dict[tuple[str, str], int] = defaultdict(int)
    for item in items:
        by_type[(item.get("category") or "?", item["policy_type"])] += 1
    rows = [[cat, ptype, n] for (cat, ptype), n in sorted(by_type.items())]
    lines = [
        f"Bulk operation {op['id']}: {op['status']}  (processed {op['processed_items']}/{op['total_items']}, "
        f"succeeded {op['succeeded']}, failed {op['failed']}, skipped {op['skipped']})",
        f"Run {run.get('id')}: {run.get('status')}  observed {run.get('items_observed_count')}, "
        f"upserted {run.get('items_upserted_count')}, deleted {run.get('items_deleted_count')}, "
        f"errors {run.get('errors_count')}, error codes {run.get('error_codes') or '-'}",
        "",
        table(["category", "policy type", "items"], rows),
        f"{len(items)} items in the inventory",
    ]
    context = run.get("error_context") or {}
    for key, detail in sorted((context.get("types") or {}).items()):
        hint = f" — grant {detail['permission']}" if detail.get("permission") else ""
        lines.append(f"! {key}: {detail.get('code')} (HTTP {detail.get('status')}){hint}")
    return "\n".join(lines)


def audit_trail(events: list[dict[str, Any]]) -> str:
    """The trail with each event's outcome in the runs' words (a partial run's completed event says partial,
    as the console does), falling back to the row's status for an API without `outcome`."""
    rows = [[when(e["recorded_at"]), e["action"], f"{e['resource_type']}:{e['resource_id']}",
             e.get("actor_email") or e["actor_type"], e.get("outcome") or e["status"]]
            for e in sorted(events, key=lambda e: e["id"])]
    return table(["recorded at", "action", "resource", "actor", "outcome"], rows)


_MARKS = {"added": ("+", "32"), "changed": ("~", "33"), "deleted": ("-", "31"), "restored": ("^", "36")}


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def _value(value: Any, limit: int = 100) -> str:
    import json

    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def change_set(changes: list[dict[str, Any]], color: bool = False) -> str:
    """A run's change set (or an item's history) as a readable diff: one line per item, then each change of its
    configuration (old → new) and each link added or removed."""
    if not changes:
        return "no changes"
    lines = []
    for c in changes:
        mark, code = _MARKS.get(c["change"], ("?", "0"))
        name = c.get("display_name") or c["external_id"]
        head = f"{mark} {c['change']:<8} {c['policy_type']:<34} {name}  (run {c['inventory_sync_run_id']})"
        lines.append(_paint(head, code, color))
        for e in c.get("entries") or []:  # the JSON Patch read as "where: old → new" by the API
            where = f"{e['setting']} ({e['path']})" if e.get("setting") else e["path"]
            old = _value(e["old_value"]) if e["old"] == "value" else "(earlier value not recorded)"
            if e["op"] == "remove":
                lines.append(_paint(f"    - {where}: {old}", "31", color))
            elif e["op"] in ("move", "copy"):
                lines.append(_paint(f"    ~ {where} ({e['op']} from {e['from_path']})", "33", color))
            elif e["op"] == "add":
                lines.append(_paint(f"    + {where} = {_value(e['new_value'])}", "32", color))
            else:
                lines.append(_paint(f"    ~ {where}: {old} → {_value(e['new_value'])}", "33", color))
        links = c.get("links_diff") or {}
        for sign, key, tone in (("+", "added", "32"), ("-", "removed", "31")):
            for link in links.get(key) or []:
                props = {k: v for k, v in (link.get("properties") or {}).items() if k != "target"}
                detail = f" {_value(props, 60)}" if props else ""
                lines.append(_paint(f"    {sign} link {link['link_type']} → {link['target_type']} "
                                    f"{link['target_id'] or ''}{detail}", tone, color))
    counts = {kind: sum(1 for c in changes if c["change"] == kind) for kind in _MARKS}
    lines.append(", ".join(f"{n} {kind}" for kind, n in counts.items()))
    return "\n".join(lines)
