"""A TCP relay in front of the Graph stand-in that drops connections: now and then an answer is cut part-way
and its connection closed, as a network that resets connections does. The run_sync workers reach Graph
through it (kept-alive connections too: the cut falls on any chunk of any answer)."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time


class DroppingRelay:
    def __init__(self, upstream_port: int, seed: int, drop_rate: float) -> None:
        self.upstream_port = upstream_port
        self.drop_rate = drop_rate
        self.active = True
        self.drops: list[float] = []  # when each connection was cut (time.time())
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._open: set[socket.socket] = set()
        threading.Thread(target=self._accept, name="graph-relay", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:
            client.close()
            return
        with self._lock:
            self._open.update((client, upstream))
        threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
        self._pump(upstream, client, True)

    def _cut(self, size: int) -> int | None:
        """Where to cut an answer's chunk of `size` bytes, if at all."""
        with self._lock:
            draw, at = self._rng.random(), self._rng.randrange(0, max(1, size))
            if self.active and draw < self.drop_rate:
                self.drops.append(time.time())
                return at
        return None

    def _pump(self, source: socket.socket, sink: socket.socket, answers: bool) -> None:
        try:
            while chunk := source.recv(65536):
                cut = self._cut(len(chunk)) if answers else None
                if cut is not None:
                    sink.sendall(chunk[:cut])
                    break
                sink.sendall(chunk)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
            with self._lock:
                self._open.discard(sock)

    def stop(self) -> None:
        self._server.close()
        with self._lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
