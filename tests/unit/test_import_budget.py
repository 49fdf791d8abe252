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
