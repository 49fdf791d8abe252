"""Exports of the inventory, a run's change set and the audit trail, as CSV or JSON, page by page.

API Gateway hands a Lambda's answer over whole (no streaming), and a synchronous Lambda response is at most
6 MB (API Gateway's own limit, 10 MB, is never the binding one). So an export is a series of pages: each
holds as many rows as fit in `MAX_BYTES` of the body as Lambda carries it (JSON-escaped), at most `MAX_ROWS`,
read from the database a batch at a time, and names the cursor of the next page. A client follows the
cursors until there is none; every page of a CSV export repeats the header row. A single change row too large
for a page on its own is exported without its diff (`diff_omitted`: read it from the change-set route).
"""

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, Generic, Literal, NamedTuple, TypeVar

from inventory_sync.db.changes import ItemChange
from inventory_sync.db.items import ItemFilter
from inventory_sync.db.rows import AuditEvent, InventoryItem
from inventory_sync.domain.registry import DISPLAY_NAMES
from inventory_sync.errors import NotFound
from inventory_sync.services.access import READ_ROLES, Identity, member_of
from inventory_sync.services.paging import decode_cursor, decode_keyset, encode_cursor, encode_keyset
from inventory_sync.services.unit_of_work import UnitOfWork

Format = Literal["csv", "json"]
MAX_ROWS = 5_000
MAX_BYTES = 4_500_000  # of the body, escaped as the Lambda response's JSON carries it (6 MB cap, headers apart)
BATCH = 500
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}

R = TypeVar("R")

ITEM_COLUMNS = ("id", "policy_type", "policy_type_name", "category", "display_name", "external_id", "platform",
                "assigned", "first_seen_at", "last_seen_at", "last_changed_at", "deleted_at", "content_hash")
CHANGE_COLUMNS = ("id", "inventory_sync_run_id", "inventory_item_id", "recorded_at", "change", "policy_type",
                  "external_id", "display_name", "previous_hash", "new_hash", "previous_values_recorded", "diff",
                  "links_diff", "diff_omitted")
AUDIT_COLUMNS = ("id", "recorded_at", "action", "outcome", "status", "actor_type", "actor_id", "actor_email",
                 "actor_name", "resource_type", "resource_id", "correlation_id", "metadata")


class ExportPage(NamedTuple):
    body: str
    media_type: str
    filename: str
    rows: int
    total: int
    next_cursor: str | None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _item_record(item: InventoryItem) -> dict[str, Any]:
    return {"id": item.id, "policy_type": item.policy_type,
            "policy_type_name": DISPLAY_NAMES.get(item.policy_type, item.policy_type), "category": item.category,
            "display_name": item.display_name, "external_id": item.external_id, "platform": item.platform,
            "assigned": item.assigned, "first_seen_at": _iso(item.first_seen_at),
            "last_seen_at": _iso(item.last_seen_at), "last_changed_at": _iso(item.last_changed_at),
            "deleted_at": _iso(item.deleted_at), "content_hash": item.content_hash}


def _change_record(change: ItemChange) -> dict[str, Any]:
    return {"id": change.id, "inventory_sync_run_id": change.inventory_sync_run_id,
            "inventory_item_id": change.inventory_item_id, "recorded_at": _iso(change.recorded_at),
            "change": change.change, "policy_type": change.policy_type, "external_id": change.external_id,
            "display_name": change.display_name, "previous_hash": change.previous_hash,
            "new_hash": change.new_hash, "previous_values_recorded": change.previous_values_recorded,
            "diff": change.diff, "links_diff": change.links_diff, "diff_omitted": False}


def _audit_record(event: AuditEvent) -> dict[str, Any]:
    return {"id": event.id, "recorded_at": _iso(event.recorded_at), "action": event.action,
            "outcome": event.outcome, "status": event.status, "actor_type": event.actor_type,
            "actor_id": event.actor_id, "actor_email": event.actor_email, "actor_name": event.actor_name,
            "resource_type": event.resource_type, "resource_id": event.resource_id,
            "correlation_id": event.correlation_id, "metadata": event.metadata}


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """A CSV cell: JSON for structures, `true`/`false`, empty for null; text that a spreadsheet would run as a
    formula is quoted with a leading apostrophe (OWASP's advice on CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    text = str(value)
    return "'" + text if isinstance(value, str) and text.startswith(_FORMULA_START) else text


def _csv_line(values: Iterable[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([_cell(v) for v in values])
    return out.getvalue()


def _cost(part: str) -> int:
    """What `part` adds to the Lambda response: its length once JSON-escaped (quotes, newlines, non-ASCII)."""
    return len(json.dumps(part)) - 2


class Sheet(NamedTuple, Generic[R]):
    """What one export writes of each row: its columns, a row's values, the cursor after a row, the file name,
    and the columns dropped from a row too large for a page on its own."""

    columns: tuple[str, ...]
    record: Callable[[R], dict[str, Any]]
    cursor_of: Callable[[R], str]
    filename: str
    heavy: tuple[str, ...] = ()


def render(rows: Iterable[R], fmt: Format, sheet: Sheet[R], *, total: int, max_rows: int | None = None,
           max_bytes: int | None = None) -> ExportPage:
    """One page: rows until the next would overflow `max_bytes` or `max_rows` are in; the cursor of the last
    row kept when more remain."""
    max_rows = max_rows or MAX_ROWS
    max_bytes = max_bytes or MAX_BYTES
    parts: list[str] = []
    size = 200  # the JSON envelope or the CSV header's share, roughly; the header is counted below
    header = _csv_line(sheet.columns) if fmt == "csv" else ""
    size += _cost(header)
    last: R | None = None
    more = False
    for row in rows:
        if len(parts) == max_rows:
            more = True
            break
        values = sheet.record(row)
        part = _serialise(values, fmt, sheet.columns)
        if sheet.heavy and _cost(part) > max_bytes - size and not parts:
            values |= {k: None for k in sheet.heavy} | {"diff_omitted": True}
            part = _serialise(values, fmt, sheet.columns)
        if size + _cost(part) > max_bytes and parts:
            more = True
            break
        parts.append(part)
        size += _cost(part)
        last = row
    next_cursor = sheet.cursor_of(last) if more and last is not None else None
    if fmt == "csv":
        body = header + "".join(parts)
    else:
        body = ('{"items":[' + ",".join(parts) + "]," + f'"count":{len(parts)},"total":{total},'
                + f'"next_cursor":{json.dumps(next_cursor)}' + "}")
    return ExportPage(body, MEDIA_TYPES[fmt], f"{sheet.filename}.{fmt}", len(parts), total, next_cursor)


def _serialise(values: dict[str, Any], fmt: Format, columns: tuple[str, ...]) -> str:
    if fmt == "csv":
        return _csv_line(values.get(c) for c in columns)
    return json.dumps({c: values.get(c) for c in columns}, separators=(",", ":"), ensure_ascii=False)


def inventory(uow: UnitOfWork, identity: Identity, tenant_id: int, item_filter: ItemFilter, fmt: Format, *,
              sort: str, descending: bool, cursor: str | None) -> ExportPage:
    keyset = decode_keyset(cursor, sort, descending)
    with member_of(uow, identity, tenant_id, READ_ROLES):
        sheet = Sheet(ITEM_COLUMNS, _item_record, lambda row: encode_keyset(row, sort, descending),
                      f"tenant-{tenant_id}-inventory")
        return render(uow.items.stream_for_tenant(tenant_id, item_filter, keyset, BATCH), fmt, sheet,
                      total=uow.items.count_for_tenant(tenant_id, item_filter))


def _pages(read: Callable[[int | None], list[R]], position: Callable[[R], int], start: int | None) -> Iterator[R]:
    """Rows of an id-ordered read, a batch at a time, from the position `start` points past."""
    while True:
        rows = read(start)
        yield from rows
        if len(rows) < BATCH:
            return
        start = position(rows[-1])


def change_set(uow: UnitOfWork, identity: Identity, tenant_id: int, run_id: int, fmt: Format, *,
               change: str | None, policy_type: str | None, cursor: str | None) -> ExportPage:
    after = decode_cursor(cursor)
    with member_of(uow, identity, tenant_id, READ_ROLES):
        run = uow.runs.get(run_id)
        if run is None or run.tenant_id != tenant_id:
            raise NotFound(f"run {run_id} not found")
        rows = _pages(lambda start: uow.changes.list_for_run(tenant_id, run_id, change=change,
                                                             policy_type=policy_type, after_id=start, limit=BATCH),
                      lambda c: c.id, after)
        sheet = Sheet(CHANGE_COLUMNS, _change_record, lambda c: encode_cursor(c.id),
                      f"tenant-{tenant_id}-run-{run_id}-changes", heavy=("diff", "links_diff"))
        return render(rows, fmt, sheet,
                      total=uow.changes.count_for_run(tenant_id, run_id, change=change, policy_type=policy_type))


def audit_trail(uow: UnitOfWork, identity: Identity, tenant_id: int, fmt: Format, *, action: str | None,
                resource_type: str | None, resource_id: str | None, cursor: str | None) -> ExportPage:
    before = decode_cursor(cursor)
    with member_of(uow, identity, tenant_id, READ_ROLES):
        rows = _pages(lambda start: uow.audit.list_for_tenant(tenant_id, action=action, resource_type=resource_type,
                                                              resource_id=resource_id, before_id=start, limit=BATCH),
                      lambda e: e.id, before)
        sheet = Sheet(AUDIT_COLUMNS, _audit_record, lambda e: encode_cursor(e.id), f"tenant-{tenant_id}-audit")
        return render(rows, fmt, sheet, total=uow.audit.count_for_tenant(
            tenant_id, action=action, resource_type=resource_type, resource_id=resource_id))
