"""What the local stack and the tests both need to run a function as Lambda would: its module loaded from
`functions/<name>/app.py` (a fresh module each time, like a new execution environment) and the context object
handlers read (name, ARN, request id, and a deadline that counts down from the invocation's start)."""

from __future__ import annotations

import importlib.util
import time
import uuid
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[3]
REGION = "us-east-1"
ACCOUNT = "000000000000"


def load_function(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"function_{name}_app", ROOT / "functions" / name / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class LambdaContext:
    """Lambda's context object for one invocation; `remaining_ms` is the function's timeout."""

    def __init__(self, function_name: str = "test-fn", remaining_ms: int = 900_000,
                 memory_limit_in_mb: int = 1024) -> None:
        self.function_name = function_name
        self.memory_limit_in_mb = memory_limit_in_mb
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        """Counts down like Lambda's."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))
