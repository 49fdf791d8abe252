"""The Docker side of `invsync local up --for-containers`, without sam: a container on the bridge's
network reaches a loopback-only server by the stack's name, and a failed start leaves nothing behind.
Skipped with the reason where there is no Docker engine, image or root (see test_sam_local)."""

from __future__ import annotations

import os
import subprocess

import pytest

from invsync_dev.local.container_bridge import IMAGE, ContainerBridge, docker_problem
from invsync_dev.local.embedded_pg import free_port
from tests.support.servers import loopback_server as serve_on_loopback

PROBLEM = "needs root (setns)" if os.geteuid() != 0 else docker_problem()
pytestmark = [pytest.mark.docker, pytest.mark.skipif(PROBLEM is not None, reason=f"not run: {PROBLEM}")]


def _ours(kind: str, name: str) -> bool:
    listing = subprocess.run(["docker", kind, "ls", "-a" if kind == "container" else "-q", "--format",
                              "{{.Name}}" if kind == "network" else "{{.Names}}"], capture_output=True, text=True)
    return name in listing.stdout.split()


@pytest.fixture
def loopback_server():
    with serve_on_loopback(lambda conn: conn.sendall(b"from the host's loopback: " + conn.recv(100))) as port:
        yield port


def test_a_container_on_the_network_reaches_loopback_by_name(loopback_server) -> None:
    tag = f"{os.getpid()}-a"
    bridge = ContainerBridge([loopback_server], network=f"invsync-t-{tag}", name=f"invsync-t-stack-{tag}").start()
    try:
        script = ("import socket,sys; c=socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10); "
                  "c.sendall(b'ping'); print(c.recv(100).decode())")
        result = subprocess.run(["docker", "run", "--rm", "--network", bridge.network, "--entrypoint",
                                 "/var/lang/bin/python3", IMAGE, "-c", script, bridge.name, str(loopback_server)],
                                capture_output=True, text=True, timeout=120)
        assert result.stdout.strip() == "from the host's loopback: ping", result.stderr
    finally:
        bridge.stop()
    assert not _ours("container", bridge.name) and not _ours("network", bridge.network)


def test_a_failed_start_leaves_no_container_or_network() -> None:
    tag = f"{os.getpid()}-b"
    port = free_port()
    bridge = ContainerBridge([port, port], network=f"invsync-t-{tag}", name=f"invsync-t-stack-{tag}")
    with pytest.raises(OSError):  # the same port twice inside the namespace
        bridge.start()
    assert not _ours("container", bridge.name) and not _ours("network", bridge.network)
