"""The relay `invsync local up --for-containers` puts in front of the loopback-only stack, without Docker:
a client in a network namespace of its own (``unshare --net``, as a container would be) cannot reach
the host's 127.0.0.1 until the relay listens inside its namespace; then it reaches a real server there,
and a real PostgreSQL through it. Needs root (setns); the Docker side is in tests/e2e."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from invsync_dev.local.container_bridge import NamespaceRelay
from tests.support.servers import loopback_server

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                                reason="needs root and unshare(1) to make a network namespace")

# Runs inside the new namespace: brings its loopback up, then answers commands read from stdin.
CLIENT = textwrap.dedent("""
    import fcntl, socket, struct, sys
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    flags = struct.unpack("16sH", fcntl.ioctl(probe, 0x8913, struct.pack("16sH", b"lo", 0)))[1]
    fcntl.ioctl(probe, 0x8914, struct.pack("16sH", b"lo", flags | 1))
    print("ready", flush=True)
    for line in sys.stdin:
        command, port = line.split()
        try:
            with socket.create_connection(("127.0.0.1", int(port)), timeout=5) as conn:
                conn.sendall(command.encode() + b"\\n")
                conn.shutdown(socket.SHUT_WR)
                reply = b""
                while chunk := conn.recv(65536):
                    reply += chunk
            print("reply", len(reply), reply[:40].decode(errors="replace").strip(), flush=True)
        except OSError as exc:
            print("error", type(exc).__name__, flush=True)
""")


def _shout(conn) -> None:
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    conn.sendall(data.strip().upper() * 50_000)


@pytest.fixture
def echo_server():
    """A loopback-only server that answers each request upper-cased and repeated 50,000 times."""
    with loopback_server(_shout) as port:
        yield port


@pytest.fixture
def namespaced_client():
    process = subprocess.Popen(["unshare", "--net", sys.executable, "-c", CLIENT], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready", process.stderr.read()

    def ask(command: str, port: int) -> str:
        process.stdin.write(f"{command} {port}\n")
        process.stdin.flush()
        return process.stdout.readline().strip()

    ask.namespace = Path(f"/proc/{process.pid}/ns/net")
    yield ask
    process.kill()
    process.wait()


def test_a_client_in_another_namespace_reaches_loopback_only_through_the_relay(echo_server, namespaced_client):
    assert namespaced_client("hello", echo_server) == "error ConnectionRefusedError"  # isolated: no route in
    relay = NamespaceRelay(namespaced_client.namespace, [echo_server]).start()
    try:
        # 250,000 bytes back: more than one buffer each way through the relay
        assert namespaced_client("hello", echo_server) == "reply 250000 HELLOHELLOHELLOHELLOHELLOHELLOHELLOHELLO"
        answers = [namespaced_client(f"n{i}", echo_server) for i in range(5)]
        assert answers == [f"reply {len(f'n{i}') * 50_000} {(f'N{i}' * 20)[:40]}" for i in range(5)]
    finally:
        relay.stop()
    assert namespaced_client("hello", echo_server) == "error ConnectionRefusedError"  # stop() closed it


def test_postgresql_through_the_relay(pg, namespaced_client):
    """The real protocol: psycopg in a namespace of its own, through the relay, to the session's server."""
    port = int(conninfo_to_dict(pg.url_for("postgres"))["port"])
    script = ("import psycopg,sys; c=psycopg.connect(sys.argv[1], connect_timeout=5); "
              "print(c.execute('select current_database(), 6*7').fetchone())")

    def query() -> subprocess.CompletedProcess:
        return subprocess.run(["nsenter", f"--net={namespaced_client.namespace}", sys.executable, "-c", script,
                               f"postgresql://postgres@127.0.0.1:{port}/postgres"],
                              capture_output=True, text=True, timeout=60)

    assert "Connection refused" in query().stderr
    relay = NamespaceRelay(namespaced_client.namespace, [port]).start()
    try:
        result = query()
        assert result.stdout.strip() == "('postgres', 42)", result.stderr
    finally:
        relay.stop()
