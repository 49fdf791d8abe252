"""What input the service can hold, decided once: ids, text PostgreSQL can store, JSON nesting.

Every id (path, cursor) is a bigint that must also survive JSON (a double) exactly; PostgreSQL text cannot hold
NUL, nor can UTF-8 carry a lone surrogate; and a JSON document nested thousands deep exhausts the parser's
recursion. The API's edge refuses each with a 4xx before anything reads the request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

MAX_ID = 2**53 - 1
MAX_JSON_DEPTH = 32

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def bounded_id(value: object) -> int | None:
    """`value` as an id (a JSON integer in 1..MAX_ID), or None: floats, booleans, `1e999` and `2**63` are not."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID:
        return value
    return None


def storable(text: str) -> bool:
    """PostgreSQL text can hold it: no NUL, no lone surrogate."""
    return _UNSTORABLE.search(text) is None


def all_storable(value: object) -> bool:
    """Every string in a decoded JSON value, keys included, is `storable`."""
    return all(storable(text) for text in _strings(value))


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def json_depth(text: str) -> int:
    """How deep the brackets of a JSON text nest, counted without parsing (so without recursion); brackets
    inside string literals do not count. Malformed text gets a depth too: the parser refuses it afterwards."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    depth = deepest = 0
    for char in brackets:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth = max(depth - 1, 0)
    return deepest
