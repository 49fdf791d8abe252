"""Lets `sam local`'s containers reach the loopback-only local stack.

`sam local invoke` and `start-api` always create their containers on Docker's default bridge and can
only *add* a network (`--docker-network NAME`; `host` is not honoured). So nothing here listens on a
host address: a container named ``invsync-stack`` on an internal Docker network of our own
(``invsync-local``, no route out) holds a network namespace, and relay sockets opened *inside that
namespace* forward each connection to the same port on the host's 127.0.0.1. Functions started with
``--docker-network invsync-local`` then reach PostgreSQL, the AWS emulator and the Graph stand-in as
``invsync-stack:PORT`` (Docker's DNS on that network), and the traffic never leaves containers we made.
"""

from __future__ import annotations

import contextlib
import ctypes
import shutil
import socket
import subprocess
import threading
from pathlib import Path

NETWORK = "invsync-local"
STACK_HOST = "invsync-stack"
IMAGE = "public.ecr.aws/lambda/python:3.12-x86_64"
_CLONE_NEWNET = 0x40000000


def docker_problem(image: str = IMAGE) -> str | None:
    """Why containers cannot be used here, or None when they can."""
    if not shutil.which("docker"):
        return "no docker client on this machine"
    try:
        if subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode != 0:
            return "no Docker engine running (CI keeps none; devtools/sam-local-images.sh starts one)"
        if subprocess.run(["docker", "image", "inspect", image], capture_output=True, timeout=30).returncode != 0:
            return f"image {image} missing (devtools/sam-local-images.sh builds it)"
    except subprocess.TimeoutExpired:
        return "the Docker engine does not answer (docker info took over 30 s)"
    return None


def _docker(*args: str) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"docker {args[0]} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def _relay(inside: socket.socket, outside: socket.socket) -> None:
    """Copies both ways until each side has said it is done, then closes both."""
    remaining = [2]
    lock = threading.Lock()

    def pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            inside.close()
            outside.close()

    for source, sink in ((inside, outside), (outside, inside)):
        threading.Thread(target=pipe, args=(source, sink), daemon=True).start()


class NamespaceRelay:
    """Listens on `ports` inside the network namespace at `namespace` (0.0.0.0 there) and forwards each
    connection to the same port on this process's 127.0.0.1."""

    def __init__(self, namespace: Path, ports: list[int]) -> None:
        self.namespace, self.ports = namespace, ports
        self._listeners: list[socket.socket] = []

    def start(self) -> NamespaceRelay:
        self._listeners = self._listen_in(self.namespace)
        for listener in self._listeners:
            threading.Thread(target=self._accept, args=(listener,), daemon=True,
                             name=f"relay-{listener.getsockname()[1]}").start()
        return self

    def _listen_in(self, namespace: Path) -> list[socket.socket]:
        """A socket keeps the namespace it was made in, and setns(2) moves only the calling thread,
        which ends right after."""
        made: list[socket.socket] = []
        failure: list[BaseException] = []

        def work() -> None:
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                with namespace.open("rb") as handle:
                    if libc.setns(handle.fileno(), _CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), f"setns into {namespace} failed (needs root)")
                for port in self.ports:
                    made.append(socket.create_server(("0.0.0.0", port), backlog=64))  # noqa: S104 - inside only
            except BaseException as exc:  # handed to the caller's thread
                failure.append(exc)

        thread = threading.Thread(target=work, name="relay-setns")
        thread.start()
        thread.join()
        if failure:
            for listener in made:
                listener.close()
            raise failure[0]
        return made

    def _accept(self, listener: socket.socket) -> None:
        port = listener.getsockname()[1]
        while True:
            try:
                inside, _ = listener.accept()
            except OSError:
                return  # stop() shut the listener down
            try:
                outside = socket.create_connection(("127.0.0.1", port), timeout=10)
                outside.settimeout(None)
            except OSError:
                inside.close()
                continue
            _relay(inside, outside)

    def stop(self) -> None:
        for listener in self._listeners:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked on it
            listener.close()


class ContainerBridge:
    """The Docker side: an internal network and a container on it whose namespace the relay listens in."""

    def __init__(self, ports: list[int], *, image: str = IMAGE, network: str = NETWORK,
                 name: str = STACK_HOST) -> None:
        self.ports, self.image, self.network, self.name = ports, image, network, name
        self._relay: NamespaceRelay | None = None
        self._created_network = False

    def start(self) -> ContainerBridge:
        problem = docker_problem(self.image)
        if problem:
            raise RuntimeError(f"cannot serve containers: {problem}")
        if subprocess.run(["docker", "network", "inspect", self.network], capture_output=True).returncode != 0:
            _docker("network", "create", "--internal", "--label", "invsync=local", self.network)
            self._created_network = True
        subprocess.run(["docker", "rm", "-f", self.name], capture_output=True)
        try:
            _docker("run", "-d", "--rm", "--name", self.name, "--network", self.network, "--label",
                    "invsync=local", "--entrypoint", "/bin/sleep", self.image, "infinity")
            pid = int(_docker("inspect", "-f", "{{.State.Pid}}", self.name))
            self._relay = NamespaceRelay(Path(f"/proc/{pid}/ns/net"), self.ports).start()
        except BaseException:
            self.stop()  # leave no container or network of ours behind
            raise
        return self

    def stop(self) -> None:
        if self._relay:
            self._relay.stop()
        subprocess.run(["docker", "rm", "-f", self.name], capture_output=True)
        if self._created_network:  # fails harmlessly while a function container is still attached
            subprocess.run(["docker", "network", "rm", self.network], capture_output=True)
