"""Powertools Logger and Metrics: one instance each per process.

No Powertools Tracer: importing the X-Ray SDK it needs costs ~200 ms of every cold start (measured by
bench/cold_start.py). The functions run with Lambda active tracing (template.yaml), which records each
invocation and its AWS calls' latency without the SDK in the layer."""

from __future__ import annotations

import logging

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="inventory-sync")
metrics = Metrics(namespace="InventorySync", service="inventory-sync")

# botocore and urllib3 log request and response bodies at DEBUG — Secrets Manager values and
# token responses among them. Whatever the root level, they never log below INFO here.
for _name in ("botocore", "boto3", "urllib3", "s3transfer"):
    logging.getLogger(_name).setLevel(logging.INFO)
