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


def _loaded(function: str) -> set[str]:
    code = (f"import sys, json; sys.path[:0] = [{str(ROOT / 'layers/common')!r}, "
            f"{str(ROOT / 'functions' / function)!r}]\nimport app\nprint(json.dumps(sorted(sys.modules)))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DATABASE_"))}
    env |= {"DATABASE_URL": "postgresql://invsync@127.0.0.1:9/none", "POWERTOOLS_METRICS_NAMESPACE": "Test"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60,
                            cwd="/")
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


@pytest.mark.parametrize("function", sorted(NOT_ALLOWED))
def test_loading_a_function_imports_only_what_its_invocations_use(function: str) -> None:
    loaded = _loaded(function)
    assert "inventory_sync.settings" in loaded or function == "migrate"  # the check looks at the real module
    assert not (NOT_ALLOWED[function] & loaded), sorted(NOT_ALLOWED[function] & loaded)


def _collector_after_load(function: str) -> dict[str, object]:
    code = (f"import gc, sys, json; sys.path[:0] = [{str(ROOT / 'layers/common')!r}, "
            f"{str(ROOT / 'functions' / function)!r}]\nimport app\n"
            "print(json.dumps({'enabled': gc.isenabled(), 'frozen': gc.get_freeze_count(),"
            " 'full_collections': gc.get_stats()[2]['collections']}))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DATABASE_"))}
    env |= {"DATABASE_URL": "postgresql://invsync@127.0.0.1:9/none", "POWERTOOLS_METRICS_NAMESPACE": "Test"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            timeout=60, cwd="/")
    assert result.returncode == 0, result.stderr
    answer: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return answer


@pytest.mark.parametrize("function", ["dispatch", "finalize", "run_sync"])
def test_a_function_loads_without_the_collector_and_leaves_it_on(function: str) -> None:
    """docs/decisions/0013: no collection while the modules load; what they made is frozen; the collector is
    back on for the invocations."""
    after = _collector_after_load(function)
    assert after["enabled"] is True
    assert after["full_collections"] == 0
    assert isinstance(after["frozen"], int) and after["frozen"] > 10_000  # the modules' objects, never walked again


def test_loading_modules_restores_the_collector_as_it_found_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from inventory_sync import coldstart
    from inventory_sync.coldstart import loading_modules

    monkeypatch.setattr(coldstart, "_frozen", False)  # as in a new process
    frozen_before = gc.get_freeze_count()
    try:
        with loading_modules():
            assert not gc.isenabled()
            kept = [object() for _ in range(100)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen_before + len(kept)

        gc.unfreeze()  # a second load in the same process (the local stack, the tests) freezes nothing more
        with loading_modules():
            pass
        assert gc.get_freeze_count() == 0

        monkeypatch.setattr(coldstart, "_frozen", False)
        gc.disable()  # someone else had it off: it stays off
        with loading_modules():
            pass
        assert not gc.isenabled()
        gc.enable()

        gc.unfreeze()
        with pytest.raises(ImportError), loading_modules():  # a failed load freezes nothing
            raise ImportError("no module named nowhere")
        assert gc.isenabled()
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
        gc.enable()
