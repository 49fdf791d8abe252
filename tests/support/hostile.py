"""Hostile values for the property and fuzz tests: what an attacker puts where an id, a cursor, a filter or a
body goes. NUL and lone surrogates (PostgreSQL text and UTF-8 refuse them), numbers beyond bigint and double,
nesting deeper than the JSON parser's recursion, and odd Unicode (bidi overrides, combining marks, BOMs)."""

from __future__ import annotations

import base64
import json

from hypothesis import strategies as st

HUGE = ["1e999", "-1e999", str(2**63), str(2**63 - 1), str(2**53), str(10**40), "-1", "0", "1.5", "NaN", "Infinity",
        "0x10", "1_000", "１２", "٣", " 7", "7 ", "+7", "00000000000000000000007"]
NASTY = ["\x00", "a\x00b", "%00", "\ud800", "\udfff", "\ufeff", "\u202e", "\uffff", "\U0010ffff", "e\u0301" * 50,
         "\U0001f600" * 60, "'; DROP TABLE tenants; --", "%", "_", "\\", "..", "../../etc/passwd", "[" * 150,
         "{" * 150, "\r\nX-Injected: 1", "true", "null", "", " "]


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode("utf-8", "surrogatepass")).decode().rstrip("=")


cursors = st.one_of(
    st.sampled_from(HUGE).map(lambda n: _cursor(f'{{"id": {n}}}')),
    st.integers(min_value=-(10**40), max_value=10**40).map(lambda n: _cursor(json.dumps({"id": n}))),
    st.integers(min_value=1, max_value=70).map(lambda n: _cursor("[" * n + "]" * n)),
    st.text(max_size=60).map(_cursor),
)
# values that can travel in a URL (a lone surrogate has no UTF-8 form)
url_text = st.one_of(st.sampled_from([v for v in HUGE + NASTY if "\ud800" not in v and "\udfff" not in v]),
                     st.text(max_size=40), st.integers(min_value=-(10**40), max_value=10**40).map(str))
text = st.one_of(st.sampled_from(HUGE + NASTY), st.text(st.characters(exclude_categories=()), max_size=40),
                 st.integers(min_value=-(10**40), max_value=10**40).map(str), cursors)
ids = st.one_of(st.sampled_from(HUGE + NASTY), st.integers(min_value=2**31, max_value=10**40).map(str))
url_ids = st.one_of(url_text.filter(lambda v: not v.isdigit() or int(v) >= 2**31),
                    st.integers(min_value=2**31, max_value=10**40).map(str))


def _nested(depth: int, opener: str) -> str:
    closer = {"[": "]", "{": "}"}[opener]
    inner = '"a":' if opener == "{" else ""
    return (opener + inner) * depth + "1" + closer * depth


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                          max_size=4),
                           max_leaves=12)
# never a body a route could accept: each one is too deep, or holds a NUL or a lone surrogate somewhere
bodies = st.one_of(
    st.builds(_nested, st.integers(min_value=33, max_value=30_000), st.sampled_from("[{")),
    st.builds(lambda extra, bad, key: json.dumps({**extra, key: bad}),
              st.dictionaries(st.sampled_from(["policy_types", "categories", "name", "subject", "role", "email",
                                               "client_id", "client_secret", "include_foundations", "status"]),
                              json_values, max_size=4),
              st.sampled_from(["\x00", "x\x00", "\ud800", ["mobileApp\x00"], {"k\x00": 1}]),
              st.sampled_from(["policy_types", "name", "subject", "client_secret", "k\x00", "categories"])),
)
