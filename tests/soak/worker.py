"""A run_sync worker in its own process, as Lambda's event source mapping runs one: it polls the RunQueue,
hands each message to the real handler and deletes it unless the handler reported it failed (SQS then
delivers it again after the visibility timeout, and moves it to RunDLQ after three receives).

Chaos of its own, drawn from the seed it is given: some messages are sent again (SQS delivers at least
once) and some are made visible again at once while this attempt runs (a visibility timeout that ran out
early). The soak kills these processes with SIGKILL."""

from __future__ import annotations

import contextlib
import os
import random
import sys

import boto3
from botocore.exceptions import ClientError

from invsync_dev.local.pollers import to_record
from tests.support.lambdas import FakeContext, load_function

DUPLICATE = 0.08  # chance a message is delivered twice
EARLY = 0.05  # chance it becomes visible again while this attempt runs
ARN = "arn:aws:sqs:us-east-1:123456789012:RunQueue"


def main() -> None:
    rng = random.Random(int(sys.argv[1]))
    queue = os.environ["RUN_QUEUE_URL"]
    sqs = boto3.client("sqs")
    function = load_function("run_sync")
    while True:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, WaitTimeSeconds=1,
                                       AttributeNames=["All"]).get("Messages", [])
        for message in messages:
            if rng.random() < DUPLICATE:
                sqs.send_message(QueueUrl=queue, MessageBody=message["Body"])
            if rng.random() < EARLY:
                sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"],
                                              VisibilityTimeout=0)
            print("received", message["MessageId"], message["Body"], flush=True)
            result = function.lambda_handler({"Records": [to_record(dict(message), ARN, "us-east-1")]},
                                             FakeContext(remaining_ms=900_000))
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            print("handled", message["MessageId"], "failed" if failed else "ok", flush=True)
            if not failed:
                with contextlib.suppress(ClientError):  # received again meanwhile: that receipt counts now
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


if __name__ == "__main__":
    main()
