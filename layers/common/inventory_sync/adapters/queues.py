"""SQS publishing behind a small port, so services can be exercised without AWS."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError


class QueueError(RuntimeError):
    """A message could not be enqueued."""


class MessageQueue(Protocol):
    def send(self, body: dict[str, Any]) -> None: ...

    def send_batch(self, bodies: Sequence[dict[str, Any]]) -> list[int]:
        """Send all; return the indexes that still failed after retries."""
        ...


_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=10)


class SqsQueue:
    def __init__(self, url: str, client: Any | None = None, *, batch_retries: int = 3) -> None:
        self.url = url
        self._client = client or boto3.client("sqs", config=_CONFIG)
        self._batch_retries = batch_retries

    def send(self, body: dict[str, Any]) -> None:
        try:
            self._client.send_message(QueueUrl=self.url, MessageBody=json.dumps(body, default=str))
        except (BotoCoreError, ClientError) as exc:
            raise QueueError(f"could not enqueue to {self.url.rsplit('/', 1)[-1]}: {type(exc).__name__}") from exc

    def send_batch(self, bodies: Sequence[dict[str, Any]]) -> list[int]:
        failed: list[int] = []
        for start in range(0, len(bodies), 10):
            pending = list(range(start, min(start + 10, len(bodies))))
            for attempt in range(self._batch_retries + 1):
                if attempt:
                    time.sleep(min(0.05 * 2 ** attempt, 1.0))
                try:
                    result = self._client.send_message_batch(QueueUrl=self.url, Entries=[
                        {"Id": str(i), "MessageBody": json.dumps(bodies[i], default=str)} for i in pending])
                except (BotoCoreError, ClientError):
                    continue  # the whole call failed: retry every entry
                pending = [int(entry["Id"]) for entry in result.get("Failed", [])]
                if not pending:
                    break
            failed.extend(pending)
        return failed
