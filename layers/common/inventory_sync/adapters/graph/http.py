"""One HTTP pool per process (urllib3: thread-safe, keeps connections alive, already in the runtime)."""

import json
from typing import Any, NamedTuple

import orjson
import urllib3

_NO_BODY = frozenset({204, 304})
_POOL = urllib3.PoolManager(num_pools=16, maxsize=32, retries=False, timeout=urllib3.Timeout(connect=5, read=60))


class HttpResponse(NamedTuple):
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
    found = {k.lower(): v for k, v in response.headers.items()}
    framed = (found.get("content-length", "").strip().isdigit()
              or "chunked" in found.get("transfer-encoding", "").lower())
    if response.status not in _NO_BODY and not framed:
        # Graph frames every answer; one without framing (or with "Content-Length:" and no number) had its header
        # block cut with the connection — http.client ends the headers at the break and the body reads empty:
        # a network error, not an answer
        raise urllib3.exceptions.ProtocolError("the connection closed inside the answer's header block")
    return HttpResponse(response.status, found, response.data)
