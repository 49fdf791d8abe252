"""Powertools Logger, Metrics and Tracer: one instance each per process."""

from __future__ import annotations

import logging

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="inventory-sync")
metrics = Metrics(namespace="InventorySync", service="inventory-sync")
tracer = Tracer(service="inventory-sync")

# botocore and urllib3 log request and response bodies at DEBUG — Secrets Manager values and
# token responses among them. Whatever the root level, they never log below INFO here.
for _name in ("botocore", "boto3", "urllib3", "s3transfer"):
    logging.getLogger(_name).setLevel(logging.INFO)
