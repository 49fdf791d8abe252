"""Drive the three real handlers the way SQS would: dispatch → RunQueue → run_sync → FinalizeQueue → finalize."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

from tests.support.lambdas import (
    FakeContext,
    claims_for,
    http_event,
    load_function,
    new_environment,
    response_json,
    sqs_event,
)


@dataclass
class Pipeline:
    queues: dict[str, str]
    remaining_ms: int = 900_000
    dispatch_fn: Any = field(default_factory=lambda: load_function("dispatch"))
    run_fn: Any = field(default_factory=lambda: load_function("run_sync"))
    finalize_fn: Any = field(default_factory=lambda: load_function("finalize"))

    def rewire(self, **settings: Any) -> None:
        """New execution environments for the three functions (the environment read again), `settings`
        injected by field name: what a deploy with changed configuration gives."""
        for module in (self.dispatch_fn, self.run_fn, self.finalize_fn):
            new_environment(module, **settings)

    def dispatch(self, tenant_id: int, body: dict | None = None, subject: str = "alice") -> dict[str, Any]:
        response = self.dispatch_fn.lambda_handler(
            http_event("POST", f"/tenants/{tenant_id}/inventory-syncs", body=body or {},
                       claims=claims_for(subject, f"{subject}@contoso.com", subject.title())), FakeContext())
        assert response["statusCode"] == 202, response
        return response_json(response)

    def api(self, method: str, path: str, subject: str = "alice", **kwargs: Any) -> tuple[int, Any]:
        response = self.dispatch_fn.lambda_handler(http_event(method, path, claims=claims_for(subject), **kwargs),
                                                   FakeContext())
        return response["statusCode"], response_json(response)

    def receive(self, queue: str, max_messages: int = 10) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        got = sqs.receive_message(QueueUrl=self.queues[queue], MaxNumberOfMessages=max_messages,
                                  WaitTimeSeconds=0, AttributeNames=["All"]).get("Messages", [])
        return [dict(m) for m in got]

    def _feed(self, queue: str, fn: Any, arn: str) -> list[dict[str, Any]]:
        """Deliver each waiting message as a one-record SQS event; delete it unless reported failed."""
        sqs = boto3.client("sqs")
        results = []
        for message in self.receive(queue):
            event = sqs_event([message["Body"]], queue_arn=arn,
                              receive_count=int(message["Attributes"].get("ApproximateReceiveCount", "1")))
            event["Records"][0]["messageId"] = message["MessageId"]
            out = fn.lambda_handler(event, FakeContext(remaining_ms=self.remaining_ms))
            results.append(out)
            failed = {f["itemIdentifier"] for f in out.get("batchItemFailures", [])}
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=self.queues[queue], ReceiptHandle=message["ReceiptHandle"])
            else:  # make it visible again at once (what the visibility timeout does, later)
                sqs.change_message_visibility(QueueUrl=self.queues[queue], ReceiptHandle=message["ReceiptHandle"],
                                              VisibilityTimeout=0)
        return results

    def run_pending(self) -> list[dict[str, Any]]:
        return self._feed("run", self.run_fn, "arn:aws:sqs:us-east-1:123456789012:RunQueue")

    def finalize_pending(self) -> list[dict[str, Any]]:
        return self._feed("finalize", self.finalize_fn, "arn:aws:sqs:us-east-1:123456789012:FinalizeQueue")

    def dlq_pending(self) -> list[dict[str, Any]]:
        return self._feed("dlq", self.finalize_fn, "arn:aws:sqs:us-east-1:123456789012:RunDLQ")

    def run_all(self, rounds: int = 10) -> None:
        for _ in range(rounds):
            ran = self.run_pending()
            finalized = self.finalize_pending()
            if not ran and not finalized:
                return

    def send_raw(self, queue: str, body: Any) -> None:
        boto3.client("sqs").send_message(QueueUrl=self.queues[queue],
                                         MessageBody=body if isinstance(body, str) else json.dumps(body))
