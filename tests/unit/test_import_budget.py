"""What each function may import when Lambda loads it (its cold start): nothing an invocation may not use.

boto3 loads when an AWS call is first made (finalize makes none when its database credentials come from
DATABASE_URL; dispatch only when it sends or writes a secret); the Graph client only in run_sync (and in
dispatch's permission-check route, when it is called); jsonpatch only where a diff is computed; the
`cryptography` package only for certificate credentials. `python -X importtime` shows the rest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NEVER_AT_LOAD = {"boto3", "botocore.client", "s3transfer", "jsonpatch", "cryptography", "jwt"}
NOT_ALLOWED = {
    "dispatch": NEVER_AT_LOAD | {"inventory_sync.adapters.graph.client", "inventory_sync.services.engine"},
    "finalize": NEVER_AT_LOAD | {"inventory_sync.adapters.graph.client", "inventory_sync.services.engine",
                                 "aws_lambda_powertools.event_handler.api_gateway"},
    "run_sync": NEVER_AT_LOAD | {"aws_lambda_powertools.event_handler.api_gateway"},
    "migrate": NEVER_AT_LOAD | {"inventory_sync.adapters.graph.client"},
}


def _after_load(function: str, report: str, before: str = "") -> object:
    """Load the function's module in a fresh interpreter (run `before` first); `report` is an expression whose
    value, as JSON, is returned."""
    code = (f"import gc, sys, json; sys.path[:0] = [{str(ROOT / 'layers/common')!r}, "
            f"{str(ROOT / 'functions' / function)!r}]\n{before}\nimport app\nprint(json.dumps({report}))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DATABASE_"))}
    env |= {"DATABASE_URL": "postgresql://invsync@127.0.0.1:9/none", "POWERTOOLS_METRICS_NAMESPACE": "Test"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60,
                            cwd="/")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def _loaded(function: str) -> set[str]:
    loaded = _after_load(function, "sorted(sys.modules)")
    assert isinstance(loaded, list)
    return set(loaded)


@pytest.mark.parametrize("function", sorted(NOT_ALLOWED))
def test_loading_a_function_imports_only_what_its_invocations_use(function: str) -> None:
    loaded = _loaded(function)
    assert "inventory_sync.settings" in loaded or function == "migrate"  # the check looks at the real module
    assert not (NOT_ALLOWED[function] & loaded), sorted(NOT_ALLOWED[function] & loaded)


def _collector_after_load(function: str) -> dict[str, object]:
    """Load the function in a fresh interpreter, counting the collections (of any generation) that run while
    its modules load: inside its loading_modules() block (before it, Python compiles app.py itself, which
    Lambda does on every cold start: a collection may run then)."""
    answer = _after_load(
        function, "{'enabled': gc.isenabled(), 'frozen': gc.get_freeze_count(), 'collections': runs}",
        before="from inventory_sync import coldstart\nruns = []\n"
               "gc.callbacks.append(lambda phase, info: phase == 'start' and coldstart._depth > 0"
               " and runs.append(info['generation']))")
    assert isinstance(answer, dict)
    return answer


@pytest.mark.parametrize("function", ["dispatch", "finalize", "run_sync"])
def test_a_function_loads_without_the_collector_and_leaves_it_on(function: str) -> None:
    """docs/decisions/0013: no collection while the modules load (with the collector on, over a hundred run
    while dispatch loads); what they made is frozen; the collector is back on for the invocations."""
    after = _collector_after_load(function)
    assert after["enabled"] is True
    assert after["collections"] == []
    assert isinstance(after["frozen"], int) and after["frozen"] > 10_000  # the modules' objects, never walked again


def test_loading_modules_restores_the_collector_as_it_found_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from inventory_sync import coldstart
    from inventory_sync.coldstart import loading_modules

    monkeypatch.setattr(coldstart, "_frozen", False)  # as in a new process
    gc.unfreeze()
    try:
        with loading_modules():
            assert not gc.isenabled()
            kept: list[list[int]] = [[] for _ in range(100)]  # objects the collector tracks
            with loading_modules():  # a load inside a load: only the outermost block freezes
                assert not gc.isenabled()
            assert gc.get_freeze_count() == 0 and not gc.isenabled()
            later: list[list[int]] = [[] for _ in range(100)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(kept) + len(later)

        gc.unfreeze()  # a second load in the same process (the local stack, the tests) freezes nothing more
        with loading_modules():
            made_again: list[list[int]] = [[] for _ in range(100)]
        assert gc.get_freeze_count() == 0
        del made_again

        monkeypatch.setattr(coldstart, "_frozen", False)
        gc.disable()  # someone else had it off: it stays off
        with loading_modules():
            assert not gc.isenabled()
        assert not gc.isenabled()
        gc.enable()

        gc.unfreeze()
        monkeypatch.setattr(coldstart, "_frozen", False)
        with pytest.raises(ImportError), loading_modules():  # a failed load freezes nothing
            raise ImportError("no module named nowhere")
        assert gc.isenabled()
        assert gc.get_freeze_count() == 0
        assert coldstart._frozen is False and coldstart._depth == 0  # the next load may still freeze
    finally:
        gc.unfreeze()
        gc.enable()


def test_every_immutable_record_of_the_package_is_a_named_tuple() -> None:
    """docs/decisions/0014: on Python 3.12 a frozen dataclass compiles six methods when its module loads (about
    0.5 ms a class, paid by the cold start of every function that loads it, at import or on first use). An
    immutable record is a named tuple unless it hides a field from its repr (a named tuple's repr shows every
    field) or compares by identity (a named tuple compares by value). Every module of the package is loaded."""
    import dataclasses
    import importlib
    import pkgutil

    import inventory_sync

    modules = [importlib.import_module(info.name)
               for info in pkgutil.walk_packages(inventory_sync.__path__, "inventory_sync.")]
    assert len(modules) > 60
    frozen = {f"{c.__module__}.{c.__qualname__}": [f.name for f in dataclasses.fields(c) if not f.repr]
              or not c.__dataclass_params__.eq  # type: ignore[attr-defined]
              for m in modules for c in vars(m).values()
              if isinstance(c, type) and c.__module__ == m.__name__ and "__dataclass_params__" in vars(c)
              and c.__dataclass_params__.frozen}  # type: ignore[attr-defined]
    assert frozen  # the credentials and the item writer's identity keys remain
    assert all(frozen.values()), sorted(name for name, reason in frozen.items() if not reason)
