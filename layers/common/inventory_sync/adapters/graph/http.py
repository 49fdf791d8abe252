"""One HTTP pool per process (urllib3: thread-safe, keeps connections alive, already in the runtime)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson
import urllib3

_POOL = urllib3.PoolManager(num_pools=16, maxsize=32, retries=False, timeout=urllib3.Timeout(connect=5, read=60))


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    data: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """orjson decodes Graph's pages (the bulk of a sync's CPU before it); what it refuses (integers past
        64 bits) the standard library still reads, and invalid JSON raises ValueError either way."""
        try:
            return orjson.loads(self.data)
        except orjson.JSONDecodeError:
            return json.loads(self.data)


def request(method: str, url: str, *, headers: dict[str, str] | None = None, body: bytes | None = None,
            fields: dict[str, str] | None = None) -> HttpResponse:
    """Raises urllib3.exceptions.HTTPError (connection problems) — the caller decides on retries."""
    if fields is not None:
        response = _POOL.request_encode_body(method, url, fields=fields, headers=headers, encode_multipart=False)
    else:
        response = _POOL.request(method, url, headers=headers, body=body)
    return HttpResponse(response.status, {k.lower(): v for k, v in response.headers.items()}, response.data)
