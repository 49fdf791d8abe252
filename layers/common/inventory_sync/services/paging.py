"""Cursor pages of the read routes: ask for `limit + 1` rows, keep `limit`, point the cursor past the last."""

import base64
import binascii
import json
from datetime import datetime
from typing import Generic, NamedTuple, Protocol, Self, TypeVar

from inventory_sync.db.items import SORTS, Keyset, sort_value
from inventory_sync.db.rows import InventoryItem
from inventory_sync.domain.limits import bounded_id, storable
from inventory_sync.errors import Unprocessable

MAX_PAGE = 200


class HasId(Protocol):
    @property
    def id(self) -> int: ...


T = TypeVar("T", bound=HasId)


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"id": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id a cursor points past; anything but one this service made (a bounded integer id) is a 422."""
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, RecursionError):  # not base64, not UTF-8, not JSON
        value = None
    last_id = bounded_id(value.get("id")) if isinstance(value, dict) else None
    if last_id is None:
        raise Unprocessable("invalid cursor", errors=[{"field": "cursor", "message": "not a cursor"}])
    return last_id


class Page(NamedTuple, Generic[T]):
    items: list[T]
    next_cursor: str | None

    @classmethod
    def of(cls, rows: list[T], limit: int) -> Self:
        """`rows` as read with `limit + 1`: the extra row only says that there is more."""
        kept = rows[:limit]
        return cls(kept, encode_cursor(kept[-1].id) if len(rows) > limit and kept else None)


def encode_keyset(row: InventoryItem, sort: str, descending: bool) -> str:
    """A sorted list's cursor: the sort it was made for and the last row's (sort value, id). The plain id sort
    keeps the plain cursor."""
    if sort == "id" and not descending:
        return encode_cursor(row.id)
    value = sort_value(row, sort)
    body = {"id": row.id, "sort": sort, "desc": descending,
            "value": value.isoformat() if isinstance(value, datetime) else value}
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


def decode_keyset(cursor: str | None, sort: str, descending: bool) -> Keyset:
    """The keyset a cursor points past; a cursor of another sort or order, or not one this service made, is
    refused (422) before anything reaches the SQL."""
    if not cursor:
        return Keyset(sort, descending)
    if sort == "id" and not descending:
        last_id = decode_cursor(cursor)
        return Keyset(sort, descending, last_id, last_id)
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, RecursionError):  # not base64, not UTF-8, not JSON
        body = None
    if not isinstance(body, dict):
        raise Unprocessable("invalid cursor", errors=[{"field": "cursor", "message": "not a cursor"}])
    last_id = bounded_id(body.get("id"))
    value = _sort_value(body.get("value"), SORTS[sort][1])
    if body.get("sort") != sort or body.get("desc") is not descending or last_id is None or value is None:
        raise Unprocessable("invalid cursor", errors=[
            {"field": "cursor", "message": "not a cursor of this sort and order"}])
    return Keyset(sort, descending, value, last_id)


def _sort_value(value: object, kind: str) -> object:
    """The cursor's value as the SQL will compare it, or None when it cannot be one."""
    if kind == "timestamptz" and isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    if kind == "bigint":
        return bounded_id(value)
    if kind == "text" and isinstance(value, str) and storable(value):
        return value
    return None
