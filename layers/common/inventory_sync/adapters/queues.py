"""SQS publishing behind a small port, so services can be exercised without AWS.

boto3 is imported when a queue first sends, not when this module loads: finalize never sends, dispatch's
read routes neither, and boto3 costs a few hundred milliseconds of a cold start.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Sequence
from typing import Any, Protocol


class QueueError(RuntimeError):
    """A message could not be enqueued."""


class MessageQueue(Protocol):
    def send(self, body: dict[str, Any]) -> None: ...

    def send_batch(self, bodies: Sequence[dict[str, Any]]) -> list[int]:
        """Send all; return the indexes that still failed after retries."""
        ...


def _aws_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return BotoCoreError, ClientError


class SqsQueue:
    def __init__(self, url: str, client: Any | None = None, *, batch_retries: int = 3) -> None:
        self.url = url
        self._given_client = client
        self._batch_retries = batch_retries

    @functools.cached_property
    def _client(self) -> Any:
        if self._given_client is not None:
            return self._given_client
        import boto3
        from botocore.config import Config

        return boto3.client("sqs", config=Config(retries={"max_attempts": 3, "mode": "standard"},
                                                 connect_timeout=5, read_timeout=10))

    def send(self, body: dict[str, Any]) -> None:
        client, errors = self._client, _aws_errors()
        try:
            client.send_message(QueueUrl=self.url, MessageBody=json.dumps(body, default=str))
        except errors as exc:
            raise QueueError(f"could not enqueue to {self.url.rsplit('/', 1)[-1]}: {type(exc).__name__}") from exc

    def send_batch(self, bodies: Sequence[dict[str, Any]]) -> list[int]:
        client, errors = self._client, _aws_errors()
        failed: list[int] = []
        for start in range(0, len(bodies), 10):
            pending = list(range(start, min(start + 10, len(bodies))))
            for attempt in range(self._batch_retries + 1):
                if attempt:
                    time.sleep(min(0.05 * 2 ** attempt, 1.0))
                try:
                    result = client.send_message_batch(QueueUrl=self.url, Entries=[
                        {"Id": str(i), "MessageBody": json.dumps(bodies[i], default=str)} for i in pending])
                except errors:
                    continue  # the whole call failed: retry every entry
                pending = [int(entry["Id"]) for entry in result.get("Failed", [])]
                if not pending:
                    break
            failed.extend(pending)
        return failed
