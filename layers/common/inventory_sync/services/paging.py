"""Cursor pages of the read routes: ask for `limit + 1` rows, keep `limit`, point the cursor past the last."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from inventory_sync.domain.limits import bounded_id
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


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None

    @classmethod
    def of(cls, rows: list[T], limit: int) -> Page[T]:
        """`rows` as read with `limit + 1`: the extra row only says that there is more."""
        kept = rows[:limit]
        return cls(kept, encode_cursor(kept[-1].id) if len(rows) > limit and kept else None)
