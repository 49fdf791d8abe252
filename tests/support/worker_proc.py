"""A run_sync worker in its own process (killed with SIGKILL by tests): delivers one RunQueue body."""

from __future__ import annotations

import sys

from tests.support.lambdas import FakeContext, load_function, sqs_event

if __name__ == "__main__":
    body = sys.stdin.read()
    function = load_function("run_sync")
    result = function.lambda_handler(sqs_event([body]), FakeContext(remaining_ms=900_000))
    print(result, flush=True)
