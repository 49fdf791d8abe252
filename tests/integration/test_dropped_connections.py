"""A connection Graph's answer was cut on (found by the chaos soak): cut inside the header block, http.client
ends the headers at the break and urllib3 reads an unframed, empty body, which looked like a 200 that is not
JSON: the type failed as `graph_invalid_response` instead of being retried as the network error it is."""

from __future__ import annotations

import json
import socket

import pytest

from inventory_sync.adapters.graph.client import GraphClient, RetryPolicy
from inventory_sync.adapters.graph.errors import GraphError
from inventory_sync.domain.error_codes import ErrorCode
from tests.support.servers import loopback_server

BODY = json.dumps({"value": [{"id": "a"}]}).encode()
WHOLE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nrequest-id: r-1\r\n"
         b"Content-Length: " + str(len(BODY)).encode() + b"\r\nConnection: close\r\n\r\n" + BODY)


LENGTH = WHOLE.index(b"Content-Length:") + len(b"Content-Length:")


# in the status line, in a header, just after "Content-Length:" (the header there, its number not), after the
# header block, in the body
@pytest.mark.parametrize("cut", [17, 40, LENGTH, LENGTH + 1, WHOLE.index(b"\r\n\r\n") + 4, len(WHOLE) - 3])
def test_an_answer_cut_anywhere_is_retried_as_a_network_error(cut: int) -> None:
    answers = [WHOLE[:cut], WHOLE]

    def handle(conn: socket.socket) -> None:
        conn.settimeout(2)
        conn.recv(65536)
        conn.sendall(answers.pop(0) if answers else WHOLE)

    with loopback_server(handle) as port:
        client = GraphClient(f"http://127.0.0.1:{port}", lambda force: "token",
                             policy=RetryPolicy(max_attempts=2, base_delay=0.0))
        assert client.request("GET", f"http://127.0.0.1:{port}/beta/x")[0] == {"value": [{"id": "a"}]}
        assert client.stats.retries == 1

        answers[:] = [WHOLE[:cut], WHOLE[:cut]]
        with pytest.raises(GraphError) as failed:
            client.request("GET", f"http://127.0.0.1:{port}/beta/x")
        assert failed.value.code is ErrorCode.GRAPH_UNAVAILABLE, failed.value
