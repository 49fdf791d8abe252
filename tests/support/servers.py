"""A throwaway TCP server on the host's loopback only, answering each connection with `handle`."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def loopback_server(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """Yields the port; each accepted connection is passed to `handle`, then closed."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return  # shut down below
            with conn:
                handle(conn)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        server.shutdown(socket.SHUT_RDWR)
        server.close()
