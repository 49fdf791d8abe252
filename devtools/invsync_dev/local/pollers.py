"""SQS pollers that feed the real handlers real SQS-shaped events, like Lambda's event source mapping:
batches, ``batchItemFailures`` honoured (failed messages reappear after the visibility timeout,
and the queue's redrive policy moves them to the DLQ), everything else deleted."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from inventory_sync.observability import logger


def to_record(message: dict[str, Any], arn: str, region: str) -> dict[str, Any]:
    return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
            "attributes": message.get("Attributes", {}), "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody", ""), "eventSource": "aws:sqs", "eventSourceARN": arn,
            "awsRegion": region}


class QueuePoller(threading.Thread):
    def __init__(self, sqs: Any, queue_url: str, arn: str, handler: Callable[[dict[str, Any], Any], Any],
                 context_factory: Callable[[], Any], stop: threading.Event, *, batch_size: int = 1,
                 name: str = "poller") -> None:
        super().__init__(name=name, daemon=True)
        self.sqs, self.queue_url, self.arn, self.handler = sqs, queue_url, arn, handler
        self.context_factory, self.stop, self.batch_size = context_factory, stop, batch_size
        self.region = arn.split(":")[3] if arn.count(":") >= 3 else "us-east-1"
        self.processed = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=self.batch_size,
                                                    WaitTimeSeconds=1, AttributeNames=["All"],
                                                    MessageAttributeNames=["All"]).get("Messages", [])
            except Exception:  # noqa: BLE001 - the emulator is stopping; keep the loop alive until told
                time.sleep(0.5)
                continue
            if not messages:
                continue
            event = {"Records": [to_record(m, self.arn, self.region) for m in messages]}
            try:
                result = self.handler(event, self.context_factory()) or {}
            except Exception:  # noqa: BLE001 - a crashed invocation: every message comes back later
                logger.exception("handler crashed; the batch will be redelivered", extra={"queue": self.name})
                continue
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            for message in messages:
                if message["MessageId"] not in failed:
                    self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                    self.processed += 1


class Timer(threading.Thread):
    """Calls `fn` every `seconds` (the EventBridge schedules, locally)."""

    def __init__(self, seconds: float, fn: Callable[[], Any], stop: threading.Event, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.seconds, self.fn, self.stop = seconds, fn, stop

    def run(self) -> None:
        while not self.stop.wait(self.seconds):
            try:
                self.fn()
            except Exception:  # noqa: BLE001 - a failed tick must not end the schedule
                logger.exception("scheduled call failed", extra={"timer": self.name})
