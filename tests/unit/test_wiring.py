"""Wiring without globals: each function's module owns its container, built on first use and reused; tests
inject parts instead of resetting a process-wide registry."""

from __future__ import annotations

from typing import Any

import pytest

from inventory_sync import bootstrap
from inventory_sync.domain.registry import filter_runtime
from inventory_sync.settings import ConfigError, DispatchSettings, RunSyncSettings, load_settings
from tests.support.lambdas import load_function


class Recording:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://127.0.0.1:1/none")
    monkeypatch.setenv("RUN_QUEUE_URL", "https://sqs.example/RunQueue")
    monkeypatch.delenv("FINALIZE_QUEUE_URL", raising=False)


def test_build_uses_what_it_is_given_and_builds_the_rest() -> None:
    queue = Recording()
    registry = filter_runtime(disabled=("mobileApp",))
    settings = load_settings(DispatchSettings, graph_max_pages=3)
    built = bootstrap.build(DispatchSettings, settings=settings, registry=registry, run_queue=queue)
    assert built.settings is settings and built.registry is registry and built.run_queue is queue
    assert built.db.conninfo.startswith("postgresql://127.0.0.1:1/none")  # from the environment
    with pytest.raises(ConfigError, match="FINALIZE_QUEUE_URL is not set"):
        built.finalize_queue  # noqa: B018 - dispatch's settings do not require it; asking says so


def test_build_refuses_a_part_it_does_not_have() -> None:
    with pytest.raises(TypeError, match="run_queues"):
        bootstrap.build(DispatchSettings, run_queues=Recording())


def test_a_function_container_is_built_once_per_environment_and_each_module_has_its_own() -> None:
    container = bootstrap.FunctionContainer("dispatch", DispatchSettings)
    assert container() is container()
    first, second = load_function("dispatch"), load_function("dispatch")
    assert first.container is not second.container  # a new module is a new execution environment
    assert first.container() is not second.container()
    assert isinstance(first.container().settings, DispatchSettings)


def test_a_function_states_what_it_requires_when_its_container_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    run_sync = load_function("run_sync")  # loading wires nothing: init stays cheap and cannot fail on config
    with pytest.raises(ConfigError, match="FINALIZE_QUEUE_URL"):
        run_sync.container()
    monkeypatch.setenv("FINALIZE_QUEUE_URL", "https://sqs.example/FinalizeQueue")
    assert isinstance(run_sync.container().settings, RunSyncSettings)
