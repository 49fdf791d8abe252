"""The embedded PostgreSQL beside another server on its port (another checkout's `invsync local up`): a port asked
for is named when it is taken; the local stack without one takes another; a running server is found on its port."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from invsync_dev.local import embedded_pg
from invsync_dev.local.embedded_pg import EmbeddedPostgres, PortInUse, free_port


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_a_taken_port_is_named_before_anything_is_created(tmp_path: Path, taken_port: int) -> None:
    server = EmbeddedPostgres(tmp_path / "postgres", port=taken_port)
    with pytest.raises(PortInUse, match=rf"port {taken_port} on 127.0.0.1 is in use \(is `invsync local up` running"):
        server.start()
    assert not server.initialised()


def test_the_local_stack_names_a_port_it_was_given(tmp_path: Path, taken_port: int) -> None:
    from invsync_dev.local.stack import LocalStack

    stack = LocalStack(tmp_path / "data", api_port=free_port(), pg_port=taken_port, pollers=False)
    with pytest.raises(SystemExit, match=rf"port {taken_port} .* in use.*--pg-port"):
        stack.start()


def test_the_local_stack_takes_a_free_port_when_the_default_one_is_taken(
        tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """`make demo` beside another checkout's `invsync local up`, which holds the default port."""
    from invsync_dev.local import stack as stack_module

    monkeypatch.setattr(stack_module, "DEFAULT_PORT", taken_port)
    stack = stack_module.LocalStack(tmp_path / "data", api_port=free_port(), aws_port=free_port(), run_workers=0,
                                    pollers=False, sweep_every=3600).start()
    try:
        assert stack.pg is not None and stack.pg.port != taken_port
        assert embedded_pg.port_free(taken_port) is False  # the other server still has its port
        # a second stack on the same data finds the running server on its port, whatever port it asked for
        again = EmbeddedPostgres(tmp_path / "data" / "postgres", port=free_port())
        assert again.running() and again.port == stack.pg.port
    finally:
        stack.stop()
