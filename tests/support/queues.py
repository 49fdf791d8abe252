"""Read what the functions put on the (moto) queues."""

from __future__ import annotations

import json

import boto3


def drain(queue_url: str, max_messages: int = 100) -> list[dict]:
    """Receive and delete every message on a queue; returns the parsed bodies."""
    sqs = boto3.client("sqs")
    bodies: list[dict] = []
    while len(bodies) < max_messages:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            break
        for message in got:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies
